/**
 * MongoStore beyond the contract: the wechat-jssdk options, calls made before the connection is ready (wechat-jssdk
 * issue #44), the preload `limit`, the indexes, whose connection destroy() closes, and a Wechat signing through it.
 * Runs against the Mongo wire server of the test run, or the real MongoDB at MONGO_URL; what only a real server
 * does (unique-index violations, TTL deletion) is tested only with MONGO_URL.
 */
import mongoose from 'mongoose';
import { ConfigError, StoreError } from '../../lib/errors';
import { MongoStore, type MongoStoreOptions } from '../../lib/store/MongoStore';
import type { Sandbox } from '../../lib/sandbox';
import { APP, HOUR, sandboxWith, wechatOn } from '../helpers';
import { ManualClock, eventually, mongoDbName, mongoOptions, mongoUrl, realMongo } from './support';

let sandbox: Sandbox;
let dbs = 0;
const stores: MongoStore[] = [];
const connections: mongoose.Connection[] = [];
const nextDb = () => mongoDbName(`mongo_${dbs++}`);

function open(options: MongoStoreOptions = {}, appId = APP.appId): MongoStore {
  const store = new MongoStore({
    dbAddress: mongoUrl(),
    dbOptions: mongoOptions(nextDb()),
    noInterval: true,
    ...options,
  });
  stores.push(store);
  store.bindAppId(appId);
  return store;
}

async function connect(dbName: string): Promise<mongoose.Connection> {
  const conn = await mongoose.createConnection(mongoUrl(), mongoOptions(dbName)).asPromise();
  connections.push(conn);
  return conn;
}

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.destroy();
});

afterAll(async () => {
  for (const conn of connections) await conn.close();
  await sandbox.close();
});

// A real server that needs credentials cannot be reached without dbAddress.
const plainAddress = !new URL(process.env.WECHAT_TEST_MONGO_URL ?? 'mongodb://x').username;

(plainAddress ? test : test.skip)('dbHost, dbPort and dbName build the address (wechat-jssdk options)', async () => {
  const { hostname, port } = new URL(mongoUrl());
  const dbName = nextDb();
  const store = new MongoStore({
    dbHost: hostname,
    dbPort: Number(port || 27017),
    dbName,
    dbOptions: mongoOptions(),
    noInterval: true,
  });
  stores.push(store);
  store.bindAppId(APP.appId);
  expect(store.dbAddress).toBe(`mongodb://${hostname}:${port || 27017}/${dbName}`);
  await store.updateGlobalToken({
    accessToken: 'AT',
    accessTokenExpiresAt: Date.now() + HOUR,
    accessTokenFetchedAt: Date.now(),
  });
  const conn = await connect(dbName);
  expect(await conn.db!.collection('GlobalToken').findOne({ appId: APP.appId })).toMatchObject({
    appId: APP.appId,
    f: { accessToken: 'AT' },
  });
});

test('calls made before the connection is ready wait for it instead of failing (wechat-jssdk #44)', async () => {
  const store = open();
  expect(store.connection?.readyState ?? 0).not.toBe(1);
  const now = Date.now();
  const results = await Promise.all([
    store.getGlobalToken(),
    store.updateGlobalToken({ accessToken: 'early', accessTokenExpiresAt: now + HOUR, accessTokenFetchedAt: now }),
    store.saveOAuthAccessToken('openid-early', { access_token: 'UAT' }),
    store.getCardTicket(),
  ]);
  expect(results[1].accessToken).toBe('early');
  expect((await store.getOAuthAccessToken('openid-early'))?.access_token).toBe('UAT');
});

test('limit: the most recent signatures and OAuth tokens are preloaded at start', async () => {
  const dbName = nextDb();
  const clock = new ManualClock();
  const first = open({ dbOptions: mongoOptions(dbName), now: clock.now });
  for (let i = 0; i < 12; i++) {
    const url = `https://app.example.com/p${i}`;
    await first.saveSignature(url, {
      nonceStr: 'n',
      timestamp: '1',
      url,
      signature: `s${i}`,
      expiresAt: clock.now() + HOUR,
    });
    await first.flush();
    await first.saveOAuthAccessToken(`openid-${i}`, { access_token: `UAT-${i}` });
    // updatedAt has millisecond resolution: keep the order unambiguous.
    await new Promise((r) => setTimeout(r, 3));
  }
  await first.destroy();
  const second = open({ dbOptions: mongoOptions(dbName), now: clock.now, limit: 5 });
  await second.getGlobalToken(); // waits for the connection, and so for the preload
  expect(Object.keys(second.store.urls).sort()).toEqual(
    [7, 8, 9, 10, 11].map((i) => `https://app.example.com/p${i}`).sort(),
  );
  expect(Object.keys(second.store.oauth).sort()).toEqual([7, 8, 9, 10, 11].map((i) => `openid-${i}`).sort());
  // The others stay in the database.
  const conn = await connect(dbName);
  expect(await conn.db!.collection('Signature').countDocuments({ appId: APP.appId })).toBe(12);
});

