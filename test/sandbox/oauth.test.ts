/**
 * The sandbox's OAuth rules over HTTP: the consent page and its redirect, code lifetime and single use, user
 * access tokens, refresh tokens, /sns/userinfo scope and language, /sns/auth.
 */
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import { DEFAULT_USERS } from '../../lib/sandbox';
import { CODE_TTL_MS, REFRESH_TOKEN_TTL_MS, USER_TOKEN_TTL_S } from '../../lib/sandbox/routes/oauth';
import { APP, APP2, sandboxWith } from '../helpers';
import { errcode, getJson, getRaw, type Body } from './wire';

const SECOND = 1000;
const OPEN_APP: SandboxApp = { appId: 'wxopen0000000001', appSecret: 'open-secret-0001', kind: 'open' };
const CALLBACK = 'https://app.example.com/wechat/callback?from=menu';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await sandboxWith(APP, APP2, OPEN_APP);
  sandbox.freeze();
});

afterAll(async () => {
  await sandbox.close();
});

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));

function consentUrl(app: SandboxApp, scope: string, path = '/connect/oauth2/authorize', redirect = CALLBACK): string {
  const q = new URLSearchParams({
    appid: app.appId,
    redirect_uri: redirect,
    response_type: 'code',
    scope,
    state: 'st-42',
  });
  return `${path}?${q}#wechat_redirect`;
}

/** The Allow links of a consent page, by user id. */
async function allowLinks(url: string): Promise<Record<string, string>> {
  const res = await getRaw(sandbox, url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  const html = await res.text();
  const links: Record<string, string> = {};
  for (const m of html.matchAll(/<a class="allow" data-user="([^"]+)" href="([^"]+)"/g))
    links[m[1]] = unescapeHtml(m[2]);
  return links;
}

/** Go through the consent page as `userId` and return the redirect target. */
async function consent(app: SandboxApp, userId: string, scope: string, path?: string): Promise<URL> {
  const links = await allowLinks(consentUrl(app, scope, path));
  expect(links[userId]).toBeDefined();
  const res = await getRaw(sandbox, links[userId]);
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

const exchange = (app: SandboxApp, code: string): Promise<Body> =>
  getJson(sandbox, '/sns/oauth2/access_token', {
    appid: app.appId,
    secret: app.appSecret,
    code,
    grant_type: 'authorization_code',
  });

const refresh = (app: SandboxApp, refreshToken: string): Promise<Body> =>
  getJson(sandbox, '/sns/oauth2/refresh_token', {
    appid: app.appId,
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });

const userinfo = (token: Body, lang?: string): Promise<Body> =>
  getJson(sandbox, '/sns/userinfo', {
    access_token: token.access_token,
    openid: token.openid,
    ...(lang ? { lang } : {}),
  });

async function login(app: SandboxApp, userId: string, scope = 'snsapi_userinfo'): Promise<Body> {
  const token = await exchange(app, sandbox.authorize(app.appId, userId, scope));
  expect(errcode(token)).toBe(0);
  return token;
}

describe('consent page', () => {
  test('lists every test user with an Allow link', async () => {
    const res = await getRaw(sandbox, consentUrl(APP, 'snsapi_userinfo'));
    const html = await res.text();
    for (const user of DEFAULT_USERS) expect(html).toContain(user.nickname);
    expect(html).toContain('snsapi_userinfo');
    expect(Object.keys(await allowLinks(consentUrl(APP, 'snsapi_userinfo')))).toEqual(DEFAULT_USERS.map((u) => u.id));
    // snsapi_base is silent in WeChat; the page says so but still lets you pick the user.
    expect(await (await getRaw(sandbox, consentUrl(APP, 'snsapi_base'))).text()).toMatch(/silent/);
  });

  test('Allow redirects to redirect_uri with code and state, keeping its own query', async () => {
    const target = await consent(APP, 'bob', 'snsapi_userinfo');
    expect(`${target.origin}${target.pathname}`).toBe('https://app.example.com/wechat/callback');
    expect(target.searchParams.get('from')).toBe('menu');
    expect(target.searchParams.get('state')).toBe('st-42');
    const code = target.searchParams.get('code')!;
    expect(code).toEqual(expect.any(String));

    const token = await exchange(APP, code);
    expect(errcode(token)).toBe(0);
    expect(token.openid).toBe(sandbox.openid(APP.appId, 'bob'));
    expect(token.scope).toBe('snsapi_userinfo');
    expect(token.expires_in).toBe(USER_TOKEN_TTL_S);
    expect(token.refresh_token).toEqual(expect.any(String));
  });

  test('website QR login (/connect/qrconnect) works with snsapi_login', async () => {
    const target = await consent(OPEN_APP, 'carol', 'snsapi_login', '/connect/qrconnect');
    const token = await exchange(OPEN_APP, target.searchParams.get('code')!);
    expect(token.scope).toBe('snsapi_login');
    expect(token.openid).toBe(sandbox.openid(OPEN_APP.appId, 'carol'));
    expect(token.unionid).toBe(sandbox.unionid('carol'));
  });

  test('a bad request shows an error page naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      [consentUrl({ appId: 'wxnosuchapp00000', appSecret: 'x' }, 'snsapi_base'), /unknown appid wxnosuchapp00000/],
      [consentUrl(APP, 'snsapi_login'), /scope must be snsapi_base or snsapi_userinfo/],
      [consentUrl(OPEN_APP, 'snsapi_userinfo', '/connect/qrconnect'), /scope must be snsapi_login/],
      [consentUrl(APP, 'snsapi_base', undefined, '/relative/callback'), /redirect_uri must be an absolute/],
      [
        consentUrl(APP, 'snsapi_base').replace('response_type=code', 'response_type=token'),
        /response_type must be code/,
      ],
    ];
    for (const [url, problem] of cases) {
      const res = await getRaw(sandbox, url);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(problem);
    }
    // The confirm step refuses an unknown user.
    const links = await allowLinks(consentUrl(APP, 'snsapi_base'));
    expect((await getRaw(sandbox, links.alice.replace('user=alice', 'user=mallory'))).status).toBe(400);
  });
});

