/**
 * Official-account web authorization end to end against the sandbox: authorize URL → consent page → Allow →
 * callback (code, state) → verifyState → code exchange → stored token → refresh → user info.
 */
import { WechatApiError, WechatError, WechatTransportError } from '../../lib/errors';
import { REFRESH_PATH, TOKEN_PATH, USERINFO_PATH } from '../../lib/oauth/client';
import { startSandbox, type Sandbox, type SandboxApp } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { APP, HOUR, MINUTE, wechatOn } from '../helpers';
import { consent, rejection } from './consent';

const APP_U: SandboxApp = { appId: 'wxtest00000000u1', appSecret: 'test-app-secret-unionid', unionid: true };
const CALLBACK = 'https://shop.example/wechat/oauth-callback?from=menu';
const DAY = 24 * HOUR;

let sandbox: Sandbox;
let wx: Wechat;
const extra: Wechat[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ apps: [APP, APP_U] });
});
beforeEach(() => {
  wx = wechatOn(sandbox, { oauthUrl: `${sandbox.url}/connect/oauth2/authorize` });
});
afterEach(async () => {
  await wx.close();
  for (const other of extra.splice(0)) await other.close();
});
afterAll(async () => {
  await sandbox.close();
});

/** A full browser login: returns the callback's code after checking its state. */
async function login(user: string, scope: 'snsapi_base' | 'snsapi_userinfo', session = `session-${user}`, on = wx) {
  const state = on.oauth.createState(session, { returnTo: '/me' });
  const callback = await consent(on.oauth.generateOAuthUrl(CALLBACK, scope, state), user);
  expect(`${callback.location.origin}${callback.location.pathname}`).toBe('https://shop.example/wechat/oauth-callback');
  expect(callback.location.searchParams.get('from')).toBe('menu');
  expect(on.oauth.verifyState(callback.state, session).returnTo).toBe('/me');
  return callback.code;
}

function expectNoSecrets(err: Error, ...secrets: string[]) {
  const text = `${err.message} ${JSON.stringify(err)}`;
  for (const secret of [APP.appSecret, ...secrets]) expect(text).not.toContain(secret);
}

describe('web authorization flows', () => {
  it('snsapi_base: the callback code gives the openid, stored under it', async () => {
    const code = await login('alice', 'snsapi_base');
    const now = sandbox.now();
    const info = await wx.oauth.getUserBaseInfo(code);
    const openid = sandbox.openid(APP.appId, 'alice');
    expect(info).toMatchObject({ openid, key: openid, scope: 'snsapi_base', is_snapshotuser: 0, expires_in: 7200 });
    expect(info.expirationTime).toBeGreaterThan(now + 7200_000 - 2 * MINUTE);
    expect(info.expirationTime).toBeLessThanOrEqual(sandbox.now() + 7200_000);
    expect(info.refreshTokenExpiresAt).toBeGreaterThan(now + 29 * DAY);
    const stored = await wx.store.getOAuthAccessToken(openid);
    expect(stored?.access_token).toBe(info.access_token);
    expect(wx.oauth.isAccessTokenValid(info)).toBe(true);
    expect(await wx.oauth.checkAccessToken(info)).toBe(true);
  });

  it('snsapi_userinfo: the callback code gives the profile', async () => {
    const code = await login('bob', 'snsapi_userinfo');
    const user = await wx.oauth.getUserInfo(code);
    expect(user).toMatchObject({ openid: sandbox.openid(APP.appId, 'bob'), nickname: 'Bob 小明', city: 'Beijing' });
    expect(user).not.toHaveProperty('access_token');
    // the token was stored: the profile can be read again later without a code
    const again = await wx.oauth.getUserInfo(undefined, user.openid, true);
    expect(again).toMatchObject({ nickname: 'Bob 小明', scope: 'snsapi_userinfo' });
    expect(again.access_token).toEqual(expect.any(String));
  });

  it('passes unionid, is_snapshotuser and scope through', async () => {
    const wxu = wechatOn(sandbox, {}, APP_U);
    extra.push(wxu);
    const info = await wxu.oauth.getUserBaseInfo(sandbox.authorize(APP_U.appId, 'carol', 'snsapi_userinfo'));
    expect(info).toMatchObject({ unionid: sandbox.unionid('carol'), is_snapshotuser: 0, scope: 'snsapi_userinfo' });
    const user = await wxu.oauth.getUserInfo(sandbox.authorize(APP_U.appId, 'carol', 'snsapi_userinfo'), 'k', true);
    expect(user).toMatchObject({ unionid: sandbox.unionid('carol'), nickname: 'Carol', scope: 'snsapi_userinfo' });
  });

  it('snsapi_base token asking for the profile: a scope error that says what is missing', async () => {
    const info = await wx.oauth.getUserBaseInfo(await login('alice', 'snsapi_base'));
    const err = await rejection(wx.oauth.getUserInfo(undefined, info.openid));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ errcode: 48001, kind: 'scope', path: USERINFO_PATH, appId: APP.appId });
    expect(err.message).toContain('snsapi_userinfo');
    expectNoSecrets(err, info.access_token);
  });
});

