/**
 * Every error the SDK can show a user, produced for real: WeChat errcodes through the HttpClient against the
 * sandbox's fault injection, transport failures (hang, HTML, 502, refused connection) and bad configuration.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  WechatApiError,
  WechatError,
  WechatTransportError,
  errcodeKind,
  isTokenInvalidError,
  type WechatApiErrorKind,
} from '../lib/errors';
import { HttpClient } from '../lib/http/HttpClient';
import type { Sandbox } from '../lib/sandbox';
import { Store } from '../lib/store/Store';
import { Wechat, type WechatOptions } from '../lib/Wechat';
import { APP, sandboxWith } from './helpers';

/** What each documented errcode means, and a phrase of the advice its message must give. */
const CASES: Array<[number, WechatApiErrorKind, RegExp]> = [
  [40001, 'token_invalid', /access_token was revoked or expired/],
  [40014, 'token_invalid', /access_token was revoked or expired/],
  [42001, 'token_invalid', /access_token was revoked or expired/],
  [42007, 'token_invalid', /access_token was revoked or expired/],
  [45009, 'quota', /quota is used up/],
  [45011, 'quota', /quota is used up/],
  [40164, 'ip_whitelist', /IP whitelist/],
  [40013, 'bad_credentials', /check appId and appSecret/],
  [40125, 'bad_credentials', /check appId and appSecret/],
  [40029, 'code_invalid', /restart the login/],
  [40163, 'code_used', /already used/],
  [40030, 'refresh_token_invalid', /authorization again/],
  [42002, 'refresh_token_invalid', /authorization again/],
  [48001, 'scope', /snsapi_userinfo/],
  [-1, 'system_busy', /try again/],
];

const PATH = '/cgi-bin/ticket/getticket';

let sandbox: Sandbox;
let client: HttpClient;

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
  client = new HttpClient({ apiUrl: sandbox.url, appId: APP.appId });
});

afterAll(async () => {
  client.close();
  await sandbox.close();
});

afterEach(() => sandbox.clearFaults());

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('WechatApiError from real WeChat answers', () => {
  test.each(CASES)(
    'errcode %i is kind %s with errcode, errmsg, rid, path, appId and advice',
    async (errcode, kind, advice) => {
      sandbox.fault(PATH, { errcode, errmsg: `sandbox says ${errcode}`, times: 1 });
      // Not idempotent, so -1 is not retried here (retries are covered in the HttpClient tests).
      const err = await failure(client.get(PATH, { access_token: 'whatever', type: 'jsapi' }, { idempotent: false }));

      expect(err).toBeInstanceOf(WechatApiError);
      expect(err).toBeInstanceOf(WechatError);
      const e = err as WechatApiError;
      expect(e.name).toBe('WechatApiError');
      expect(e.errcode).toBe(errcode);
      expect(e.kind).toBe(kind);
      expect(e.code).toBe(`ERRCODE_${errcode}`);
      expect(e.errmsg).toMatch(new RegExp(`^sandbox says ${errcode} rid: [0-9a-f]{8}-[0-9a-f]{8}$`));
      // The rid is WeChat's request id, quoted to WeChat support: it must be the one in errmsg.
      expect(e.rid).toBe(/rid: (\S+)$/.exec(e.errmsg)![1]);
      expect(e.path).toBe(PATH);
      expect(e.appId).toBe(APP.appId);
      expect(e.message).toContain(PATH);
      expect(e.message).toContain(`errcode ${errcode}`);
      expect(e.message).toContain(APP.appId);
      expect(e.message).toMatch(advice);
      expect(e.isTokenInvalid).toBe(kind === 'token_invalid');
      expect(isTokenInvalidError(e)).toBe(kind === 'token_invalid');
      expect(sandbox.calls(PATH)).toBeGreaterThan(0);
    },
  );

  test('errcodes come from the real sandbox rules too, not only from injected faults', async () => {
    const err = await failure(client.get(PATH, { access_token: 'not-a-token', type: 'jsapi' }));
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).errcode).toBe(40001);
    expect((err as WechatApiError).kind).toBe('token_invalid');
    expect((err as WechatApiError).rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}$/);
  });

  test('an errcode without special meaning is kind "other" and still typed', async () => {
    sandbox.fault(PATH, { errcode: 40097, errmsg: 'invalid args', times: 1 });
    const err = (await failure(client.get(PATH, {}, { idempotent: false }))) as WechatApiError;
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.kind).toBe('other');
    expect(err.errcode).toBe(40097);
    expect(errcodeKind(40097)).toBe('other');
  });

  test('an errmsg without a rid leaves rid undefined', () => {
    const err = new WechatApiError({ errcode: 40001, errmsg: 'invalid credential', path: PATH });
    expect(err.rid).toBeUndefined();
    expect(err.appId).toBeUndefined();
    expect(err.message).not.toContain('appId');
  });
});

