/**
 * The credential engine against the sandbox over HTTP: single flight, expiry from expires_in, refresh-ahead and
 * hard expiry on the sandbox clock, cross-process leases, compare-and-invalidate, replay-once, and a store that
 * fails around it (degraded mode).
 */
import { once } from 'node:events';
import {
  BACKGROUND_RETRY_MS,
  Credential,
  HARD_EXPIRY_MARGIN_MS,
  REFRESH_AHEAD_MS,
  UNSAVED_RETRY_MS,
  withCredential,
  type CredentialRecord,
} from '../../lib/credentials/Credential';
import { globalTokenBackend } from '../../lib/credentials/backends';
import { accessTokenFetcher } from '../../lib/credentials/sources';
import { StoreError, WechatApiError, WechatError, isTokenInvalidError } from '../../lib/errors';
import { HttpClient } from '../../lib/http/HttpClient';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { Store } from '../../lib/store/Store';
import type { GlobalTokenInfo, Lease, Lockable } from '../../lib/store/types';
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { sandboxWith, wechatOn } from '../helpers';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';
const APPS: SandboxApp[] = Array.from({ length: 24 }, (_, i) => ({
  appId: `wxcred${String(i + 1).padStart(10, '0')}`,
  appSecret: `cred-secret-${i + 1}`,
}));

let sandbox: Sandbox;
let nextApp = 0;
const cleanups: Array<() => unknown> = [];
const now = () => sandbox.now();

beforeAll(async () => {
  sandbox = await sandboxWith(...APPS);
});

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await sandbox.close();
});

const memoryStore = () => new Store({ noInterval: true, now });

/** An access_token credential of one app, built the way the facade builds it, on a store of the test's choice. */
function tokenCredential(app: SandboxApp, store: Store) {
  const http = new HttpClient({ apiUrl: sandbox.url, appId: app.appId });
  const refreshed: CredentialRecord[] = [];
  const errors: unknown[] = [];
  const cred = new Credential({
    name: 'access_token',
    backend: globalTokenBackend(store, 'accessToken'),
    fetch: accessTokenFetcher({ http, appId: app.appId, appSecret: app.appSecret, tokenSource: 'stable', store, now }),
    now,
    onRefresh: (record) => refreshed.push(record),
    onError: (err) => errors.push(err),
  });
  cleanups.push(
    () => http.close(),
    () => cred.close(),
  );
  return { cred, http, refreshed, errors };
}

function getticket(http: HttpClient, accessToken: string) {
  return http.get<{ ticket: string }>(TICKET, { access_token: accessToken, type: 'jsapi' });
}

function counter(path: string): () => number {
  const start = sandbox.calls(path);
  return () => sandbox.calls(path) - start;
}