describe('codes', () => {
  it('a reused code is code_used, with advice to restart the login', async () => {
    const code = await login('alice', 'snsapi_userinfo');
    await wx.oauth.getUserInfo(code);
    const err = await rejection(wx.oauth.getUserInfo(code));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ errcode: 40163, kind: 'code_used', path: TOKEN_PATH });
    expect(err.message).toContain('restart the login');
    expectNoSecrets(err, code);
  });

  it('an unknown or expired code is code_invalid, a different kind', async () => {
    const unknown = await rejection(wx.oauth.getUserBaseInfo('CODE_never_issued'));
    expect(unknown).toMatchObject({ errcode: 40029, kind: 'code_invalid' });
    expect(unknown.message).toContain('restart the login');
    expectNoSecrets(unknown, 'CODE_never_issued');

    const code = sandbox.authorize(APP.appId, 'bob', 'snsapi_base');
    sandbox.advance(5 * MINUTE + 1000);
    expect(await rejection(wx.oauth.getUserBaseInfo(code))).toMatchObject({ kind: 'code_invalid' });
  });

  it('a code is sent once: no retry after a lost answer', async () => {
    sandbox.fault(TOKEN_PATH, { status: 502, times: 1 });
    const before = sandbox.calls(TOKEN_PATH);
    const err = await rejection(wx.oauth.getUserBaseInfo(sandbox.authorize(APP.appId, 'bob', 'snsapi_base')));
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(sandbox.calls(TOKEN_PATH) - before).toBe(1);
  });

  it('no code in the callback is a WechatError NO_CODE, and WeChat is not called', async () => {
    const before = sandbox.calls(TOKEN_PATH);
    for (const code of [undefined, null, '']) {
      const err = await rejection(wx.oauth.getUserInfo(code));
      expect(err).toBeInstanceOf(WechatError);
      expect(err).not.toBeInstanceOf(WechatApiError);
      expect(err.code).toBe('NO_CODE');
    }
    expect((await rejection(wx.oauth.getUserBaseInfo(['a', 'b'] as never))).code).toBe('BAD_CODE');
    expect((await rejection(wx.oauth.getAccessToken(undefined, 'nobody'))).code).toBe('NO_TOKEN');
    expect(sandbox.calls(TOKEN_PATH)).toBe(before);
  });
});

