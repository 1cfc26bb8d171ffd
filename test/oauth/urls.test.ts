import { inspect } from 'node:util';
import { ConfigError, WechatError } from '../../lib/errors';
import { Store } from '../../lib/store/Store';
import { Wechat, type WechatOptions } from '../../lib/Wechat';
import { thrown } from './consent';

const APP_ID = 'wxurl0000000001';
const OPEN_ID = 'wxopen000000001';
const open: Wechat[] = [];

function wechat(options: Partial<WechatOptions> = {}): Wechat {
  const wx = new Wechat({
    appId: APP_ID,
    appSecret: 'url-test-secret',
    store: new Store({ noInterval: true }),
    ...options,
  });
  open.push(wx);
  return wx;
}

afterAll(async () => {
  for (const wx of open) await wx.close();
});

describe('authorize URLs', () => {
  it("equal WeChat's documented form, parameters in order and URI-encoded", () => {
    const wx = wechat();
    expect(wx.oauth.generateOAuthUrl('https://example.com/cb?x=1', 'snsapi_base', 'abc')).toBe(
      `https://open.weixin.qq.com/connect/oauth2/authorize?appid=${APP_ID}&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1&response_type=code&scope=snsapi_base&state=abc#wechat_redirect`,
    );
  });

  it('default to scope snsapi_userinfo and a fresh random state when none is given', () => {
    const wx = wechat();
    const a = new URL(wx.oauth.generateOAuthUrl('https://example.com/cb'));
    const b = new URL(wx.oauth.generateOAuthUrl('https://example.com/cb'));
    expect(a.searchParams.get('scope')).toBe('snsapi_userinfo');
    expect(a.searchParams.get('state')).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(a.searchParams.get('state')).not.toBe(b.searchParams.get('state'));
    expect(a.searchParams.get('state')).not.toBe('userAuth');
    // A random state is not a signed one: the callback cannot treat it as proof of anything.
    expect(thrown(() => wx.oauth.verifyState(a.searchParams.get('state'), 'session')).code).toBe('STATE_INVALID');
  });

  it('accept a state from createState as is', () => {
    const wx = wechat();
    const state = wx.oauth.createState('session-1', { returnTo: '/after/login' });
    const url = new URL(wx.oauth.generateOAuthUrl('https://example.com/cb', 'snsapi_userinfo', state));
    expect(url.searchParams.get('state')).toBe(state);
    expect(wx.oauth.verifyState(url.searchParams.get('state'), 'session-1').returnTo).toBe('/after/login');
  });

  it('refuse states WeChat would reject, bad callbacks and unknown scopes with typed errors', () => {
    const wx = wechat();
    const cb = 'https://example.com/cb';
    for (const state of ['a-b', 'a_b', 'x'.repeat(129), 'état', '']) {
      const err = thrown(() => wx.oauth.generateOAuthUrl(cb, 'snsapi_base', state));
      expect(err).toBeInstanceOf(WechatError);
      expect(err.code).toBe('BAD_STATE');
    }
    expect(wx.oauth.generateOAuthUrl(cb, 'snsapi_base', 'x'.repeat(128))).toContain(`state=${'x'.repeat(128)}#`);
    for (const url of ['/relative/cb', 'ftp://example.com/cb', 'javascript:alert(1)', 'https://']) {
      expect(thrown(() => wx.oauth.generateOAuthUrl(url, 'snsapi_base', 'abc')).code).toBe('BAD_URL');
    }
    expect(thrown(() => wx.oauth.generateOAuthUrl(cb, 'snsapi_login' as never, 'abc')).message).toContain(
      'generateQRConnectUrl',
    );
    expect(thrown(() => wx.oauth.generateOAuthUrl(cb, 'snsapi_all' as never, 'abc')).code).toBe('BAD_SCOPE');
  });

  it('build snsUserInfoUrl and snsUserBaseUrl from wechatRedirectUrl', () => {
    const wx = wechat({ wechatRedirectUrl: 'https://shop.example/wechat/oauth-callback' });
    const info = new URL(wx.oauth.snsUserInfoUrl);
    const base = new URL(wx.oauth.snsUserBaseUrl);
    expect(info.searchParams.get('redirect_uri')).toBe('https://shop.example/wechat/oauth-callback');
    expect(info.searchParams.get('scope')).toBe('snsapi_userinfo');
    expect(base.searchParams.get('scope')).toBe('snsapi_base');
    expect(info.hash).toBe('#wechat_redirect');
    // wechat-jssdk's default callback when none is configured
    expect(new URL(wechat().oauth.snsUserBaseUrl).searchParams.get('redirect_uri')).toBe(
      'http://127.0.0.1/wechat/oauth-callback',
    );
  });

  it('honour the oauthUrl override and its wechat-jssdk spelling oAuthUrl', () => {
    expect(
      wechat({ oauthUrl: 'http://127.0.0.1:9/connect/oauth2/authorize' }).oauth.generateOAuthUrl(
        'https://e.x/cb',
        'snsapi_base',
        's',
      ),
    ).toMatch(/^http:\/\/127\.0\.0\.1:9\/connect\/oauth2\/authorize\?appid=/);
    expect(
      wechat({ oAuthUrl: 'http://127.0.0.1:8/auth' }).oauth.generateOAuthUrl('https://e.x/cb', 'snsapi_base', 's'),
    ).toMatch(/^http:\/\/127\.0\.0\.1:8\/auth\?appid=/);
  });

  it('build the website QR login URL for the open-platform app', () => {
    const wx = wechat({ openPlatform: { appId: OPEN_ID, appSecret: 'open-secret' } });
    expect(wx.oauth.generateQRConnectUrl('https://example.com/cb?x=1', 'abc')).toBe(
      `https://open.weixin.qq.com/connect/qrconnect?appid=${OPEN_ID}&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1&response_type=code&scope=snsapi_login&state=abc#wechat_redirect`,
    );
    expect(wx.oauth.website?.generateQRConnectUrl('https://example.com/cb', 'abc')).toContain(`appid=${OPEN_ID}&`);
  });

  it('say which option is missing when website login is not configured', () => {
    const err = thrown(() => wechat().oauth.generateQRConnectUrl('https://example.com/cb', 'abc'));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('openPlatform');
  });
});