test('collections keyed by appId, with unique and TTL indexes', async () => {
  const dbName = nextDb();
  const store = open({ dbOptions: mongoOptions(dbName) });
  await store.getGlobalToken();
  const conn = await connect(dbName);
  const indexes = async (name: string) =>
    (await conn.db!.collection(name).indexes()).map((i) => ({
      key: i.key,
      unique: !!i.unique,
      ttl: i.expireAfterSeconds,
    }));
  expect(await indexes('GlobalToken')).toContainEqual({ key: { appId: 1 }, unique: true, ttl: undefined });
  expect(await indexes('CardTicket')).toContainEqual({ key: { appId: 1 }, unique: true, ttl: undefined });
  for (const [name, keyField] of [
    ['Signature', 'url'],
    ['OAuthToken', 'key'],
    ['MPSession', 'key'],
    ['Lock', 'name'],
  ]) {
    expect(await indexes(name)).toContainEqual({ key: { appId: 1, [keyField]: 1 }, unique: true, ttl: undefined });
    expect(await indexes(name)).toContainEqual({ key: { expireAt: 1 }, unique: false, ttl: 0 });
  }
});

test('destroy() closes the connection it opened, never one passed in', async () => {
  const own = open();
  await own.getGlobalToken();
  const opened = own.connection!;
  expect(opened.readyState).toBe(1);
  await own.destroy();
  expect(opened.readyState).not.toBe(1);

  const conn = await connect(nextDb());
  const passed = new MongoStore(conn, { noInterval: true });
  passed.bindAppId(APP.appId);
  await passed.updateGlobalToken({ count: 0 });
  await passed.destroy();
  expect(conn.readyState).toBe(1);
  expect(await conn.db!.collection('GlobalToken').countDocuments({ appId: APP.appId })).toBe(1);
});

test('bad options are ConfigErrors naming the option; use after destroy is a StoreError', async () => {
  expect(() => new MongoStore({ dbAddress: 'http://nope' })).toThrow(ConfigError);
  expect(() => new MongoStore({ dbAddress: 'http://nope' })).toThrow(/dbAddress/);
  expect(() => new MongoStore({ dbAddress: mongoUrl(), limit: -1 })).toThrow(/limit/);
  const store = open();
  await store.destroy();
  await expect(store.getGlobalToken()).rejects.toThrow(StoreError);
});

test('a Wechat on MongoStore signs pages; a second instance adopts token and ticket', async () => {
  const dbName = nextDb();
  const newStore = () =>
    new MongoStore({
      dbAddress: mongoUrl(),
      dbOptions: mongoOptions(dbName),
      noInterval: true,
      now: () => sandbox.now(),
    });
  const tokenCalls = sandbox.calls('/cgi-bin/stable_token');
  const ticketCalls = sandbox.calls('/cgi-bin/ticket/getticket');
  const one = wechatOn(sandbox, { store: newStore() });
  const two = wechatOn(sandbox, { store: newStore() });
  try {
    await one.jssdk.getSignature('https://app.example.com/m');
    await two.jssdk.getSignature('https://app.example.com/m');
    expect(sandbox.calls('/cgi-bin/stable_token') - tokenCalls).toBe(1);
    expect(sandbox.calls('/cgi-bin/ticket/getticket') - ticketCalls).toBe(1);
    expect(two.credentials.accessToken.peek()).toBeUndefined(); // two never needed the token: it adopted the ticket
    expect(two.credentials.jsapiTicket.peek()).toBe(one.credentials.jsapiTicket.peek());
  } finally {
    await one.close();
    await two.close();
  }
});

const realOnly = realMongo ? test : test.skip;
const WHY = realMongo
  ? ''
  : ' [skipped: needs a real MongoDB (set MONGO_URL); the in-memory wire server enforces neither unique indexes nor TTL]';

realOnly(`a second GlobalToken document for one appId is refused by the unique index${WHY}`, async () => {
  const dbName = nextDb();
  const store = open({ dbOptions: mongoOptions(dbName) });
  await store.updateGlobalToken({ count: 0 });
  const conn = await connect(dbName);
  await expect(conn.db!.collection('GlobalToken').insertOne({ appId: APP.appId })).rejects.toMatchObject({
    code: 11000,
  });
});

realOnly(
  `expired signatures are deleted by the server's TTL monitor${WHY}`,
  async () => {
    const dbName = nextDb();
    const store = open({ dbOptions: mongoOptions(dbName) });
    const url = 'https://app.example.com/ttl';
    await store.saveSignature(url, {
      nonceStr: 'n',
      timestamp: '1',
      url,
      signature: 's',
      expiresAt: Date.now() + 1_000,
    });
    await store.flush();
    const conn = await connect(dbName);
    const signatures = conn.db!.collection('Signature');
    expect(await signatures.countDocuments({ appId: APP.appId })).toBe(1);
    // MongoDB's TTL monitor runs every 60 s.
    await eventually(
      async () => (await signatures.countDocuments({ appId: APP.appId })) === 0,
      150_000,
      'the TTL monitor',
    );
  },
  180_000,
);
