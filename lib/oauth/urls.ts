/**
 * Authorize URLs in the exact form WeChat documents. WeChat's authorize page is picky: the parameters must come in
 * the order `appid, redirect_uri, response_type, scope, state` and the URL must end in `#wechat_redirect`, otherwise
 * some clients show an error page instead of the consent screen. So we build the query by hand, in that order,
 * with `encodeURIComponent` (not querystring's sorted output as wechat-jssdk did).
 */
import { WechatError } from '../errors';

export const DEFAULT_OAUTH_URL = 'https://open.weixin.qq.com/connect/oauth2/authorize';
export const DEFAULT_QRCONNECT_URL = 'https://open.weixin.qq.com/connect/qrconnect';
/** wechat-jssdk's default callback when `wechatRedirectUrl` is not set. */
export const DEFAULT_REDIRECT_URL = 'http://127.0.0.1/wechat/oauth-callback';
export const REDIRECT_HASH = '#wechat_redirect';

export const SCOPE = {
  BASE: 'snsapi_base',
  USER_INFO: 'snsapi_userinfo',
  LOGIN: 'snsapi_login',
} as const;

/** WeChat: "state: a-zA-Z0-9, at most 128 bytes". */
export const STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;

export function checkRedirectUrl(redirectUrl: unknown): string {
  if (typeof redirectUrl !== 'string' || !/^https?:\/\//i.test(redirectUrl)) {
    throw new WechatError(
      `redirectUrl must be an absolute http(s) URL of your OAuth callback, got ${typeof redirectUrl === 'string' ? JSON.stringify(redirectUrl.slice(0, 200)) : typeof redirectUrl}`,
      'BAD_URL',
    );
  }
  try {
    new URL(redirectUrl);
  } catch {
    throw new WechatError(`redirectUrl ${JSON.stringify(redirectUrl.slice(0, 200))} is not a valid URL`, 'BAD_URL');
  }
  return redirectUrl;
}

export function checkState(state: unknown): string {
  if (typeof state !== 'string' || !STATE_PATTERN.test(state)) {
    throw new WechatError(
      'state must be 1-128 characters of [A-Za-z0-9] (a WeChat rule); use wx.oauth.createState(sessionId)',
      'BAD_STATE',
    );
  }
  return state;
}

export interface AuthorizeParams {
  appId: string;
  redirectUrl: string;
  scope: string;
  state: string;
}

/** `<base>?appid=..&redirect_uri=..&response_type=code&scope=..&state=..#wechat_redirect` */
export function buildAuthorizeUrl(base: string, params: AuthorizeParams): string {
  const query = [
    ['appid', params.appId],
    ['redirect_uri', checkRedirectUrl(params.redirectUrl)],
    ['response_type', 'code'],
    ['scope', params.scope],
    ['state', checkState(params.state)],
  ]
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  return `${base}?${query}${REDIRECT_HASH}`;
}
