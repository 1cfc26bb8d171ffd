/**
 * RedisStore when Redis goes away: a redis-server started by this test on a free port, stopped and started again.
 * Once with the store's own client (a URL), once with an ioredis client of the app, which queues commands while
 * offline by default: the store must still fail fast instead of waiting in that queue.
 */
import IORedis from 'ioredis';
import { RedisStore } from '../../lib/store/RedisStore';
import { RedisServer, freePort } from '../setup/processes';
import { APP, APP2 } from '../helpers';
import { FAST_TIMEOUTS, faultSuite } from './faults';

faultSuite('RedisStore with a URL', APP, {
  server: async () => new RedisServer(await freePort()),
  store: (url, { now, suite }) => new RedisStore({ url, prefix: `${suite}:`, noInterval: true, now, ...FAST_TIMEOUTS }),
});

const clients: IORedis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

faultSuite('RedisStore with an ioredis client', APP2, {
  server: async () => new RedisServer(await freePort()),
  store: (url, { now, suite }) => {
    // The app's own client, with its defaults (offline queue on); quick retries keep the test's cleanup short.
    const client = new IORedis(url, { retryStrategy: (attempt) => Math.min(attempt * 50, 200) });
    client.on('error', () => undefined);
    clients.push(client);
    return new RedisStore(client, { prefix: `${suite}:`, noInterval: true, now, ...FAST_TIMEOUTS });
  },
});