describe('OAuth options', () => {
  it('reject bad values at construction, naming the option', () => {
    const cases: Array<[Partial<WechatOptions>, string]> = [
      [{ openPlatform: { appId: OPEN_ID } as never }, 'openPlatform.appSecret'],
      [{ openPlatform: { appId: '', appSecret: 'x' } }, 'openPlatform.appId'],
      [{ stateSecret: 'short' }, 'stateSecret'],
      [{ oauthStateTtlMs: -5 }, 'oauthStateTtlMs'],
      [{ oauthUrl: 'not a url' }, 'oauthUrl'],
      [{ qrConnectUrl: 'ftp://x', openPlatform: { appId: OPEN_ID, appSecret: 's' } }, 'qrConnectUrl'],
      [{ wechatRedirectUrl: '/relative' }, 'wechatRedirectUrl'],
    ];
    for (const [options, option] of cases) {
      const err = thrown(
        () =>
          new Wechat({
            appId: APP_ID,
            appSecret: 'url-test-secret',
            store: new Store({ noInterval: true }),
            ...options,
          }),
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).option).toBe(option);
    }
  });

  it('keep no secret on wx.options', () => {
    const wx = wechat({
      stateSecret: 'state-secret-0123456789',
      openPlatform: { appId: OPEN_ID, appSecret: 'open-secret-xyz' },
    });
    expect(wx.options.openPlatform).toEqual({ appId: OPEN_ID });
    expect(wx.options).not.toHaveProperty('stateSecret');
    const dump = JSON.stringify(wx.options) + inspect(wx.oauth, { depth: 3, showHidden: true });
    for (const secret of ['state-secret-0123456789', 'open-secret-xyz', 'url-test-secret'])
      expect(dump).not.toContain(secret);
  });
});
