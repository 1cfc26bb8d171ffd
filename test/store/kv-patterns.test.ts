/**
 * The documented KeyValueStore patterns, working for real: a Miro-style per-request store over the user's session
 * in an express app, a `{ get, set, delete }` wrapper around a Redis client, an object without `delete`
 * (`set(key, undefined)` removes), and one that keeps strings.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createClient } from 'redis';
import { KeyValueStore, type KeyValueLike } from '../../lib/store/KeyValueStore';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox } from '../../lib/sandbox';
import { APP, HOUR, sandboxWith, wechatOn } from '../helpers';
import { redisPrefix, redisUrl } from './support';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';

let sandbox: Sandbox;
let redis: ReturnType<typeof createClient>;

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
  redis = createClient({ url: redisUrl() });
  redis.on('error', () => undefined);
  await redis.connect();
});

afterAll(async () => {
  await redis.close();
  await sandbox.close();
});

function validSignature(sig: { nonceStr: string; timestamp: string; signature: string }, url: string): boolean {
  return sandbox
    .liveTickets(APP.appId)
    .some(
      (ticket) => signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }) === sig.signature,
    );
}

describe('Miro-style per-request store on the session', () => {
  type Session = { state?: unknown; visits?: number };
  let server: Server;
  let base: string;
  // The session store of the app: serialized between requests, like express-session or cookie-session do.
  const sessions = new Map<string, string>();

  beforeAll(async () => {
    const app = express();
    app.get('/sign', async (req, res) => {
      const sid = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? Math.random().toString(36).slice(2);
      const session: Session = JSON.parse(sessions.get(sid) ?? '{}');
      // The pattern under test: the store reads and writes the state kept in this request's session.
      const store = new KeyValueStore(
        {
          get: () => session.state,
          set: (_key: string, state: unknown) => {
            session.state = state;
          },
        },
        { noInterval: true, now: () => sandbox.now() },
      );
      const wx = wechatOn(sandbox, { store });
      try {
        const signature = await wx.jssdk.getSignature(String(req.query.url));
        session.visits = (session.visits ?? 0) + 1;
        res.setHeader('set-cookie', `sid=${sid}`);
        res.json(signature);
      } catch (err) {
        res.status(500).json({ error: (err as Error).message });
      } finally {
        await wx.close();
        sessions.set(sid, JSON.stringify(session));
      }
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function sign(url: string, cookie?: string) {
    const res = await fetch(`${base}/sign?url=${encodeURIComponent(url)}`, { headers: cookie ? { cookie } : {} });
    expect(res.status).toBe(200);
    return {
      cookie: res.headers.get('set-cookie')!.split(';')[0],
      body: (await res.json()) as { nonceStr: string; timestamp: string; signature: string },
    };
  }

  test('a session keeps the token and ticket between requests; another session has its own', async () => {
    const calls = () => [sandbox.calls(TOKEN), sandbox.calls(TICKET)];
    const [token0, ticket0] = calls();
    const first = await sign('https://app.example.com/a');
    expect(validSignature(first.body, 'https://app.example.com/a')).toBe(true);
    expect(calls()).toEqual([token0 + 1, ticket0 + 1]);

    // Same session, a new Wechat and a new store: everything comes from the session, nothing from WeChat.
    const second = await sign('https://app.example.com/b', first.cookie);
    expect(validSignature(second.body, 'https://app.example.com/b')).toBe(true);
    expect(calls()).toEqual([token0 + 1, ticket0 + 1]);

    const stored = JSON.parse(sessions.get(first.cookie.slice(4))!) as {
      state: { appId: string; globalToken: Record<string, unknown> };
      visits: number;
    };
    expect(stored.visits).toBe(2);
    expect(stored.state.appId).toBe(APP.appId);
    expect(stored.state.globalToken.jsapi_ticket).toEqual(expect.any(String));

    const other = await sign('https://app.example.com/a');
    expect(other.cookie).not.toBe(first.cookie);
    expect(calls()).toEqual([token0 + 2, ticket0 + 2]);
  });
});

describe('a { get, set, delete } wrapper around a Redis client', () => {
  const prefix = redisPrefix('kv-wrapper');
  const wrapper: KeyValueLike = {
    get: async (key) => {
      const text = await redis.get(key);
      return text === null ? undefined : JSON.parse(text);
    },
    set: (key, value) => redis.set(key, JSON.stringify(value)),
    delete: (key) => redis.del(key),
  };
  const open = () => new KeyValueStore(wrapper, { prefix, noInterval: true, now: () => sandbox.now() });

  test('two Wechat instances on it fetch the token and the ticket once; clearStore deletes the key', async () => {
    const [token0, ticket0] = [sandbox.calls(TOKEN), sandbox.calls(TICKET)];
    const one = wechatOn(sandbox, { store: open() });
    const two = wechatOn(sandbox, { store: open() });
    try {
      const a = await one.jssdk.getSignature('https://app.example.com/r');
      const b = await two.jssdk.getSignature('https://app.example.com/r');
      expect(validSignature(a, 'https://app.example.com/r') && validSignature(b, 'https://app.example.com/r')).toBe(
        true,
      );
      expect([sandbox.calls(TOKEN) - token0, sandbox.calls(TICKET) - ticket0]).toEqual([1, 1]);
      const key = `${prefix}${APP.appId}`;
      expect(JSON.parse((await redis.get(key))!)).toMatchObject({
        appId: APP.appId,
        globalToken: { jsapi_ticket: one.credentials.jsapiTicket.peek() },
      });
      await two.store.clearStore();
      expect(await redis.exists(key)).toBe(0);
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('objects without delete, and objects that keep strings', () => {
  test('set(key, undefined) removes the record', async () => {
    const map = new Map<string, unknown>();
    const kv = {
      get: (key: string) => map.get(key),
      set: (key: string, value: unknown) => (value === undefined ? map.delete(key) : map.set(key, value)),
    };
    const store = new KeyValueStore(kv, { noInterval: true });
    store.bindAppId(APP.appId);
    await store.saveOAuthAccessToken('openid-1', { access_token: 'UAT' });
    expect([...map.keys()]).toEqual([`wechat:${APP.appId}`]);
    await store.clearStore();
    expect(map.size).toBe(0);
    await store.destroy();
  });

  test('a value kept as a JSON string is read back', async () => {
    const map = new Map<string, string>();
    const kv = {
      get: async (key: string) => map.get(key),
      set: async (key: string, value: unknown) => void map.set(key, JSON.stringify(value)),
    };
    const now = Date.now();
    const writer = new KeyValueStore(kv, { noInterval: true });
    writer.bindAppId(APP.appId);
    await writer.updateGlobalToken({ accessToken: 'AT', accessTokenExpiresAt: now + HOUR, accessTokenFetchedAt: now });
    expect(typeof map.get(`wechat:${APP.appId}`)).toBe('string');
    const reader = new KeyValueStore(kv, { noInterval: true });
    reader.bindAppId(APP.appId);
    expect((await reader.getGlobalToken()).accessToken).toBe('AT');
    await writer.destroy();
    await reader.destroy();
  });

  test('an object without get/set is a ConfigError', () => {
    expect(() => new KeyValueStore({} as never)).toThrow(/get\(key\) and set\(key, value\)/);
  });
});

test('the one value stays bounded: the oldest records beyond maxUsers / maxUrls are dropped', async () => {
  const map = new Map<string, { oauth: Record<string, unknown> }>();
  const store = new KeyValueStore(map, { noInterval: true, maxUsers: 10 });
  store.bindAppId(APP.appId);
  for (let i = 0; i < 300; i++) await store.saveOAuthAccessToken(`openid-${i}`, { access_token: `UAT-${i}` });
  const kept = Object.keys(map.get(`wechat:${APP.appId}`)!.oauth);
  // Pruned now and then (not on every write), so it may exceed the bound by a few dozen between prunes.
  expect(kept.length).toBeLessThanOrEqual(10 + 64);
  expect(kept).toContain('openid-299');
  expect(kept).not.toContain('openid-0');
  await store.destroy();
});
