/**
 * Where tokens and tickets come from, against the sandbox over HTTP: stable_token (normal and force_refresh with its
 * budget), classic /cgi-bin/token, absolute endpoint overrides, an external token service, and getticket.
 */
import { Credential } from '../../lib/credentials/Credential';
import { globalTokenBackend } from '../../lib/credentials/backends';
import {
  FORCE_REFRESH_DAILY_LIMIT,
  FORCE_REFRESH_MIN_INTERVAL_MS,
  accessTokenFetcher,
  ticketFetcher,
  type AccessTokenSourceOptions,
  type ExternalToken,
} from '../../lib/credentials/sources';
import { WechatApiError, WechatError, WechatTransportError } from '../../lib/errors';
import { HttpClient } from '../../lib/http/HttpClient';
import { Store } from '../../lib/store/Store';
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import { sandboxWith } from '../helpers';

const STABLE = '/cgi-bin/stable_token';
const CLASSIC = '/cgi-bin/token';
const TICKET = '/cgi-bin/ticket/getticket';
const DAY_MS = 24 * 60 * 60_000;
const APPS: SandboxApp[] = Array.from({ length: 24 }, (_, i) => ({
  appId: `wxsrc${String(i + 1).padStart(11, '0')}`,
  appSecret: `source-secret-${i + 1}`,
}));

let sandbox: Sandbox;
let other: Sandbox;
let nextApp = 0;
const clients: HttpClient[] = [];
const now = () => sandbox.now();

beforeAll(async () => {
  [sandbox, other] = await Promise.all([sandboxWith(...APPS), sandboxWith(...APPS)]);
});

afterAll(async () => {
  for (const http of clients) http.close();
  await Promise.all([sandbox.close(), other.close()]);
});

function setup(overrides: Partial<AccessTokenSourceOptions> = {}) {
  const app = APPS[nextApp++];
  const http = new HttpClient({ apiUrl: sandbox.url, appId: app.appId });
  clients.push(http);
  const store = new Store({ noInterval: true, now });
  const fetch = accessTokenFetcher({
    http,
    appId: app.appId,
    appSecret: app.appSecret,
    tokenSource: 'stable',
    store,
    now,
    ...overrides,
  });
  return { app, http, store, fetch };
}

function counter(box: Sandbox, path: string): () => number {
  const start = box.calls(path);
  return () => box.calls(path) - start;
}

async function rejection(promise: Promise<unknown>): Promise<WechatError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WechatError);
  return err as WechatError;
}

describe('stable_token (default)', () => {
  it('POSTs /cgi-bin/stable_token and returns the token with an absolute expiry from expires_in', async () => {
    const { fetch } = setup();
    const stable = counter(sandbox, STABLE);
    const classic = counter(sandbox, CLASSIC);
    const before = sandbox.now();
    const record = await fetch({});
    expect(stable()).toBe(1);
    expect(classic()).toBe(0);
    expect(record.value).toMatch(/^S_/);
    expect(record.expiresAt).toBeGreaterThanOrEqual(before + 7199_000);
    expect(record.expiresAt).toBeLessThanOrEqual(sandbox.now() + 7200_000);
  });

  it('normal mode returns the same token while it lives, with the remaining expires_in', async () => {
    const { fetch } = setup();
    const first = await fetch({});
    sandbox.advance(60 * 60_000);
    const second = await fetch({});
    expect(second.value).toBe(first.value);
    expect(Math.abs(second.expiresAt - first.expiresAt)).toBeLessThan(2_000);
  });

  it('a wrong secret is a WechatApiError (bad_credentials) that does not contain the secret', async () => {
    const { app, fetch } = setup({ appSecret: 'wrong-secret-value-xyz' });
    const err = await rejection(fetch({}));
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).kind).toBe('bad_credentials');
    expect(err.message).toContain(app.appId);
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain('wrong-secret-value-xyz');
  });

  it('a body without access_token or expires_in is a BAD_RESPONSE error, not a token of "undefined"', async () => {
    const { fetch } = setup();
    sandbox.fault(STABLE, { status: 200, body: '{"access_token":"abc"}', times: 1 });
    const err = await rejection(fetch({}));
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).not.toContain('abc');
    sandbox.fault(STABLE, { status: 200, body: '{"expires_in":7200}', times: 1 });
    expect((await rejection(fetch({}))).code).toBe('BAD_RESPONSE');
  });

  it('an HTML error page is a transport error', async () => {
    const { fetch } = setup();
    sandbox.fault(STABLE, { status: 200, body: '<html>gateway</html>', times: 3 });
    const err = await rejection(fetch({}));
    expect(err).toBeInstanceOf(WechatTransportError);
    sandbox.clearFaults(STABLE);
  });
});

