/**
 * RedisStore beyond the contract, against the real Redis of the test run: the key layout and expiries, what the
 * signing hot path sends to Redis (nothing when warm, never KEYS), whose client destroy() closes, and a Wechat
 * signing through it on the sandbox.
 */
import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { createClient } from 'redis';
import { ConfigError, StoreError } from '../../lib/errors';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { RedisStore } from '../../lib/store/RedisStore';
import type { Sandbox } from '../../lib/sandbox';
import { APP, APP2, HOUR, sandboxWith, wechatOn } from '../helpers';
import { ManualClock, redisKeys, redisPrefix, redisUrl } from './support';

let sandbox: Sandbox;
let client: ReturnType<typeof createClient>;
let suites = 0;
const stores: RedisStore[] = [];
const prefix = () => redisPrefix(`redis-${suites++}`);

function open(options: ConstructorParameters<typeof RedisStore>[0] = {}, appId = APP.appId): RedisStore {
  const store = new RedisStore({ url: redisUrl(), noInterval: true, ...(options as object) });
  stores.push(store);
  store.bindAppId(appId);
  return store;
}

beforeAll(async () => {
  sandbox = await sandboxWith(APP, APP2);
  client = createClient({ url: redisUrl(), RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.destroy();
});

afterAll(async () => {
  await client.close();
  await sandbox.close();
});

test('keys are wechat:{appId}:... under the prefix, with PX expiries taken from the records', async () => {
  const p = prefix();
  const clock = new ManualClock();
  const store = open({ prefix: p, now: clock.now });
  const now = clock.now();
  const url = 'https://app.example.com/page';
  await store.updateGlobalToken({ accessToken: 'AT', accessTokenExpiresAt: now + 2 * HOUR, accessTokenFetchedAt: now });
  await store.updateCardTicket({ ticket: 'CT', expiresAt: now + 2 * HOUR, fetchedAt: now });
  await store.saveSignature(url, { nonceStr: 'n', timestamp: '1', url, signature: 's', expiresAt: now + HOUR });
  await store.saveOAuthAccessToken('openid-1', { access_token: 'UAT', refreshTokenExpiresAt: now + 10 * HOUR });
  await store.setMPSession('session-1', { openid: 'o', session_key: 'SK' });
  const lease = await store.lock('refresh:access_token', 30_000);
  // Signatures are written behind: nothing in Redis until the flush.
  expect(await client.exists(`${p}${APP.appId}:sig:${url}`)).toBe(0);
  await store.flush();

  const base = `${p}${APP.appId}:`;
  expect(await redisKeys(p)).toEqual(
    [
      `${base}card`,
      `${base}global`,
      `${base}lock:refresh:access_token`,
      `${base}mp:session-1`,
      `${base}oauth:openid-1`,
      `${base}sig:${url}`,
      `${base}sigs`,
    ].sort(),
  );
  expect(await client.type(`${base}global`)).toBe('hash');
  expect(await client.hGet(`${base}global`, 'accessToken')).toBe('"AT"');
  const ttl = async (key: string) => Number(await client.pTTL(key));
  expect(await ttl(`${base}global`)).toBe(-1);
  const sigTtl = await ttl(`${base}sig:${url}`);
  expect(sigTtl).toBeGreaterThan(0);
  expect(sigTtl).toBeLessThanOrEqual(HOUR);
  const oauthTtl = await ttl(`${base}oauth:openid-1`);
  expect(oauthTtl).toBeGreaterThan(HOUR);
  expect(oauthTtl).toBeLessThanOrEqual(10 * HOUR);
  expect(await ttl(`${base}mp:session-1`)).toBeGreaterThan(10 * HOUR);
  // The index of signed URLs (for the preload of a starting process) lives as long as its newest entry.
  expect(await client.zRange(`${base}sigs`, 0, -1)).toEqual([url]);
  expect(await ttl(`${base}sigs`)).toBeGreaterThan(0);
  const lockTtl = await ttl(`${base}lock:refresh:access_token`);
  expect(lockTtl).toBeGreaterThan(0);
  expect(lockTtl).toBeLessThanOrEqual(30_000);
  await lease!.release();
  expect(await client.exists(`${base}lock:refresh:access_token`)).toBe(0);

  // clearStore removes this app's keys only.
  const other = open({ prefix: p }, APP2.appId);
  await other.updateGlobalToken({ accessToken: 'AT2', accessTokenExpiresAt: now + HOUR, accessTokenFetchedAt: now });
  await store.clearStore();
  expect(await redisKeys(p)).toEqual([`${p}${APP2.appId}:global`]);
});

test('a warm getSignature sends nothing to Redis, and no path sends KEYS', async () => {
  const p = prefix();
  const monitor = createClient({ url: redisUrl(), RESP: 2 });
  monitor.on('error', () => undefined);
  await monitor.connect();
  const seen: string[] = [];
  // MONITOR sees every client of the server: keep the commands that touch our keys.
  await monitor.monitor((line: string) => {
    if (line.includes(p)) seen.push(line);
  });
  try {
    const store = new RedisStore({ url: redisUrl(), prefix: p, noInterval: true, now: () => sandbox.now() });
    const wx = wechatOn(sandbox, { store });
    try {
      const url = `https://app.example.com/warm-${randomBytes(4).toString('hex')}`;
      await wx.jssdk.getSignature(url);
      await store.flush();
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.length).toBeGreaterThan(0);
      const cold = seen.length;
      for (let i = 0; i < 50; i++) await wx.jssdk.getSignature(url);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.slice(cold)).toEqual([]);
      expect(seen.filter((line) => /"(keys|scan)"/i.test(line))).toEqual([]);
    } finally {
      await wx.close();
    }
  } finally {
    await monitor.close();
  }
});

