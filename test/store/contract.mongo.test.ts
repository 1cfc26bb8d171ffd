/**
 * The store contract against the Mongo wire server of the test run (or the real MongoDB at MONGO_URL), with the
 * store's own connection and with a mongoose Connection passed in.
 */
import mongoose from 'mongoose';
import { MongoStore } from '../../lib/store/MongoStore';
import { storeContract } from '../store-contract';
import { mongoDbName, mongoOptions, mongoUrl } from './support';

let backends = 0;
const shared = { persistent: true, sharedRecords: true, sharedLock: true, newestWins: true };
const connections: mongoose.Connection[] = [];

afterAll(async () => {
  for (const conn of connections) await conn.close();
});

storeContract('MongoStore with its own connection', {
  ...shared,
  backend: () => {
    const dbName = mongoDbName(`contract_${backends++}`);
    return {
      create: ({ now }) =>
        new MongoStore({ dbAddress: mongoUrl(), dbOptions: mongoOptions(dbName), noInterval: true, now }),
    };
  },
});

storeContract('MongoStore with a mongoose Connection', {
  ...shared,
  backend: async () => {
    const conn = await mongoose
      .createConnection(mongoUrl(), { dbName: mongoDbName(`contract_${backends++}`) })
      .asPromise();
    connections.push(conn);
    return { create: ({ now }) => new MongoStore(conn, { noInterval: true, now }) };
  },
});