describe('force_refresh and its budget', () => {
  it('force_refresh is used only when normal mode returns the dead token, and is recorded in the store', async () => {
    const { app, store, fetch } = setup();
    const first = await fetch({});
    const stable = counter(sandbox, STABLE);

    // A dead value that normal mode does not return: no force.
    const normal = await fetch({ deadValue: 'some-older-token' });
    expect(normal.value).toBe(first.value);
    expect(stable()).toBe(1);
    expect((await store.getGlobalToken()).forceRefreshTimes).toBeUndefined();

    sandbox.revokeStableToken(app.appId);
    const replaced = await fetch({ deadValue: first.value });
    expect(replaced.value).not.toBe(first.value);
    expect(stable()).toBe(3);
    const times = (await store.getGlobalToken()).forceRefreshTimes!;
    expect(times).toHaveLength(1);
    expect(Math.abs(times[0] - sandbox.now())).toBeLessThan(2_000);
  });

  it('a second force within 30 s is refused with FORCE_REFRESH_BUDGET; after 30 s it is allowed', async () => {
    const { app, store, fetch } = setup();
    const t1 = (await fetch({})).value;
    sandbox.revokeStableToken(app.appId);
    const t2 = (await fetch({ deadValue: t1 })).value;
    sandbox.advance(FORCE_REFRESH_MIN_INTERVAL_MS - 5_000);
    sandbox.revokeStableToken(app.appId);
    const stable = counter(sandbox, STABLE);
    const err = await rejection(fetch({ deadValue: t2 }));
    expect(err.code).toBe('FORCE_REFRESH_BUDGET');
    expect(err.message).toContain(app.appId);
    expect(err.message).toMatch(/30s, 20 a day/);
    expect(err.message).not.toContain(t2);
    expect(stable()).toBe(1);
    expect((await store.getGlobalToken()).forceRefreshTimes).toHaveLength(1);

    sandbox.advance(5_000);
    const t3 = (await fetch({ deadValue: t2 })).value;
    expect(t3).not.toBe(t2);
    expect((await store.getGlobalToken()).forceRefreshTimes).toHaveLength(2);
  });

  it('the daily limit counts forces of the last 24 h from the store (shared by all processes), older ones drop out', async () => {
    const { app, store, fetch } = setup();
    const t1 = (await fetch({})).value;
    const start = sandbox.now();
    const full = Array.from({ length: FORCE_REFRESH_DAILY_LIMIT }, (_, i) => start - 23 * 60 * 60_000 + i * 60_000);
    await store.updateGlobalToken({ forceRefreshTimes: full });
    sandbox.revokeStableToken(app.appId);
    const err = await rejection(fetch({ deadValue: t1 }));
    expect(err.code).toBe('FORCE_REFRESH_BUDGET');

    // An hour later the oldest ones are more than a day old.
    sandbox.advance(DAY_MS - 23 * 60 * 60_000 + 5 * 60_000);
    // The revoked token has not expired yet, so normal mode still returns it.
    const t2 = (await fetch({ deadValue: t1 })).value;
    expect(t2).not.toBe(t1);
    const times = (await store.getGlobalToken()).forceRefreshTimes!;
    expect(times.length).toBeLessThan(FORCE_REFRESH_DAILY_LIMIT);
    expect(times[times.length - 1]).toBe(times.find((t) => t > start));
  });

  it('a custom budgetField keeps separate budgets in one store', async () => {
    const { app, store, fetch } = setup({ budgetField: 'miniProgramForceRefreshTimes' });
    const t1 = (await fetch({})).value;
    sandbox.revokeStableToken(app.appId);
    await fetch({ deadValue: t1 });
    const global = await store.getGlobalToken();
    expect(global.miniProgramForceRefreshTimes).toHaveLength(1);
    expect(global.forceRefreshTimes).toBeUndefined();
  });
});

describe('classic /cgi-bin/token', () => {
  it('GETs /cgi-bin/token (never stable_token)', async () => {
    const { fetch } = setup({ tokenSource: 'classic' });
    const classic = counter(sandbox, CLASSIC);
    const stable = counter(sandbox, STABLE);
    const record = await fetch({});
    expect(record.value).toMatch(/^C_/);
    expect(classic()).toBe(1);
    expect(stable()).toBe(0);
    expect(record.expiresAt - sandbox.now()).toBeGreaterThan(7190_000);
  });

  it('accessTokenUrl (absolute) replaces the endpoint: requests go there, not to apiUrl', async () => {
    const { app, http } = setup();
    const fetch = accessTokenFetcher({
      http,
      appId: app.appId,
      appSecret: app.appSecret,
      tokenSource: 'classic',
      accessTokenUrl: `${other.url}/cgi-bin/token`,
      store: new Store({ noInterval: true }),
      now,
    });
    const here = counter(sandbox, CLASSIC);
    const there = counter(other, CLASSIC);
    const record = await fetch({});
    expect(there()).toBe(1);
    expect(here()).toBe(0);
    expect(other.checkToken(record.value).appId).toBe(app.appId);
  });
});

