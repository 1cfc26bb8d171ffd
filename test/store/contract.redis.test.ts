/**
 * The store contract against the real Redis of the test run, through each way of giving RedisStore a connection:
 * a node-redis client, an ioredis client (both owned by the test), and a URL (the store's own client).
 */
import IORedis from 'ioredis';
import { createClient } from 'redis';
import { RedisStore } from '../../lib/store/RedisStore';
import { storeContract } from '../store-contract';
import { redisPrefix, redisUrl } from './support';

let backends = 0;
const nextPrefix = (driver: string) => redisPrefix(`contract-${driver}-${backends++}`);
const shared = { persistent: true, sharedRecords: true, sharedLock: true, newestWins: true };

let nodeRedis: ReturnType<typeof createClient>;
let ioredis: IORedis;

beforeAll(async () => {
  nodeRedis = createClient({ url: redisUrl() });
  nodeRedis.on('error', () => undefined);
  await nodeRedis.connect();
  ioredis = new IORedis(redisUrl());
});

afterAll(async () => {
  await nodeRedis.close();
  await ioredis.quit();
});

storeContract('RedisStore with a node-redis client', {
  ...shared,
  backend: () => {
    const prefix = nextPrefix('node');
    return { create: ({ now }) => new RedisStore(nodeRedis, { prefix, noInterval: true, now }) };
  },
});

storeContract('RedisStore with an ioredis client', {
  ...shared,
  backend: () => {
    const prefix = nextPrefix('io');
    return { create: ({ now }) => new RedisStore({ client: ioredis, prefix, noInterval: true, now }) };
  },
});

storeContract('RedisStore with a URL', {
  ...shared,
  backend: () => {
    const prefix = nextPrefix('url');
    return { create: ({ now }) => new RedisStore({ url: redisUrl(), prefix, noInterval: true, now }) };
  },
});
