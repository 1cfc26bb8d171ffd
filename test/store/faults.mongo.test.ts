/**
 * MongoStore when MongoDB goes away: a Mongo wire server started by this test on a free port, stopped (cleanly,
 * keeping its data like a restarted mongod, or killed) and started again. Always this test's own server, also when
 * MONGO_URL is set: a shared server cannot be stopped.
 */
import path from 'node:path';
import { MongoStore } from '../../lib/store/MongoStore';
import { MongoWireServer, freePort } from '../setup/processes';
import { APP, tempDir } from '../helpers';
import { FAST_TIMEOUTS, faultSuite } from './faults';

const temp = tempDir('wechat-mongo-faults-');
afterAll(() => temp.cleanup());
let servers = 0;

faultSuite('MongoStore', APP, {
  server: async () => new MongoWireServer(await freePort(), path.join(temp.dir, `data-${servers++}.json`)),
  store: (url, { now, suite }) =>
    new MongoStore({
      dbAddress: url,
      dbOptions: { dbName: suite, serverMonitoringMode: 'poll' },
      noInterval: true,
      now,
      ...FAST_TIMEOUTS,
    }),
});