/** Short real waits until `condition` holds (background work finishing); fails after ~5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe('single flight and records', () => {
  it('concurrent get() share one upstream request and the record carries an absolute expiry from expires_in', async () => {
    const app = APPS[nextApp++];
    const store = memoryStore();
    const { cred, refreshed } = tokenCredential(app, store);
    const calls = counter(TOKEN);
    const values = await Promise.all(Array.from({ length: 200 }, () => cred.get()));
    expect(calls()).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(refreshed).toHaveLength(1);
    const record = cred.record!;
    expect(record.value).toBe(values[0]);
    expect(record.expiresAt - record.fetchedAt).toBeGreaterThan(7190_000);
    expect(record.expiresAt - record.fetchedAt).toBeLessThanOrEqual(7200_000);
    // Written through to the store as absolute times.
    const stored = await store.getGlobalToken();
    expect(stored).toMatchObject({
      accessToken: record.value,
      accessTokenExpiresAt: record.expiresAt,
      accessTokenFetchedAt: record.fetchedAt,
    });
  });

  it('uses the remaining expires_in WeChat returns (a stable token near its end), not a fixed lifetime', async () => {
    const app = APPS[nextApp++];
    const first = tokenCredential(app, memoryStore());
    const token = await first.cred.get();
    const realExpiry = first.cred.record!.expiresAt;

    // Another server starts 6 minutes before the token ends: WeChat hands it the same token with ~360 s left.
    sandbox.setTime(realExpiry - 6 * 60_000);
    const second = tokenCredential(app, memoryStore());
    expect(await second.cred.get()).toBe(token);
    const record = second.cred.record!;
    expect(Math.abs(record.expiresAt - realExpiry)).toBeLessThan(2_000);
    expect(record.expiresAt - record.fetchedAt).toBeLessThan(6 * 60_000 + 1_000);

    // 90 s later it is inside the refresh-ahead window: the same token is served while one refresh runs.
    sandbox.advance(90_000);
    const calls = counter(TOKEN);
    expect(second.cred.peek()).toBe(token);
    expect(second.cred.peek()).toBe(token);
    await until(() => second.refreshed.length === 2);
    expect(calls()).toBe(1);
    expect(second.cred.record!.value).not.toBe(token);
    expect(second.cred.record!.expiresAt - sandbox.now()).toBeGreaterThan(7000_000);
  });

  it('inside HARD_EXPIRY_MARGIN_MS peek() gives nothing and get() waits for a new value', async () => {
    const app = APPS[nextApp++];
    const { cred } = tokenCredential(app, memoryStore());
    const old = await cred.get();
    sandbox.setTime(cred.record!.expiresAt - HARD_EXPIRY_MARGIN_MS + 1_000);
    expect(cred.peek()).toBeUndefined();
    const calls = counter(TOKEN);
    const fresh = await cred.get();
    expect(calls()).toBe(1);
    expect(fresh).not.toBe(old);
    expect(cred.record!.expiresAt - sandbox.now()).toBeGreaterThan(7000_000);
  });

  it('a failed background refresh is reported, the current value keeps being served, and it is not retried for BACKGROUND_RETRY_MS', async () => {
    const app = APPS[nextApp++];
    const { cred, errors, refreshed } = tokenCredential(app, memoryStore());
    const token = await cred.get();
    sandbox.setTime(cred.record!.expiresAt - REFRESH_AHEAD_MS + 10_000);
    sandbox.fault(TOKEN, { errcode: 45009, errmsg: 'reach max api daily quota limit', times: 1 });
    const calls = counter(TOKEN);
    expect(cred.peek()).toBe(token);
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(WechatApiError);
    expect((errors[0] as WechatApiError).kind).toBe('quota');
    // Still served, no retry storm.
    for (let i = 0; i < 20; i++) expect(cred.peek()).toBe(token);
    expect(await cred.get()).toBe(token);
    expect(calls()).toBe(1);
    sandbox.advance(BACKGROUND_RETRY_MS);
    expect(cred.peek()).toBe(token);
    await until(() => refreshed.length === 2);
    expect(calls()).toBe(2);
    expect(cred.record!.value).not.toBe(token);
  });

  it('a foreground failure rejects the callers with the typed error and the next call tries again', async () => {
    const app = APPS[nextApp++];
    const { cred } = tokenCredential(app, memoryStore());
    sandbox.fault(TOKEN, { errcode: 40164, errmsg: 'invalid ip 1.2.3.4, not in whitelist', times: 1 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cred.get()));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(WechatApiError);
      expect((result as PromiseRejectedResult).reason.kind).toBe('ip_whitelist');
    }
    expect(typeof (await cred.get())).toBe('string');
  });

  it('after close() a refresh rejects with CLOSED', async () => {
    const app = APPS[nextApp++];
    const { cred } = tokenCredential(app, memoryStore());
    cred.close();
    const err = await cred.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WechatError);
    expect((err as WechatError).code).toBe('CLOSED');
  });
});

describe('read-through and cross-process leases', () => {
  /** A shared backend with leases, standing for Redis/Mongo/a lock file shared by several processes. */
  class LockingStore extends Store implements Lockable {
    readonly leases = new Map<string, number>();
    lockCalls = 0;
    override lock(name: string, ttlMs: number): Promise<Lease | null> {
      this.lockCalls++;
      const until = this.leases.get(name);
      if (until !== undefined && until > Date.now()) return Promise.resolve(null);
      this.leases.set(name, Date.now() + ttlMs);
      return Promise.resolve({ name, release: async () => void this.leases.delete(name) });
    }
  }

  it('a value another process stored is adopted without asking WeChat', async () => {
    const app = APPS[nextApp++];
    const store = memoryStore();
    const a = tokenCredential(app, store);
    const b = tokenCredential(app, store);
    const calls = counter(TOKEN);
    const token = await a.cred.get();
    expect(await b.cred.get()).toBe(token);
    expect(calls()).toBe(1);
    expect(b.refreshed).toHaveLength(0);
  });

  it('two processes with a lockable store starting cold: one upstream request, both get the same token', async () => {
    const app = APPS[nextApp++];
    const store = new LockingStore({ noInterval: true, now });
    const processes = [tokenCredential(app, store), tokenCredential(app, store), tokenCredential(app, store)];
    const calls = counter(TOKEN);
    const values = await Promise.all(processes.flatMap((p) => Array.from({ length: 20 }, () => p.cred.get())));
    expect(calls()).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(store.lockCalls).toBeGreaterThanOrEqual(2);
    // Every lease was released.
    expect(store.leases.size).toBe(0);
  });

  it('while another process holds the lease, the value it stores is adopted (no upstream request)', async () => {
    const app = APPS[nextApp++];
    const store = new LockingStore({ noInterval: true, now });
    const { cred } = tokenCredential(app, store);
    const lease = (await store.lock('refresh:access_token', 40_000))!;
    const calls = counter(TOKEN);
    const pending = cred.get();
    await new Promise((resolve) => setTimeout(resolve, 120));
    await globalTokenBackend(store, 'accessToken').write({
      value: 'token-from-the-lease-holder',
      expiresAt: sandbox.now() + 7200_000,
      fetchedAt: sandbox.now(),
    });
    await lease.release();
    expect(await pending).toBe('token-from-the-lease-holder');
    expect(calls()).toBe(0);
  });

  it('a store whose lock() throws is treated as "we hold the lease": one request, error reported', async () => {
    const app = APPS[nextApp++];
    class BrokenLockStore extends Store implements Lockable {
      override lock(): Promise<Lease | null> {
        return Promise.reject(new StoreError('lock backend down'));
      }
    }
    const { cred, errors } = tokenCredential(app, new BrokenLockStore({ noInterval: true, now }));
    const calls = counter(TOKEN);
    await Promise.all(Array.from({ length: 10 }, () => cred.get()));
    expect(calls()).toBe(1);
    expect(errors.some((e) => e instanceof StoreError && e.message === 'lock backend down')).toBe(true);
  });
});

