/**
 * The Wechat facade against the sandbox over HTTP: options and ConfigErrors, token sources (stable, classic,
 * absolute overrides, external), stored records with absolute expiry, events without secrets, the store option
 * (not a Store, appId binding, LRU bound) and close() leaving nothing alive.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, WechatError } from '../lib/errors';
import { HttpClient } from '../lib/http/HttpClient';
import { signJsapiTicket } from '../lib/jssdk/signature';
import { Store } from '../lib/store/Store';
import { Wechat, type CredentialEvent, type WechatOptions } from '../lib/Wechat';
import type { ClientSignature } from '../lib/jssdk/JSSDK';
import type { Sandbox, SandboxApp } from '../lib/sandbox';
import { sandboxWith, tempDir, wechatOn } from './helpers';

const STABLE = '/cgi-bin/stable_token';
const CLASSIC = '/cgi-bin/token';
const TICKET = '/cgi-bin/ticket/getticket';
const APPS: SandboxApp[] = Array.from({ length: 24 }, (_, i) => ({
  appId: `wxfacade${String(i + 1).padStart(8, '0')}`,
  appSecret: `facade-secret-value-${i + 1}`,
}));

let sandbox: Sandbox;
let other: Sandbox;
let nextApp = 0;
const opened: Wechat[] = [];

beforeAll(async () => {
  [sandbox, other] = await Promise.all([sandboxWith(...APPS), sandboxWith(...APPS)]);
});

afterAll(async () => {
  for (const wx of opened) await wx.close();
  await Promise.all([sandbox.close(), other.close()]);
});

function fresh(options: Partial<WechatOptions> = {}, box: Sandbox = sandbox): { wx: Wechat; app: SandboxApp } {
  const app = APPS[nextApp++];
  const wx = wechatOn(box, options, app);
  opened.push(wx);
  return { wx, app };
}

function counter(box: Sandbox, path: string): () => number {
  const start = box.calls(path);
  return () => box.calls(path) - start;
}

function verifies(box: Sandbox, appId: string, sig: ClientSignature): boolean {
  return box
    .liveTickets(appId)
    .some(
      (ticket) =>
        signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: sig.url }) === sig.signature,
    );
}

function configError(make: () => unknown): ConfigError {
  let err: unknown;
  try {
    make();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('options', () => {
  const base = () => ({
    appId: APPS[0].appId,
    appSecret: APPS[0].appSecret,
    apiUrl: sandbox.url,
    store: new Store({ noInterval: true }),
  });

  it.each([
    ['no options', undefined, 'options'],
    ['empty options', {}, 'options'],
    ['no appId', { appSecret: 's' }, 'appId'],
    ['blank appId', { appId: ' ', appSecret: 's' }, 'appId'],
    ['no appSecret', { appId: 'wx1' }, 'appSecret'],
    ['numeric appSecret', { appId: 'wx1', appSecret: 42 }, 'appSecret'],
  ])('%s → ConfigError naming the option', (_what, options, option) => {
    const err = configError(() => new Wechat(options as unknown as WechatOptions));
    expect(err.option).toBe(option);
    expect(err.message).toContain(option);
  });

  it('a bad tokenSource, accessTokenUrl, ticketUrl, getAccessToken or allowedHosts is a ConfigError naming it', () => {
    expect(configError(() => new Wechat({ ...base(), tokenSource: 'fast' as never })).option).toBe('tokenSource');
    expect(configError(() => new Wechat({ ...base(), accessTokenUrl: 'not a url' })).option).toBe('accessTokenUrl');
    expect(configError(() => new Wechat({ ...base(), ticketUrl: 'ftp://x/ticket' })).option).toBe('ticketUrl');
    expect(configError(() => new Wechat({ ...base(), getAccessToken: 'token' as never })).option).toBe(
      'getAccessToken',
    );
    expect(configError(() => new Wechat({ ...base(), allowedHosts: 'example.com' as never })).option).toBe(
      'allowedHosts',
    );
  });

  it('accessTokenUrl with tokenSource "stable" is refused (it replaces GET /cgi-bin/token, which stable does not use)', () => {
    const err = configError(
      () => new Wechat({ ...base(), tokenSource: 'stable', accessTokenUrl: `${sandbox.url}/cgi-bin/token` }),
    );
    expect(err.option).toBe('accessTokenUrl');
    expect(err.message).toMatch(/classic/);
  });

  it('the appSecret is not on wx.options nor anywhere inspect can reach', () => {
    const { wx, app } = fresh({ wechatToken: 'server-token' });
    expect(wx.options).not.toHaveProperty('appSecret');
    expect(wx.options.wechatToken).toBe('server-token');
    expect(wx.appId).toBe(app.appId);
    expect(inspect(wx, { depth: 8 })).not.toContain(app.appSecret);
    expect(JSON.stringify(wx.options)).not.toContain(app.appSecret);
  });
});

describe('token sources', () => {
  it('default is stable_token; signatures verify', async () => {
    const { wx, app } = fresh();
    const stable = counter(sandbox, STABLE);
    const classic = counter(sandbox, CLASSIC);
    const sig = await wx.jssdk.getSignature('https://example.com/stable');
    expect(stable()).toBe(1);
    expect(classic()).toBe(0);
    expect(verifies(sandbox, app.appId, sig)).toBe(true);
  });

  it("tokenSource 'classic' uses /cgi-bin/token and recovers from a rotated token with one refetch", async () => {
    const { wx, app } = fresh({ tokenSource: 'classic' });
    const stable = counter(sandbox, STABLE);
    const classic = counter(sandbox, CLASSIC);
    const first = await wx.jssdk.getGlobalTokenAndTicket();
    expect(first.accessToken).toMatch(/^C_/);
    expect(classic()).toBe(1);
    sandbox.rotateToken(app.appId);
    const after = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(after.accessToken).not.toBe(first.accessToken);
    expect(classic()).toBe(2);
    expect(stable()).toBe(0);
    expect(verifies(sandbox, app.appId, await wx.jssdk.getSignature('https://example.com/classic'))).toBe(true);
  });

  it('accessTokenUrl and ticketUrl (absolute) are used instead of apiUrl; accessTokenUrl alone implies classic', async () => {
    const app = APPS[nextApp++];
    const wx = new Wechat({
      appId: app.appId,
      appSecret: app.appSecret,
      apiUrl: sandbox.url,
      accessTokenUrl: `${other.url}/cgi-bin/token`,
      ticketUrl: `${other.url}/cgi-bin/ticket/getticket`,
      store: new Store({ noInterval: true, now: () => other.now() }),
      now: () => other.now(),
    });
    opened.push(wx);
    const here = {
      token: counter(sandbox, CLASSIC),
      stable: counter(sandbox, STABLE),
      ticket: counter(sandbox, TICKET),
    };
    const there = { token: counter(other, CLASSIC), stable: counter(other, STABLE), ticket: counter(other, TICKET) };
    const sig = await wx.jssdk.getSignature('https://example.com/override');
    expect(verifies(other, app.appId, sig)).toBe(true);
    expect({ token: there.token(), stable: there.stable(), ticket: there.ticket() }).toEqual({
      token: 1,
      stable: 0,
      ticket: 1,
    });
    expect({ token: here.token(), stable: here.stable(), ticket: here.ticket() }).toEqual({
      token: 0,
      stable: 0,
      ticket: 0,
    });
  });

  describe('external getAccessToken', () => {
    let central: HttpClient;
    beforeAll(() => {
      central = new HttpClient({ apiUrl: sandbox.url });
    });
    afterAll(() => central.close());

    it('is used instead of WeChat: no token endpoint call, the ticket is fetched with its token', async () => {
      const app = APPS[nextApp++];
      // The central service's token, obtained before the SDK starts.
      const body = await central.post<{ access_token: string; expires_in: number }>(STABLE, {
        grant_type: 'client_credential',
        appid: app.appId,
        secret: app.appSecret,
      });
      let asked = 0;
      const getAccessToken = async () => {
        asked++;
        return { accessToken: body.access_token, expiresAt: sandbox.now() + body.expires_in * 1000 };
      };
      const wx = wechatOn(sandbox, { getAccessToken }, app);
      opened.push(wx);
      const stable = counter(sandbox, STABLE);
      const classic = counter(sandbox, CLASSIC);
      const tickets = counter(sandbox, TICKET);
      const sigs = await Promise.all(
        Array.from({ length: 100 }, (_, i) => wx.jssdk.getSignature(`https://example.com/ext/${i}`)),
      );
      expect(stable() + classic()).toBe(0);
      expect(tickets()).toBe(1);
      expect(asked).toBe(1);
      for (const sig of sigs) expect(verifies(sandbox, app.appId, sig)).toBe(true);
      expect((await wx.jssdk.getGlobalTokenAndTicket()).accessToken).toBe(body.access_token);
    });

    it('a bad return shape rejects getSignature with a clear error; the process keeps going', async () => {
      const { wx } = fresh({ getAccessToken: async () => ({ token: 'x' }) as never });
      const stable = counter(sandbox, STABLE);
      const err = await wx.jssdk.getSignature('https://example.com/bad-ext').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WechatError);
      expect((err as WechatError).code).toBe('BAD_EXTERNAL_TOKEN');
      expect((err as WechatError).message).toMatch(/getAccessToken\(\)/);
      expect(stable()).toBe(0);
      // Still rejects cleanly on the next call (no stuck in-flight promise).
      await expect(wx.jssdk.getSignature('https://example.com/bad-ext')).rejects.toMatchObject({
        code: 'BAD_EXTERNAL_TOKEN',
      });
    });
  });
});

describe('stored records, events and secrets', () => {
  it('stores absolute expiry for token, ticket and signatures; events carry a fingerprint, never a value', async () => {
    const { wx, app } = fresh();
    const events: Array<[string, CredentialEvent]> = [];
    wx.on('token', (e) => events.push(['token', e]));
    wx.on('ticket', (e) => events.push(['ticket', e]));
    const before = sandbox.now();
    const url = 'https://example.com/records';
    await Promise.all(Array.from({ length: 50 }, () => wx.jssdk.getSignature(url)));
    const after = sandbox.now();

    const global = wx.store.store.globalToken;
    for (const field of ['accessToken', 'jsapi_ticket'] as const) {
      const expiresAt = global[`${field}ExpiresAt`] as number;
      const fetchedAt = global[`${field}FetchedAt`] as number;
      expect(typeof global[field]).toBe('string');
      expect(fetchedAt).toBeGreaterThanOrEqual(before);
      expect(fetchedAt).toBeLessThanOrEqual(after);
      expect(expiresAt - fetchedAt).toBeGreaterThan(7190_000);
      expect(expiresAt - fetchedAt).toBeLessThanOrEqual(7200_000);
    }
    expect(wx.store.store.urls[url].expiresAt).toBe(global.jsapi_ticketExpiresAt);

    expect(events.map(([kind]) => kind).sort()).toEqual(['ticket', 'token']);
    const secrets = [global.accessToken as string, global.jsapi_ticket as string, app.appSecret];
    for (const [kind, event] of events) {
      expect(event.name).toBe(kind === 'token' ? 'access_token' : 'jsapi_ticket');
      expect(event.fingerprint).toMatch(/^[0-9a-f]{8}$/);
      expect(event.expiresAt).toBe(global[kind === 'token' ? 'accessTokenExpiresAt' : 'jsapi_ticketExpiresAt']);
      for (const secret of secrets) expect(JSON.stringify(event)).not.toContain(secret);
    }
    const [tokenEvent] = events.find(([kind]) => kind === 'token')!.slice(1) as [CredentialEvent];
    const [ticketEvent] = events.find(([kind]) => kind === 'ticket')!.slice(1) as [CredentialEvent];
    expect(tokenEvent.fingerprint).not.toBe(ticketEvent.fingerprint);
  });

  it('refreshError reports a background failure without any secret in it', async () => {
    const { wx, app } = fresh();
    const { accessToken, jsapi_ticket } = await wx.jssdk.getGlobalTokenAndTicket();
    sandbox.setTime(wx.credentials.jsapiTicket.record!.expiresAt - 4 * 60_000);
    sandbox.fault(TICKET, {
      errcode: 40164,
      errmsg: `invalid ip, access_token=${accessToken} ticket=${jsapi_ticket}`,
      times: 1,
    });
    const failed = once(wx, 'refreshError');
    // The token is inside its own refresh window too and refreshes in the background alongside.
    const tokenRefreshed = once(wx, 'token');
    // Served at once from memory while the background refresh fails.
    expect((await wx.jssdk.getGlobalTokenAndTicket()).jsapi_ticket).toBe(jsapi_ticket);
    const [err] = (await failed) as [WechatError];
    expect(err).toBeInstanceOf(WechatError);
    const text = `${err.message} ${JSON.stringify(err)} ${inspect(err)}`;
    for (const secret of [accessToken, jsapi_ticket, app.appSecret]) expect(text).not.toContain(secret);
    const [tokenEvent] = (await tokenRefreshed) as [CredentialEvent];
    expect(JSON.stringify(tokenEvent)).not.toContain(accessToken);
  });
});

describe('store option', () => {
  it.each([
    ['an empty object', {}],
    ['null', null],
    ['a string', 'redis://localhost'],
  ])('%s is refused with a ConfigError listing the missing methods', (_what, store) => {
    const err = configError(() => wechatOn(sandbox, { store: store as never }, APPS[0]));
    expect(err.option).toBe('store');
    expect(err.message).toMatch(/is not a Store \(missing getGlobalToken, updateGlobalToken, getSignature, /);
  });

  it('an object with some methods is told exactly which are missing', () => {
    const partial = {
      getGlobalToken: async () => ({}),
      updateGlobalToken: async () => ({}),
      getSignature: async () => undefined,
    };
    const err = configError(() => wechatOn(sandbox, { store: partial as never }, APPS[0]));
    expect(err.message).toMatch(/missing saveSignature, updateSignature, /);
    expect(err.message).not.toMatch(/missing[^)]*getGlobalToken/);
  });

  it('a store bound to app A refuses app B with a clear ConfigError; A can still use it', async () => {
    const store = new Store({ noInterval: true, now: () => sandbox.now() });
    const a = fresh({ store });
    const b = APPS[nextApp++];
    const err = configError(() => wechatOn(sandbox, { store }, b));
    expect(err.option).toBe('store');
    expect(err.message).toContain(`bound to appId ${a.app.appId}`);
    expect(verifies(sandbox, a.app.appId, await a.wx.jssdk.getSignature('https://example.com/bound'))).toBe(true);
  });

  it('maxUrls bounds the signature cache under many URLs', async () => {
    const { wx, app } = fresh({ store: new Store({ noInterval: true, maxUrls: 50, now: () => sandbox.now() }) });
    const urls = Array.from({ length: 2000 }, (_, i) => `https://example.com/many/${i}`);
    for (let i = 0; i < urls.length; i += 200)
      await Promise.all(urls.slice(i, i + 200).map((u) => wx.jssdk.getSignature(u)));
    const kept = Object.keys(wx.store.store.urls);
    expect(kept).toHaveLength(50);
    expect(kept).toContain(urls[urls.length - 1]);
    // An evicted URL is simply signed again.
    const tickets = counter(sandbox, TICKET);
    expect(verifies(sandbox, app.appId, await wx.jssdk.getSignature(urls[0]))).toBe(true);
    expect(tickets()).toBe(0);
  });
});

describe('close()', () => {
  it('is idempotent; calls after close fail with a clear error', async () => {
    const { wx } = fresh();
    await wx.jssdk.getSignature('https://example.com/closing');
    await wx.close();
    await wx.close();
    sandbox.advance(3 * 60 * 60_000);
    const err = await wx.jssdk.getSignature('https://example.com/after-close').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WechatError);
    expect((err as WechatError).code).toBe('CLOSED');
  });

  /**
   * A child process creates a Wechat on the sandbox, signs, closes, and must then exit on its own. `inflight` closes
   * while a token request hangs (timeout 60 s): close() must abort it rather than let the socket hold the process.
   */
  it.each([
    ['a memory Store with its flush timer', 'memory'],
    ['the default FileStore', 'file'],
    ['a token request still in flight', 'inflight'],
  ])(
    'with %s: no live handles afterwards and the process exits on its own',
    async (_what, kind) => {
      const { dir, cleanup } = tempDir();
      if (kind === 'inflight') sandbox.fault(STABLE, { hang: true, times: 1 });
      try {
        const app = APPS[nextApp++];
        const script = path.join(dir, 'close.ts');
        const lib = (p: string) => JSON.stringify(path.resolve(__dirname, '../lib', p));
        writeFileSync(
          script,
          `import { Wechat } from ${lib('Wechat')};
import { Store } from ${lib('store/Store')};
const alive = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Immediate');
async function main() {
  const wx = new Wechat({
    appId: process.env.APP_ID!,
    appSecret: process.env.APP_SECRET!,
    apiUrl: process.env.SANDBOX_URL!,
    timeout: 60_000,
    ...(process.env.KIND === 'file' ? { storeOptions: { fileStorePath: process.env.FILE! } } : { store: new Store({ interval: 60_000 }) }),
  });
  let outcome: string;
  if (process.env.KIND === 'inflight') {
    const pending = wx.jssdk.getSignature('https://example.com/child').then(
      () => 'signed',
      (err) => 'rejected:' + err.constructor.name + ':' + err.code,
    );
    // Wait until the request is on the wire (the sandbox holds it), then close.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await wx.close();
    outcome = await pending;
  } else {
    const sig = await wx.jssdk.getSignature('https://example.com/child');
    outcome = typeof sig.signature === 'string' ? 'signed' : 'no signature';
    await wx.close();
  }
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
  console.log(JSON.stringify({ outcome, after: alive() }));
}
main().catch((err) => { console.error(err); process.exitCode = 1; });
`,
        );
        const child = spawn(process.execPath, [require.resolve('tsx/cli'), script], {
          env: {
            ...process.env,
            APP_ID: app.appId,
            APP_SECRET: app.appSecret,
            SANDBOX_URL: sandbox.url,
            KIND: kind,
            FILE: path.join(dir, 'wechat-info.json'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        // Bounded: a process kept alive by a socket or a timer is killed here, and the test fails.
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        clearTimeout(killer);
        expect(stderr).toBe('');
        expect(signal).toBeNull();
        expect(code).toBe(0);
        const report = JSON.parse(stdout.trim()) as { outcome: string; after: string[] };
        expect(report.outcome).toMatch(kind === 'inflight' ? /^rejected:\w+:(TRANSPORT|CLOSED)$/ : /^signed$/);
        expect(report.after).toEqual([]);
      } finally {
        sandbox.clearFaults(STABLE);
        cleanup();
      }
    },
    30_000,
  );
});