describe('stored tokens', () => {
  it('getAccessToken without a code returns the stored token, refreshed once it expires', async () => {
    const first = await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'carol', 'snsapi_userinfo'), 'sess-c');
    expect(first.key).toBe('sess-c');
    const refreshes = sandbox.calls(REFRESH_PATH);
    expect((await wx.oauth.getAccessToken(undefined, 'sess-c')).access_token).toBe(first.access_token);
    expect(sandbox.calls(REFRESH_PATH)).toBe(refreshes);

    sandbox.advance(2 * HOUR + MINUTE);
    expect(wx.oauth.isAccessTokenValid(first)).toBe(false);
    expect(await wx.oauth.checkAccessToken(first)).toBe(false);
    const renewed = await wx.oauth.getAccessToken(undefined, 'sess-c');
    expect(sandbox.calls(REFRESH_PATH)).toBe(refreshes + 1);
    expect(renewed.access_token).not.toBe(first.access_token);
    expect(renewed.openid).toBe(first.openid);
    expect(renewed.expirationTime).toBeGreaterThan(sandbox.now());
    // the refresh_token keeps its original 30 days
    expect(renewed.refreshTokenExpiresAt).toBe(first.refreshTokenExpiresAt);
    expect((await wx.store.getOAuthAccessToken('sess-c'))?.access_token).toBe(renewed.access_token);
    expect(await wx.oauth.getUserInfo(undefined, 'sess-c')).toMatchObject({ nickname: 'Carol' });
  });

  it('concurrent reads of an expired token share one refresh', async () => {
    await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'alice', 'snsapi_base'), 'sess-a');
    sandbox.advance(3 * HOUR);
    const before = sandbox.calls(REFRESH_PATH);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => wx.oauth.getAccessToken(undefined, 'sess-a')));
    expect(sandbox.calls(REFRESH_PATH)).toBe(before + 1);
    expect(new Set(tokens.map((t) => t.access_token)).size).toBe(1);
    // once settled the next expiry refreshes again (the in-flight entry was cleaned up)
    sandbox.advance(3 * HOUR);
    await wx.oauth.getAccessToken(undefined, 'sess-a');
    expect(sandbox.calls(REFRESH_PATH)).toBe(before + 2);
  });

  it('past the 30 days of the refresh_token: cleared, refresh_token_invalid, WeChat not called', async () => {
    await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'bob', 'snsapi_base'), 'sess-b');
    sandbox.advance(30 * DAY);
    const before = sandbox.calls(REFRESH_PATH);
    const err = await rejection(wx.oauth.getAccessToken(undefined, 'sess-b'));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.kind).toBe('refresh_token_invalid');
    expect(err.message).toContain('send the user through authorization again');
    expect(sandbox.calls(REFRESH_PATH)).toBe(before);
    expect(await wx.store.getOAuthAccessToken('sess-b')).toBeUndefined();
    expect((await rejection(wx.oauth.getAccessToken(undefined, 'sess-b'))).code).toBe('NO_TOKEN');
  });

  it.each([40030, 42002])(
    'a refresh rejected with %i clears the record and says to authorize again',
    async (errcode) => {
      const info = await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'bob', 'snsapi_base'), 'sess-x');
      sandbox.advance(2 * HOUR + MINUTE);
      sandbox.fault(REFRESH_PATH, { errcode, times: 1 });
      const err = await rejection(wx.oauth.getAccessToken(undefined, 'sess-x'));
      expect(err).toMatchObject({ errcode, kind: 'refresh_token_invalid', appId: APP.appId });
      expect(err.message).toContain('send the user through authorization again');
      expectNoSecrets(err, info.refresh_token!, info.access_token);
      expect(await wx.store.getOAuthAccessToken('sess-x')).toBeUndefined();
    },
  );

  it('a refresh that fails for another reason keeps the record for the next try', async () => {
    await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'carol', 'snsapi_base'), 'sess-t');
    sandbox.advance(2 * HOUR + MINUTE);
    sandbox.fault(REFRESH_PATH, { status: 503, times: 3 });
    expect(await rejection(wx.oauth.getAccessToken(undefined, 'sess-t'))).toBeInstanceOf(WechatTransportError);
    expect(await wx.store.getOAuthAccessToken('sess-t')).toBeDefined();
    expect((await wx.oauth.getAccessToken(undefined, 'sess-t')).expirationTime).toBeGreaterThan(sandbox.now());
  });

  it('refreshAccessToken(key, tokenInfo) works on a record you hold, and removeAccessToken logs out', async () => {
    const info = await wx.oauth.getAccessToken(sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo'));
    const renewed = await wx.oauth.refreshAccessToken(info.openid!, info, true);
    expect(renewed.access_token).not.toBe(info.access_token);
    expect(await wx.oauth.getUserInfoRemotely(renewed, false, 'en')).toMatchObject({ country: 'China' });
    await wx.oauth.removeAccessToken(info.openid!);
    expect((await rejection(wx.oauth.getAccessToken(undefined, info.openid!))).code).toBe('NO_TOKEN');
  });
});

describe('concurrent logins', () => {
  const users = ['alice', 'bob', 'carol'];
  const nicknames: Record<string, string> = { alice: 'Alice 爱丽丝', bob: 'Bob 小明', carol: 'Carol' };

  it('50 browser logins of 3 users at once never mix users, keyed by session', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const user = users[i % 3];
        const session = `sess-${i}`;
        const code = await login(user, 'snsapi_userinfo', session);
        return { i, user, session, profile: await wx.oauth.getUserInfo(code, session, true) };
      }),
    );
    for (const { user, session, profile } of results) {
      expect(profile.openid).toBe(sandbox.openid(APP.appId, user));
      expect(profile.nickname).toBe(nicknames[user]);
      const stored = await wx.store.getOAuthAccessToken(session);
      expect(stored?.openid).toBe(sandbox.openid(APP.appId, user));
      expect(stored?.access_token).toBe(profile.access_token);
    }
    expect(new Set(results.map((r) => r.profile.access_token)).size).toBe(50);
  });

  it('keyed by openid (the default), each record holds its own user, also across refreshes', async () => {
    const infos = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        wx.oauth.getUserBaseInfo(sandbox.authorize(APP.appId, users[i % 3], 'snsapi_userinfo')),
      ),
    );
    for (const [i, info] of infos.entries()) expect(info.openid).toBe(sandbox.openid(APP.appId, users[i % 3]));
    sandbox.advance(2 * HOUR + MINUTE);
    const refreshed = await Promise.all(
      Array.from({ length: 30 }, (_, i) => wx.oauth.getUserInfo(undefined, sandbox.openid(APP.appId, users[i % 3]))),
    );
    for (const [i, profile] of refreshed.entries()) expect(profile.nickname).toBe(nicknames[users[i % 3]]);
    for (const user of users) {
      const openid = sandbox.openid(APP.appId, user);
      expect((await wx.store.getOAuthAccessToken(openid))?.openid).toBe(openid);
    }
  });
});
