/**
 * MongoDB for the test run. No mongod binary can be installed on this project's machines, so by default the Mongo
 * wire-protocol server CongoDB (from @push.rocks/smartmongo 2.2.0, in memory) runs in a child process on a free
 * port. With MONGO_URL set, the same suites run against that real MongoDB instead, in databases named
 * `wjt_test_<run>_...` that are dropped at the end (no other database is touched); tests that need what only a real
 * server does (unique-index violations, TTL deletion) run only then.
 *
 * Tests read WECHAT_TEST_MONGO_URL, WECHAT_TEST_MONGO_DB (a prefix for database names) and WECHAT_TEST_MONGO_REAL.
 */
import { MongoWireServer } from './processes';

let started: MongoWireServer | undefined;

export const mongoService = {
  async start(): Promise<void> {
    process.env.WECHAT_TEST_MONGO_DB = `wjt_test_${process.pid}_${Date.now().toString(36)}`;
    if (process.env.MONGO_URL) {
      process.env.WECHAT_TEST_MONGO_URL = process.env.MONGO_URL;
      process.env.WECHAT_TEST_MONGO_REAL = '1';
      return;
    }
    started = await MongoWireServer.start();
    process.env.WECHAT_TEST_MONGO_URL = started.url;
    process.env.WECHAT_TEST_MONGO_REAL = '';
  },

  async stop(): Promise<void> {
    if (started) {
      await started.stop();
      started = undefined;
      return;
    }
    const url = process.env.WECHAT_TEST_MONGO_URL;
    const prefix = process.env.WECHAT_TEST_MONGO_DB;
    if (!url || !prefix || !process.env.WECHAT_TEST_MONGO_REAL) return;
    const mongoose = await import('mongoose');
    const conn = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5_000 }).asPromise();
    try {
      const { databases } = await conn.db!.admin().listDatabases({ nameOnly: true });
      for (const { name } of databases) if (name.startsWith(prefix)) await conn.getClient().db(name).dropDatabase();
    } finally {
      await conn.close();
    }
  },
};