describe('WechatTransportError', () => {
  test('an upstream that hangs times out with a typed error instead of waiting forever', async () => {
    const quick = new HttpClient({ apiUrl: sandbox.url, timeout: 300, appId: APP.appId });
    try {
      sandbox.fault(PATH, { hang: true });
      const err = (await failure(quick.get(PATH, { type: 'jsapi' }, { idempotent: false }))) as WechatTransportError;
      expect(err).toBeInstanceOf(WechatTransportError);
      expect(err).toBeInstanceOf(WechatError);
      expect(err.code).toBe('TRANSPORT');
      expect(err.message).toMatch(/timed out after 300ms/);
      expect(err.path).toBe(PATH);
      expect(err.status).toBeUndefined();
      // A per-call timeout overrides the client's.
      const err2 = (await failure(
        client.get(PATH, { type: 'jsapi' }, { idempotent: false, timeout: 200 }),
      )) as WechatTransportError;
      expect(err2).toBeInstanceOf(WechatTransportError);
      expect(err2.message).toMatch(/timed out after 200ms/);
    } finally {
      quick.close();
    }
  });

  test('an HTML page (a gateway or captive portal) is a transport error, not a parse crash', async () => {
    sandbox.fault(PATH, { body: '<html><body><h1>502 Bad Gateway</h1></body></html>' });
    const err = (await failure(client.get(PATH, { type: 'jsapi' }))) as WechatTransportError;
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(err.status).toBe(200);
    expect(err.message).toMatch(/HTML/);
    expect(err.path).toBe(PATH);
  });

  test('a body that is not JSON, or JSON that is not an object, is a transport error', async () => {
    sandbox.fault(PATH, { body: 'service unavailable' });
    const err = (await failure(client.get(PATH, {}))) as WechatTransportError;
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(err.message).toMatch(/not JSON/);
    sandbox.fault(PATH, { body: '42' });
    const err2 = (await failure(client.get(PATH, {}))) as WechatTransportError;
    expect(err2).toBeInstanceOf(WechatTransportError);
    expect(err2.message).toMatch(/JSON number/);
  });

  test('HTTP 502 is a transport error carrying the status', async () => {
    sandbox.fault(PATH, { status: 502, body: '<html>Bad Gateway</html>' });
    const err = (await failure(client.get(PATH, { type: 'jsapi' }, { idempotent: false }))) as WechatTransportError;
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('HTTP 502');
  });

  test('a refused connection is a transport error', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const dead = new HttpClient({ apiUrl: `http://127.0.0.1:${port}` });
    try {
      const err = (await failure(dead.get('/cgi-bin/token', {}, { idempotent: false }))) as WechatTransportError;
      expect(err).toBeInstanceOf(WechatTransportError);
      expect(err.message).toMatch(/network error ECONNREFUSED/);
      expect(err.cause).toBeInstanceOf(Error);
    } finally {
      dead.close();
    }
  });
});

describe('ConfigError at construction', () => {
  const expectConfigError = (make: () => unknown, option: string, text?: RegExp) => {
    let caught: unknown;
    try {
      make();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught).toBeInstanceOf(WechatError);
    const e = caught as ConfigError;
    expect(e.option).toBe(option);
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain(`"${option}"`);
    if (text) expect(e.message).toMatch(text);
  };

  test('HttpClient: apiUrl that is not a URL, a non-http protocol, a bad timeout', () => {
    expectConfigError(() => new HttpClient({ apiUrl: 'not a url' }), 'apiUrl', /is not a URL/);
    expectConfigError(() => new HttpClient({ apiUrl: 'api.weixin.qq.com' }), 'apiUrl', /is not a URL/);
    expectConfigError(() => new HttpClient({ apiUrl: 'ftp://api.weixin.qq.com' }), 'apiUrl', /http or https/);
    expectConfigError(() => new HttpClient({ apiUrl: 'file:///etc/passwd' }), 'apiUrl', /http or https/);
    for (const timeout of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number]) {
      expectConfigError(() => new HttpClient({ timeout }), 'timeout', /positive number/);
    }
    // Valid values construct fine; a trailing slash is dropped so paths join cleanly.
    const ok = new HttpClient({ apiUrl: 'http://127.0.0.1:1/', timeout: 1 });
    expect(ok.apiUrl).toBe('http://127.0.0.1:1');
    ok.close();
  });

  const base = (): WechatOptions => ({
    appId: APP.appId,
    appSecret: APP.appSecret,
    apiUrl: sandbox.url,
    store: new Store({ noInterval: true }),
  });

  test('new Wechat({}) and missing or empty appId / appSecret name the option', () => {
    expectConfigError(() => new Wechat({} as WechatOptions), 'options', /appId, appSecret/);
    expectConfigError(() => new Wechat(undefined as unknown as WechatOptions), 'options');
    expectConfigError(() => new Wechat({ appSecret: APP.appSecret } as WechatOptions), 'appId', /appId is required/);
    expectConfigError(() => new Wechat({ appId: APP.appId } as WechatOptions), 'appSecret', /appSecret is required/);
    expectConfigError(() => new Wechat({ ...base(), appId: '  ' }), 'appId');
    expectConfigError(() => new Wechat({ ...base(), appSecret: 42 as unknown as string }), 'appSecret');
  });

  test('new Wechat with a bad apiUrl or timeout names the option', () => {
    expectConfigError(() => new Wechat({ ...base(), apiUrl: 'localhost:3000' }), 'apiUrl');
    expectConfigError(() => new Wechat({ ...base(), apiUrl: 'ws://localhost:3000' }), 'apiUrl', /http or https/);
    expectConfigError(() => new Wechat({ ...base(), timeout: -1 }), 'timeout');
  });

  test('the ConfigError for a missing appSecret never echoes the other options', () => {
    try {
      new Wechat({ appId: APP.appId, appSecret: '', wechatToken: 'server-token-value' } as WechatOptions);
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect(JSON.stringify(err)).not.toContain('server-token-value');
      expect((err as Error).message).not.toContain('server-token-value');
    }
  });
});
