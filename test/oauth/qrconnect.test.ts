/** Website QR login (open platform, scope snsapi_login) against a sandbox app of kind `open`. */
import { WechatApiError } from '../../lib/errors';
import { TOKEN_PATH } from '../../lib/oauth/client';
import { startSandbox, type Sandbox, type SandboxApp } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { APP, HOUR, wechatOn } from '../helpers';
import { consent, rejection } from './consent';

const OPEN: SandboxApp = { appId: 'wxopen0000000001', appSecret: 'open-platform-secret-1', kind: 'open' };
const CALLBACK = 'https://www.shop.example/login/wechat';

let sandbox: Sandbox;
let wx: Wechat;

beforeAll(async () => {
  sandbox = await startSandbox({ apps: [APP, OPEN] });
  wx = wechatOn(sandbox, {
    oauthUrl: `${sandbox.url}/connect/oauth2/authorize`,
    qrConnectUrl: `${sandbox.url}/connect/qrconnect`,
    openPlatform: { appId: OPEN.appId, appSecret: OPEN.appSecret },
  });
});
afterAll(async () => {
  await wx.close();
  await sandbox.close();
});

describe('website QR login', () => {
  it('runs the whole flow: QR page, Allow, state check, profile with unionid', async () => {
    const state = wx.oauth.createState('desktop-session', { returnTo: '/account' });
    const url = wx.oauth.generateQRConnectUrl(CALLBACK, state);
    expect(url.startsWith(`${sandbox.url}/connect/qrconnect?appid=${OPEN.appId}&`)).toBe(true);
    expect(url).toContain('&scope=snsapi_login&');

    const callback = await consent(url, 'alice');
    expect(callback.location.href.startsWith(`${CALLBACK}?`)).toBe(true);
    expect(wx.oauth.verifyState(callback.state, 'desktop-session').returnTo).toBe('/account');

    const user = await wx.oauth.website!.getUserInfo(callback.code, undefined, true);
    const openid = sandbox.openid(OPEN.appId, 'alice');
    expect(user).toMatchObject({
      openid,
      nickname: 'Alice 爱丽丝',
      unionid: sandbox.unionid('alice'),
      scope: 'snsapi_login',
    });
    // the website openid is not the official-account openid; the unionid links the two
    expect(openid).not.toBe(sandbox.openid(APP.appId, 'alice'));
  });

  it('stores website tokens apart from official-account tokens and refreshes them with the open app', async () => {
    const info = await wx.oauth.website!.getUserBaseInfo(
      sandbox.authorize(OPEN.appId, 'bob', 'snsapi_login'),
      'same-key',
    );
    const mp = await wx.oauth.getUserBaseInfo(sandbox.authorize(APP.appId, 'carol', 'snsapi_base'), 'same-key');
    expect((await wx.store.getOAuthAccessToken('same-key'))?.openid).toBe(mp.openid);
    expect((await wx.store.getOAuthAccessToken(`open:${OPEN.appId}:same-key`))?.openid).toBe(info.openid);
    expect((await wx.oauth.website!.getAccessToken(undefined, 'same-key')).openid).toBe(
      sandbox.openid(OPEN.appId, 'bob'),
    );

    sandbox.advance(2 * HOUR + 60_000);
    const renewed = await wx.oauth.website!.getAccessToken(undefined, 'same-key');
    expect(renewed.access_token).not.toBe(info.access_token);
    expect(renewed.openid).toBe(info.openid);
  });

  it("reports the open app's appId on its errors, and a code of one app does not work for the other", async () => {
    const err = await rejection(wx.oauth.website!.getUserInfo('CODE_unknown'));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ kind: 'code_invalid', appId: OPEN.appId, path: TOKEN_PATH });
    expect(err.message).not.toContain(OPEN.appSecret);

    const websiteCode = sandbox.authorize(OPEN.appId, 'carol', 'snsapi_login');
    expect(await rejection(wx.oauth.getUserInfo(websiteCode))).toMatchObject({
      kind: 'code_invalid',
      appId: APP.appId,
    });
  });
});