describe('codes', () => {
  test('a code works once: 40163 on reuse', async () => {
    const code = sandbox.authorize(APP.appId, 'alice', 'snsapi_base');
    expect(errcode(await exchange(APP, code))).toBe(0);
    const reused = await exchange(APP, code);
    expect(errcode(reused)).toBe(40163);
    expect(reused.access_token).toBeUndefined();
  });

  test('an unknown code, or another app’s code, gives 40029', async () => {
    expect(errcode(await exchange(APP, 'no-such-code'))).toBe(40029);
    expect(errcode(await exchange(APP2, sandbox.authorize(APP.appId, 'alice', 'snsapi_base')))).toBe(40029);
  });

  test('a code expires after 5 minutes with 40029', async () => {
    const early = sandbox.authorize(APP.appId, 'alice', 'snsapi_base');
    const late = sandbox.authorize(APP.appId, 'alice', 'snsapi_base');
    sandbox.advance(CODE_TTL_MS - SECOND);
    expect(errcode(await exchange(APP, early))).toBe(0);
    sandbox.advance(SECOND);
    expect(errcode(await exchange(APP, late))).toBe(40029);
  });

  test('a wrong secret gives 40125 and does not use up the code', async () => {
    const code = sandbox.authorize(APP.appId, 'alice', 'snsapi_base');
    expect(errcode(await exchange({ ...APP, appSecret: 'wrong' }, code))).toBe(40125);
    expect(errcode(await exchange(APP, code))).toBe(0);
  });
});

describe('refresh_token', () => {
  test('gives a new access_token and keeps the refresh_token', async () => {
    const token = await login(APP, 'alice');
    sandbox.advance(USER_TOKEN_TTL_S * SECOND);
    expect(errcode(await userinfo(token))).toBe(42001);
    const renewed = await refresh(APP, token.refresh_token);
    expect(errcode(renewed)).toBe(0);
    expect(renewed.access_token).not.toBe(token.access_token);
    expect(renewed.refresh_token).toBe(token.refresh_token);
    expect(renewed.openid).toBe(token.openid);
    expect(renewed.scope).toBe('snsapi_userinfo');
    expect(errcode(await userinfo(renewed))).toBe(0);
  });

  test('an invalid refresh_token, or another app’s, gives 40030', async () => {
    expect(errcode(await refresh(APP, 'no-such-refresh-token'))).toBe(40030);
    const token = await login(APP, 'alice');
    expect(errcode(await refresh(APP2, token.refresh_token))).toBe(40030);
  });

  test('a refresh_token expires after 30 days with 42002', async () => {
    const token = await login(APP, 'bob');
    sandbox.advance(REFRESH_TOKEN_TTL_MS - SECOND);
    expect(errcode(await refresh(APP, token.refresh_token))).toBe(0);
    sandbox.advance(SECOND);
    expect(errcode(await refresh(APP, token.refresh_token))).toBe(42002);
  });
});

describe('/sns/userinfo and /sns/auth', () => {
  test('userinfo needs snsapi_userinfo: 48001 with snsapi_base', async () => {
    const base = await login(APP, 'alice', 'snsapi_base');
    expect(errcode(await userinfo(base))).toBe(48001);
    // The token itself is fine for /sns/auth.
    expect(errcode(await getJson(sandbox, '/sns/auth', { access_token: base.access_token, openid: base.openid }))).toBe(
      0,
    );
  });

  test('userinfo returns the profile; lang picks the language of country names', async () => {
    const token = await login(APP, 'alice');
    const zh = await userinfo(token);
    expect(zh).toMatchObject({
      openid: token.openid,
      nickname: 'Alice 爱丽丝',
      sex: 2,
      country: '中国',
      privilege: [],
    });
    expect((await userinfo(token, 'en')).country).toBe('China');
    expect((await userinfo(token, 'zh_TW')).country).toBe('中國');
    expect(zh.unionid).toBeUndefined();
  });

  test('openid differs per app; unionid (when the app has one) is shared', async () => {
    const a = await login(APP, 'carol');
    const b = await login(APP2, 'carol');
    expect(a.openid).not.toBe(b.openid);
    const open = await login(OPEN_APP, 'carol', 'snsapi_login');
    expect((await userinfo(open)).unionid).toBe(sandbox.unionid('carol'));
  });

  test('userinfo and auth reject an unknown token (40001), an expired one (42001) and a wrong openid (40003)', async () => {
    const token = await login(APP, 'bob');
    for (const path of ['/sns/userinfo', '/sns/auth']) {
      expect(errcode(await getJson(sandbox, path, { access_token: 'nope', openid: token.openid }))).toBe(40001);
      expect(
        errcode(
          await getJson(sandbox, path, {
            access_token: token.access_token,
            openid: sandbox.openid(APP.appId, 'alice'),
          }),
        ),
      ).toBe(40003);
      expect(errcode(await getJson(sandbox, path, { access_token: token.access_token, openid: token.openid }))).toBe(0);
    }
    sandbox.advance(USER_TOKEN_TTL_S * SECOND);
    expect(
      errcode(await getJson(sandbox, '/sns/auth', { access_token: token.access_token, openid: token.openid })),
    ).toBe(42001);
  });
});