describe('compare-and-invalidate and replay once', () => {
  it("the second process to see the token die adopts the first one's replacement instead of refetching", async () => {
    const app = APPS[nextApp++];
    const store = memoryStore();
    const a = tokenCredential(app, store);
    const b = tokenCredential(app, store);
    const dead = await a.cred.get();
    expect(await b.cred.get()).toBe(dead);
    sandbox.rotateToken(app.appId);
    const calls = counter(TOKEN);
    const replacement = await a.cred.invalidate(dead);
    expect(replacement).not.toBe(dead);
    expect(await b.cred.invalidate(dead)).toBe(replacement);
    expect(calls()).toBe(1);
    // A stale report about an already-replaced token changes nothing.
    expect(await a.cred.invalidate(dead)).toBe(replacement);
    expect(calls()).toBe(1);
    await expect(getticket(a.http, replacement)).resolves.toHaveProperty('ticket');
  });

  it('withCredential: a call failing with 40001 is replayed once with a new token and succeeds', async () => {
    const app = APPS[nextApp++];
    const { cred, http } = tokenCredential(app, memoryStore());
    const dead = await cred.get();
    sandbox.rotateToken(app.appId);
    const tokens = counter(TOKEN);
    const tickets = counter(TICKET);
    const used: string[] = [];
    const body = await withCredential(cred, (t) => (used.push(t), getticket(http, t)), isTokenInvalidError);
    expect(typeof body.ticket).toBe('string');
    expect(used).toHaveLength(2);
    expect(used[0]).toBe(dead);
    expect(used[1]).not.toBe(dead);
    expect(tokens()).toBe(1);
    expect(tickets()).toBe(2);
  });

  it('withCredential never loops: a call that keeps failing with 40001 runs exactly twice, then rejects', async () => {
    const app = APPS[nextApp++];
    const { cred, http } = tokenCredential(app, memoryStore());
    await cred.get();
    sandbox.fault(TICKET, { errcode: 40001, errmsg: 'invalid credential' });
    try {
      const tickets = counter(TICKET);
      const err = await withCredential(cred, (t) => getticket(http, t), isTokenInvalidError).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WechatApiError);
      expect((err as WechatApiError).errcode).toBe(40001);
      expect(tickets()).toBe(2);
    } finally {
      sandbox.clearFaults(TICKET);
    }
  });

  it('withCredential does not invalidate or replay on other errors', async () => {
    const app = APPS[nextApp++];
    const { cred, http } = tokenCredential(app, memoryStore());
    const token = await cred.get();
    sandbox.fault(TICKET, { errcode: 45009, errmsg: 'quota', times: 1 });
    const tickets = counter(TICKET);
    const tokens = counter(TOKEN);
    const err = await withCredential(cred, (t) => getticket(http, t), isTokenInvalidError).catch((e: unknown) => e);
    expect((err as WechatApiError).kind).toBe('quota');
    expect(tickets()).toBe(1);
    expect(tokens()).toBe(0);
    expect(cred.peek()).toBe(token);
  });
});

