/**
 * No secret reaches a log line or an error. We capture the real `debug` output of the SDK while it makes calls
 * that carry secrets (appSecret in the token query and the stable_token body, access_token in the ticket query,
 * js_code and OAuth codes, refresh_token) and while it fails, then look for every secret the sandbox ever
 * issued in the captured lines and in the errors (message, JSON, util.inspect including `cause`).
 */
import util from 'node:util';
import createDebug from 'debug';
import { WechatApiError, WechatError, WechatTransportError } from '../lib/errors';
import { HttpClient } from '../lib/http/HttpClient';
import { REDACTED, fingerprint, redact, redactUrl } from '../lib/redact';
import type { Sandbox } from '../lib/sandbox';
import type { Wechat } from '../lib/Wechat';
import { APP, APP2, sandboxWith, wechatOn } from './helpers';

const lines: string[] = [];
const errors: unknown[] = [];
let sandbox: Sandbox;
let originalLog: typeof createDebug.log;
const wechats: Wechat[] = [];
const clients: HttpClient[] = [];

beforeAll(async () => {
  sandbox = await sandboxWith(APP, APP2);
  originalLog = createDebug.log;
  // `wechat` is the facade's namespace, `wechat:*` everything below it.
  createDebug.enable('wechat,wechat:*');
  createDebug.log = (...args: unknown[]) => {
    lines.push(util.format(...args));
  };
});

afterAll(async () => {
  createDebug.disable();
  createDebug.log = originalLog;
  for (const wx of wechats) await wx.close();
  for (const c of clients) c.close();
  await sandbox.close();
});

/** Every secret value the sandbox has handed out so far, plus the apps' secrets. */
function secrets(): string[] {
  const all = [
    APP.appSecret,
    APP2.appSecret,
    ...sandbox.tokens.keys(),
    ...sandbox.tokenState.tickets.keys(),
    ...sandbox.oauthState.codes.keys(),
    ...sandbox.oauthState.accessTokens.keys(),
    ...sandbox.oauthState.refreshTokens.keys(),
    ...sandbox.miniProgramState.codes.keys(),
    ...sandbox.miniProgramState.sessionKeys.values(),
  ];
  return [...new Set(all)];
}

function leaks(text: string): string[] {
  return secrets().filter((secret) => text.includes(secret));
}

/** Everything a user might print or ship to a log service about an error. */
function renderings(err: unknown): string[] {
  const e = err as Error & { cause?: unknown };
  return [
    String(e.message),
    String(e.stack),
    JSON.stringify(e),
    JSON.stringify({ ...e, cause: e.cause }),
    util.inspect(e, { depth: Infinity, showHidden: true }),
    util.inspect(e.cause, { depth: Infinity, showHidden: true }),
    util.format('%o', e),
  ];
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    errors.push(err);
    return err;
  }
  throw new Error('expected the call to fail');
}

function wechat(options: Parameters<typeof wechatOn>[1], app = APP): Wechat {
  const wx = wechatOn(sandbox, options, app);
  wechats.push(wx);
  return wx;
}

function client(options: ConstructorParameters<typeof HttpClient>[0] = {}): HttpClient {
  const c = new HttpClient({ apiUrl: sandbox.url, appId: APP.appId, ...options });
  clients.push(c);
  return c;
}