describe('external token source (getAccessToken)', () => {
  it('is used instead of WeChat: no token endpoint is called', async () => {
    const expiresAt = sandbox.now() + 30 * 60_000;
    let called = 0;
    const getAccessToken = async (): Promise<ExternalToken> => {
      called++;
      return { accessToken: 'central-service-token', expiresAt };
    };
    const { fetch } = setup({ getAccessToken });
    const stable = counter(sandbox, STABLE);
    const classic = counter(sandbox, CLASSIC);
    expect(await fetch({})).toEqual({ value: 'central-service-token', expiresAt });
    expect(called).toBe(1);
    expect(stable() + classic()).toBe(0);
  });

  it.each([
    ['undefined', undefined],
    ['a string', 'token'],
    ['a wrong field name', { access_token: 'x', expiresAt: Date.now() + 60_000 }],
    ['an empty token', { accessToken: '', expiresAt: Date.now() + 60_000 }],
    ['no expiresAt', { accessToken: 'x' }],
    ['expiresAt as a string', { accessToken: 'x', expiresAt: 'tomorrow' }],
  ])('a bad shape (%s) is a clear BAD_EXTERNAL_TOKEN error', async (_what, value) => {
    const { fetch } = setup({ getAccessToken: async () => value as unknown as ExternalToken });
    const err = await rejection(fetch({}));
    expect(err.code).toBe('BAD_EXTERNAL_TOKEN');
    expect(err.message).toMatch(/getAccessToken\(\) must resolve \{ accessToken: string, expiresAt: number \}/);
  });

  it('an expiresAt in seconds (already past as ms) is refused with a hint', async () => {
    const { fetch } = setup({
      getAccessToken: async () => ({
        accessToken: 'central-token',
        expiresAt: Math.floor(sandbox.now() / 1000) + 7200,
      }),
    });
    const err = await rejection(fetch({}));
    expect(err.code).toBe('BAD_EXTERNAL_TOKEN');
    expect(err.message).toMatch(/milliseconds/);
    expect(err.message).not.toContain('central-token');
  });

  it('an error thrown by the service reaches the caller', async () => {
    const { fetch } = setup({
      getAccessToken: async () => {
        throw new Error('token service unavailable');
      },
    });
    await expect(fetch({})).rejects.toThrow('token service unavailable');
  });
});

describe('ticketFetcher', () => {
  function ticketSetup(type: 'jsapi' | 'wx_card') {
    const app = APPS[nextApp++];
    const http = new HttpClient({ apiUrl: sandbox.url, appId: app.appId });
    clients.push(http);
    const store = new Store({ noInterval: true, now });
    const token = new Credential({
      name: 'access_token',
      backend: globalTokenBackend(store, 'accessToken'),
      fetch: accessTokenFetcher({
        http,
        appId: app.appId,
        appSecret: app.appSecret,
        tokenSource: 'stable',
        store,
        now,
      }),
      now,
    });
    return { app, token, fetch: ticketFetcher({ http, token, type, now }) };
  }

  it.each(['jsapi', 'wx_card'] as const)('fetches a %s ticket that the sandbox knows as live', async (type) => {
    const { app, fetch } = ticketSetup(type);
    const record = await fetch();
    expect(sandbox.liveTickets(app.appId, type)).toContain(record.value);
    expect(record.expiresAt - sandbox.now()).toBeGreaterThan(7190_000);
  });

  it('recovers once from a token killed by another system', async () => {
    const { app, token, fetch } = ticketSetup('jsapi');
    await fetch();
    const dead = token.record!.value;
    sandbox.rotateToken(app.appId);
    const tickets = counter(sandbox, TICKET);
    const stable = counter(sandbox, STABLE);
    const record = await fetch();
    expect(sandbox.liveTickets(app.appId)).toContain(record.value);
    expect(token.record!.value).not.toBe(dead);
    expect(tickets()).toBe(2);
    expect(stable()).toBe(1);
  });

  it('ticketUrl (absolute) replaces the ticket endpoint', async () => {
    // The token is valid on `other` only (fetched there by a central service); apiUrl is the main sandbox.
    const app = APPS[nextApp++];
    const central = new HttpClient({ apiUrl: other.url, appId: app.appId });
    const http = new HttpClient({ apiUrl: sandbox.url, appId: app.appId });
    clients.push(central, http);
    const store = new Store({ noInterval: true, now });
    const getAccessToken = async (): Promise<ExternalToken> => {
      const body = await central.post<{ access_token: string; expires_in: number }>(STABLE, {
        grant_type: 'client_credential',
        appid: app.appId,
        secret: app.appSecret,
      });
      return { accessToken: body.access_token, expiresAt: now() + body.expires_in * 1000 };
    };
    const token = new Credential({
      name: 'access_token',
      backend: globalTokenBackend(store, 'accessToken'),
      fetch: accessTokenFetcher({
        http,
        appId: app.appId,
        appSecret: app.appSecret,
        tokenSource: 'stable',
        getAccessToken,
        store,
        now,
      }),
      now,
    });
    const fetch = ticketFetcher({
      http,
      token,
      type: 'jsapi',
      ticketUrl: `${other.url}/cgi-bin/ticket/getticket`,
      now,
    });
    const here = counter(sandbox, TICKET);
    const there = counter(other, TICKET);
    const record = await fetch();
    expect(there()).toBe(1);
    expect(here()).toBe(0);
    expect(other.liveTickets(app.appId)).toContain(record.value);
  });
});