describe('a failing store around the engine (degraded mode)', () => {
  /** The global-token record is unreachable while `down` is set (a real Store subclass, e.g. Redis gone). */
  class FlakyStore extends Store {
    down = true;
    failures = 0;
    override getGlobalToken(): Promise<GlobalTokenInfo> {
      if (this.down) return this.fail('read');
      return super.getGlobalToken();
    }
    override updateGlobalToken(info: GlobalTokenInfo): Promise<GlobalTokenInfo> {
      if (this.down) return this.fail('write');
      return super.updateGlobalToken(info);
    }
    private fail(what: string): Promise<never> {
      this.failures++;
      return Promise.reject(new StoreError(`global token ${what} failed: connection refused`));
    }
  }

  let wx: Wechat | undefined;
  afterEach(async () => {
    await wx?.close();
    wx = undefined;
  });

  it('signing works while the store is down, refreshError reports it, and the records are written once it is back', async () => {
    const app = APPS[nextApp++];
    const store = new FlakyStore({ noInterval: true, now });
    wx = wechatOn(sandbox, { store }, app);
    const errors: unknown[] = [];
    wx.on('refreshError', (err) => errors.push(err));
    const tokens = counter(TOKEN);
    const tickets = counter(TICKET);

    const url = 'https://example.com/degraded';
    const sigs = await Promise.all(Array.from({ length: 100 }, () => wx!.jssdk.getSignature(url)));
    const ticket = wx.credentials.jsapiTicket.record!.value;
    for (const sig of sigs) {
      expect(sig.signature).toBe(signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }));
    }
    expect(sandbox.liveTickets(app.appId)).toContain(ticket);
    expect(tokens()).toBe(1);
    expect(tickets()).toBe(1);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const err of errors) {
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/global token (read|write) failed/);
    }
    expect(store.store.globalToken.accessToken).toBeUndefined();

    // Still down: later calls are served from memory; writes are retried at most every UNSAVED_RETRY_MS.
    const failures = store.failures;
    for (let i = 0; i < 50; i++) await wx.jssdk.getGlobalTokenAndTicket();
    expect(store.failures - failures).toBeLessThanOrEqual(2);

    // The store comes back: the next calls write what was not saved; nothing is fetched again.
    store.down = false;
    sandbox.advance(UNSAVED_RETRY_MS);
    const { accessToken } = await wx.jssdk.getGlobalTokenAndTicket();
    await until(
      () => store.store.globalToken.accessToken === accessToken && store.store.globalToken.jsapi_ticket === ticket,
    );
    expect(store.store.globalToken).toMatchObject({
      accessTokenExpiresAt: wx.credentials.accessToken.record!.expiresAt,
      jsapi_ticketExpiresAt: wx.credentials.jsapiTicket.record!.expiresAt,
    });
    expect(tokens()).toBe(1);
    expect(tickets()).toBe(1);
  });

  it('recovery from a rotated token still works while the store is down', async () => {
    const app = APPS[nextApp++];
    const store = new FlakyStore({ noInterval: true, now });
    wx = wechatOn(sandbox, { store }, app);
    const errors: unknown[] = [];
    wx.on('refreshError', (err) => errors.push(err));
    const before = await wx.jssdk.getGlobalTokenAndTicket();
    sandbox.rotateToken(app.appId);
    const tokens = counter(TOKEN);
    const after = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(tokens()).toBe(1);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('the token event still fires with a fingerprint only', async () => {
    const app = APPS[nextApp++];
    const store = new FlakyStore({ noInterval: true, now });
    wx = wechatOn(sandbox, { store }, app);
    wx.on('refreshError', () => undefined);
    const tokenEvent = once(wx, 'token');
    const { accessToken } = await wx.jssdk.getGlobalTokenAndTicket();
    const [event] = await tokenEvent;
    expect(event.name).toBe('access_token');
    expect(JSON.stringify(event)).not.toContain(accessToken);
  });
});