describe('secrets never reach debug output or errors', () => {
  test('the leak check itself finds a secret (so a pass below means something)', () => {
    expect(leaks(`token fetched with secret ${APP.appSecret}`)).toEqual([APP.appSecret]);
  });

  test('classic token fetch (appSecret in the query) and ticket fetch (access_token in the query)', async () => {
    const wx = wechat({ tokenSource: 'classic' });
    const ticket = await wx.credentials.jsapiTicket.get();
    expect(sandbox.liveTickets(APP.appId)).toContain(ticket);
    expect(sandbox.calls('/cgi-bin/token')).toBeGreaterThan(0);
    // A signature drives the same credentials through the JS-SDK path.
    const signature = await wx.jssdk.getSignature('https://example.com/page');
    expect(signature.signature).toMatch(/^[0-9a-f]{40}$/);
  });

  test('stable_token (appSecret in the JSON body) and a dead token recovered by force_refresh', async () => {
    const wx = wechat({}, APP2);
    const first = await wx.credentials.accessToken.get();
    await wx.credentials.jsapiTicket.get();
    // WeChat revokes the token but stable_token keeps returning it: the SDK must see 40001 and force_refresh.
    sandbox.revokeStableToken(APP2.appId);
    await wx.credentials.jsapiTicket.refresh({ force: true });
    expect(await wx.credentials.accessToken.get()).not.toBe(first);
  });

  test('jscode2session (js_code, appSecret, session_key) and OAuth (code, access_token, refresh_token)', async () => {
    const http = client();
    const jsCode = sandbox.mpLogin(APP.appId, 'alice');
    const session = await http.get<{ session_key: string; openid: string }>('/sns/jscode2session', {
      appid: APP.appId,
      secret: APP.appSecret,
      js_code: jsCode,
      grant_type: 'authorization_code',
    });
    expect(session.session_key).toEqual(expect.any(String));
    // Reusing the js_code fails; the error must not carry it.
    const used = await failure(
      http.get('/sns/jscode2session', {
        appid: APP.appId,
        secret: APP.appSecret,
        js_code: jsCode,
        grant_type: 'authorization_code',
      }),
    );
    expect((used as WechatApiError).kind).toBe('code_used');

    const code = sandbox.authorize(APP.appId, 'bob', 'snsapi_userinfo');
    const exchange = { appid: APP.appId, secret: APP.appSecret, code, grant_type: 'authorization_code' };
    const token = await http.get<{ access_token: string; refresh_token: string; openid: string }>(
      '/sns/oauth2/access_token',
      exchange,
    );
    const refreshed = await http.get<{ access_token: string }>('/sns/oauth2/refresh_token', {
      appid: APP.appId,
      grant_type: 'refresh_token',
      refresh_token: token.refresh_token,
    });
    await http.get('/sns/userinfo', { access_token: refreshed.access_token, openid: token.openid, lang: 'en' });
    expect(((await failure(http.get('/sns/oauth2/access_token', exchange))) as WechatApiError).kind).toBe('code_used');
    const wrongApp = { ...exchange, code: sandbox.authorize(APP.appId, 'bob', 'snsapi_base'), secret: 'not-it' };
    expect(((await failure(http.get('/sns/oauth2/access_token', wrongApp))) as WechatApiError).kind).toBe(
      'bad_credentials',
    );
  });

  test('errors from every layer: token errors, WeChat echoing secrets in errmsg, timeouts, 5xx, refused', async () => {
    const http = client({ timeout: 200 });
    const [liveToken] = [...sandbox.tokens.keys()];
    const ticketQuery = { access_token: liveToken, type: 'jsapi' };

    // WeChat sometimes echoes request values in errmsg; they must be scrubbed from errmsg and message.
    sandbox.fault('/cgi-bin/ticket/getticket', {
      errcode: 40001,
      errmsg: `invalid credential, access_token=${liveToken} {"secret":"${APP.appSecret}"}`,
      times: 1,
    });
    const echoed = (await failure(http.get('/cgi-bin/ticket/getticket', ticketQuery))) as WechatApiError;
    expect(echoed.errmsg).toContain(REDACTED);
    expect(echoed.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}$/);

    sandbox.fault('/cgi-bin/ticket/getticket', { hang: true, times: 1 });
    expect(await failure(http.get('/cgi-bin/ticket/getticket', ticketQuery, { idempotent: false }))).toBeInstanceOf(
      WechatTransportError,
    );
    sandbox.fault('/cgi-bin/token', { status: 502, body: '<html>bad gateway</html>', times: 3 });
    expect(
      await failure(
        http.get('/cgi-bin/token', { grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret }),
      ),
    ).toBeInstanceOf(WechatTransportError);
    sandbox.fault('/cgi-bin/stable_token', { hang: true, times: 1 });
    expect(
      await failure(
        http.post('/cgi-bin/stable_token', {
          grant_type: 'client_credential',
          appid: APP.appId,
          secret: APP.appSecret,
        }),
      ),
    ).toBeInstanceOf(WechatTransportError);

    const refused = new HttpClient({ apiUrl: 'http://127.0.0.1:9' });
    clients.push(refused);
    expect(await failure(refused.get('/cgi-bin/ticket/getticket', ticketQuery, { idempotent: false }))).toBeInstanceOf(
      WechatTransportError,
    );

    // Through the facade: a wrong secret while fetching a token, and a dead token while fetching a ticket.
    const wrong = wechat({ appSecret: 'wrong-secret-value-123', tokenSource: 'classic' });
    expect(((await failure(wrong.credentials.accessToken.get())) as WechatApiError).kind).toBe('bad_credentials');
    sandbox.fault('/cgi-bin/ticket/getticket', { errcode: 42001, times: 5 });
    const wx = wechat({ tokenSource: 'classic' });
    expect(await failure(wx.credentials.jsapiTicket.get())).toBeInstanceOf(WechatError);
    sandbox.clearFaults();
  });

  test('nothing captured contains a secret', () => {
    const all = secrets();
    // The calls above really ran: many secrets were issued and many lines were logged.
    expect(all.length).toBeGreaterThan(15);
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((l) => l.includes('/cgi-bin/token'))).toBe(true);
    expect(lines.some((l) => l.includes('/sns/jscode2session'))).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(8);

    // The log shows queries, with the secret parameters redacted rather than dropped.
    for (const field of ['secret', 'access_token', 'js_code', 'code', 'refresh_token']) {
      expect(lines.some((l) => l.includes(`${field}=${REDACTED}`))).toBe(true);
    }
    expect(lines.flatMap(leaks)).toEqual([]);
    for (const err of errors) {
      for (const text of renderings(err)) expect({ text, leaks: leaks(text) }).toEqual({ text, leaks: [] });
    }
    // "wrong-secret-value-123" was a secret too, even though WeChat rejected it.
    expect([...lines, ...errors.flatMap(renderings)].filter((t) => t.includes('wrong-secret-value-123'))).toEqual([]);
  });

  test('the facade keeps no secret on its public surface', () => {
    for (const wx of wechats) {
      expect(JSON.stringify(wx.options)).not.toContain(APP.appSecret);
      expect(util.inspect(wx.options, { depth: Infinity })).not.toContain(APP.appSecret);
      expect(util.inspect(wx.http, { depth: 3 })).not.toContain(APP.appSecret);
    }
  });
});