test('destroy() closes the client it created, never one passed in', async () => {
  const name = `wjt-${randomBytes(4).toString('hex')}`;
  const owned = open({ prefix: prefix(), clientOptions: { name } });
  await owned.getGlobalToken();
  const listed = async () => String(await client.sendCommand(['CLIENT', 'LIST'])).includes(`name=${name}`);
  expect(await listed()).toBe(true);
  await owned.destroy();
  expect(await listed()).toBe(false);

  const mine = createClient({ url: redisUrl() });
  mine.on('error', () => undefined);
  await mine.connect();
  const io = new IORedis(redisUrl());
  try {
    for (const passed of [
      new RedisStore(mine, { prefix: prefix() }),
      new RedisStore({ client: io, prefix: prefix() }),
    ]) {
      passed.bindAppId(APP.appId);
      await passed.updateGlobalToken({ count: 0 });
      await passed.destroy();
    }
    expect(await mine.ping()).toBe('PONG');
    expect(await io.ping()).toBe('PONG');
  } finally {
    await mine.close();
    await io.quit();
  }
});

test('calls made before the connection is ready wait for it', async () => {
  const store = open({ prefix: prefix() });
  // No await between construction and the first calls: the client is still being created.
  const [written, read] = await Promise.all([
    store.updateGlobalToken({
      accessToken: 'early',
      accessTokenExpiresAt: Date.now() + HOUR,
      accessTokenFetchedAt: Date.now(),
    }),
    store.getOAuthAccessToken('nobody'),
  ]);
  expect(written.accessToken).toBe('early');
  expect(read).toBeUndefined();
});

test('bad options are ConfigErrors naming the option; use after destroy is a StoreError', async () => {
  expect(() => new RedisStore({})).toThrow(ConfigError);
  expect(() => new RedisStore({})).toThrow(/url/);
  expect(() => new RedisStore({ client: {} as never })).toThrow(/node-redis client .* or an ioredis client/);
  const store = open({ prefix: prefix() });
  await store.destroy();
  await expect(store.getGlobalToken()).rejects.toThrow(StoreError);
  const unbound = new RedisStore({ url: redisUrl(), noInterval: true });
  stores.push(unbound);
  await expect(unbound.getGlobalToken()).rejects.toThrow(/bindAppId/);
});

test('a Wechat on RedisStore signs pages, and a second instance adopts its token and ticket', async () => {
  const p = prefix();
  const newStore = () => new RedisStore({ url: redisUrl(), prefix: p, noInterval: true, now: () => sandbox.now() });
  const tokenCalls = sandbox.calls('/cgi-bin/stable_token');
  const ticketCalls = sandbox.calls('/cgi-bin/ticket/getticket');
  const one = wechatOn(sandbox, { store: newStore() });
  const two = wechatOn(sandbox, { store: newStore() });
  try {
    const url = 'https://app.example.com/signed?x=1';
    const first = await one.jssdk.getSignature(url);
    const second = await two.jssdk.getSignature(url);
    const live = sandbox.liveTickets(APP.appId);
    for (const sig of [first, second]) {
      const valid = live.some(
        (ticket) =>
          signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }) === sig.signature,
      );
      expect(valid).toBe(true);
    }
    expect(sandbox.calls('/cgi-bin/stable_token') - tokenCalls).toBe(1);
    expect(sandbox.calls('/cgi-bin/ticket/getticket') - ticketCalls).toBe(1);
    expect(two.credentials.jsapiTicket.peek()).toBe(one.credentials.jsapiTicket.peek());
  } finally {
    await one.close();
    await two.close();
  }
});

test('limit: a starting store loads the most recent signatures from the index, never by scanning keys', async () => {
  const p = prefix();
  const clock = new ManualClock();
  const first = open({ prefix: p, now: clock.now });
  for (let i = 0; i < 12; i++) {
    const url = `https://app.example.com/p${i}`;
    // Later signatures expire later (they were made with a later ticket), which orders the index.
    await first.saveSignature(url, {
      nonceStr: 'n',
      timestamp: '1',
      url,
      signature: `s${i}`,
      expiresAt: clock.now() + HOUR + i * 1_000,
    });
  }
  await first.flush();
  const expired = 'https://app.example.com/expired';
  await first.saveSignature(expired, {
    nonceStr: 'n',
    timestamp: '1',
    url: expired,
    signature: 'old',
    expiresAt: clock.now() + 50,
  });
  await first.flush();
  await first.destroy();
  await new Promise((r) => setTimeout(r, 60));
  const second = open({ prefix: p, now: clock.now, limit: 5 });
  await second.getGlobalToken(); // the first call that reaches Redis loads them
  expect(Object.keys(second.store.urls).sort()).toEqual(
    [7, 8, 9, 10, 11].map((i) => `https://app.example.com/p${i}`).sort(),
  );
  expect(await client.zScore(`${p}${APP.appId}:sigs`, expired)).toBeNull();
});