describe('redact()', () => {
  test('query strings and form bodies: secret parameters go, the rest stays', () => {
    const url =
      'https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx123&secret=S3CR3T&x=1#frag';
    expect(redact(url)).toBe(
      `https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx123&secret=${REDACTED}&x=1#frag`,
    );
    expect(redact('/cgi-bin/ticket/getticket?access_token=TOK.en-_1&type=jsapi')).toBe(
      `/cgi-bin/ticket/getticket?access_token=${REDACTED}&type=jsapi`,
    );
    expect(redact('/sns/jscode2session?appid=wx&js_code=JS1&secret=S&grant_type=authorization_code')).toBe(
      `/sns/jscode2session?appid=wx&js_code=${REDACTED}&secret=${REDACTED}&grant_type=authorization_code`,
    );
    expect(redact('?code=C0DE&state=st&openid=o1&refresh_token=RT')).toBe(
      `?code=${REDACTED}&state=st&openid=o1&refresh_token=${REDACTED}`,
    );
    // Case-insensitive names; names that merely contain a secret name are left alone.
    expect(redact('?AppSecret=X&Access_Token=Y&codex=keep&xcode=keep&keys=keep')).toBe(
      `?AppSecret=${REDACTED}&Access_Token=${REDACTED}&codex=keep&xcode=keep&keys=keep`,
    );
    // A form body starts with the field name, without "?".
    expect(redact('secret=abc&appid=wx')).toBe(`secret=${REDACTED}&appid=wx`);
    expect(redactUrl('secret=abc&appid=wx')).not.toContain('abc');
    // In free text (WeChat errmsg) after a space.
    expect(redact('invalid code=XYZ hint')).toBe(`invalid code=${REDACTED} hint`);
  });

  test('WeChat Pay v3 Authorization header values', () => {
    const header =
      'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="abc",signature="SiGnAtUrE+/=",timestamp="1554208460",serial_no="1DDE"';
    const out = redact(header);
    expect(out).not.toContain('SiGnAtUrE');
    expect(out).toContain('mchid="1900000001"');
    expect(out).toContain('serial_no="1DDE"');
  });

  test('JSON: string values of secret keys go, other keys and numbers stay', () => {
    const json = JSON.stringify({
      access_token: 'AT',
      expires_in: 7200,
      refresh_token: 'RT',
      openid: 'o1',
      scope: 'snsapi_userinfo',
      session_key: 'SK==',
      nested: { ticket: 'TK', appSecret: 'AS', sessionKey: 'SK2', refreshToken: 'RT2' },
    });
    const out = redact(json);
    for (const secret of ['"AT"', '"RT"', '"SK=="', '"TK"', '"AS"', '"SK2"', '"RT2"'])
      expect(out).not.toContain(secret);
    expect(JSON.parse(out)).toEqual({
      access_token: REDACTED,
      expires_in: 7200,
      refresh_token: REDACTED,
      openid: 'o1',
      scope: 'snsapi_userinfo',
      session_key: REDACTED,
      nested: { ticket: REDACTED, appSecret: REDACTED, sessionKey: REDACTED, refreshToken: REDACTED },
    });
    // Spacing, and an escaped quote inside the value (the rest of the value must not survive).
    expect(redact('{ "secret" : "ab\\"cd-tail" }')).toBe(`{ "secret" : "${REDACTED}" }`);
  });

  test('XML: plain and CDATA values of secret tags go, other tags stay', () => {
    const xml =
      '<xml><appid><![CDATA[wx2421b1c4370ec43b]]></appid><sign><![CDATA[0CB01533B8C1EF103065174F50BCA001]]></sign>' +
      '<sign_type>MD5</sign_type><key>paykey123</key><mch_id>10000100</mch_id><session_key>SK</session_key></xml>';
    expect(redact(xml)).toBe(
      `<xml><appid><![CDATA[wx2421b1c4370ec43b]]></appid><sign>${REDACTED}</sign>` +
        `<sign_type>MD5</sign_type><key>${REDACTED}</key><mch_id>10000100</mch_id><session_key>${REDACTED}</session_key></xml>`,
    );
    // A CDATA value containing "<" or "]]" characters does not leak its tail.
    expect(redact('<xml><sign><![CDATA[a<b]c]]></sign></xml>')).toBe(`<xml><sign>${REDACTED}</sign></xml>`);
  });

  test('text without secrets is unchanged', () => {
    const text = 'GET /cgi-bin/token -> 200 in 12ms {"errcode":0,"errmsg":"ok","expires_in":7200}';
    expect(redact(text)).toBe(text);
  });

  test('fingerprint: stable, short, distinct, and not the value', () => {
    const a = fingerprint('token-value-A');
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(fingerprint('token-value-A')).toBe(a);
    expect(fingerprint('token-value-B')).not.toBe(a);
    expect(a).not.toContain('token');
    expect(fingerprint(undefined)).toBe('-');
    expect(fingerprint('')).toBe('-');
  });
});
