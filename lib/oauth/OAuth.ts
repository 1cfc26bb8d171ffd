/**
 * `wx.oauth`: official-account web authorization (`snsapi_base` / `snsapi_userinfo`), website QR login through
 * the open platform (`snsapi_login`, `wx.oauth.website`), and the CSRF-safe `state` helpers. Method names follow
 * wechat-jssdk 5.x (`generateOAuthUrl`, `snsUserInfoUrl`, `getUserInfo`, `getAccessToken`, ...).
 *
 * A login in three steps:
 *   1. `const state = wx.oauth.createState(sessionId, { returnTo })` and redirect to
 *      `wx.oauth.generateOAuthUrl(callbackUrl, 'snsapi_userinfo', state)`;
 *   2. in the callback, `const { returnTo } = wx.oauth.verifyState(req.query.state, sessionId)`;
 *   3. `const user = await wx.oauth.getUserInfo(req.query.code)`.
 */
import { ConfigError, WechatError } from '../errors';
import { nonceStr } from '../crypto';
import { validateBaseUrl, type HttpClient } from '../http/HttpClient';
import type { Store } from '../store/Store';
import type { OAuthTokenInfo } from '../store/types';
import { OAuthClient, type OAuthClientOptions } from './client';
import {
  DEFAULT_STATE_TTL_MS,
  StateSigner,
  deriveStateKey,
  type CreateStateOptions,
  type VerifiedState,
} from './state';
import {
  DEFAULT_OAUTH_URL,
  DEFAULT_QRCONNECT_URL,
  DEFAULT_REDIRECT_URL,
  SCOPE,
  buildAuthorizeUrl,
  checkRedirectUrl,
} from './urls';

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

/** A random state for URLs built without one. It cannot be verified: use createState() for CSRF protection. */
function unboundState(): string {
  return nonceStr(32);
}

/** Website (open platform) login: QR code on a desktop page, scope `snsapi_login`. */
export class WebsiteLogin extends OAuthClient {
  readonly qrConnectUrl: string;

  constructor(options: OAuthClientOptions & { qrConnectUrl?: string }) {
    super(options);
    this.qrConnectUrl = options.qrConnectUrl ?? DEFAULT_QRCONNECT_URL;
  }

  /** The QR login page URL; pass a state from `wx.oauth.createState(sessionId)`. */
  generateQRConnectUrl(redirectUrl: string, state?: string): string {
    return buildAuthorizeUrl(this.qrConnectUrl, {
      appId: this.appId,
      redirectUrl,
      scope: SCOPE.LOGIN,
      state: state ?? unboundState(),
    });
  }
}

export interface OAuthOptions extends OAuthClientOptions {
  /** Authorize page (default https://open.weixin.qq.com/connect/oauth2/authorize). */
  oauthUrl?: string;
  /** Default callback for snsUserInfoUrl / snsUserBaseUrl. */
  wechatRedirectUrl?: string;
  state: StateSigner;
  website?: WebsiteLogin;
}

export class OAuth extends OAuthClient {
  readonly oauthUrl: string;
  /** The open-platform website login, when `openPlatform` was configured. */
  readonly website?: WebsiteLogin;
  private readonly redirectUrl: string;
  private readonly signer: StateSigner;

  constructor(options: OAuthOptions) {
    super(options);
    this.oauthUrl = options.oauthUrl ?? DEFAULT_OAUTH_URL;
    this.redirectUrl = options.wechatRedirectUrl ?? DEFAULT_REDIRECT_URL;
    this.signer = options.state;
    this.website = options.website;
  }

  /**
   * The authorize URL, in WeChat's documented form. Without `state` a random one is used, which WeChat accepts
   * but `verifyState` cannot check: pass `createState(sessionId)` to be protected against login CSRF.
   */
  generateOAuthUrl(redirectUrl: string, scope: OAuthScope = SCOPE.USER_INFO, state?: string): string {
    if (scope !== SCOPE.BASE && scope !== SCOPE.USER_INFO) {
      throw new WechatError(
        `scope must be snsapi_base or snsapi_userinfo, got ${JSON.stringify(scope)}` +
          (scope === SCOPE.LOGIN ? ' (snsapi_login is website login: use generateQRConnectUrl)' : ''),
        'BAD_SCOPE',
      );
    }
    return buildAuthorizeUrl(this.oauthUrl, { appId: this.appId, redirectUrl, scope, state: state ?? unboundState() });
  }

  /** wechat-jssdk's ready-made URL to `wechatRedirectUrl` with scope snsapi_userinfo (a fresh random state). */
  get snsUserInfoUrl(): string {
    return this.generateOAuthUrl(checkRedirectUrl(this.redirectUrl), SCOPE.USER_INFO);
  }

  /** The same with scope snsapi_base (silent: only the openid). */
  get snsUserBaseUrl(): string {
    return this.generateOAuthUrl(checkRedirectUrl(this.redirectUrl), SCOPE.BASE);
  }

  /** Website QR login URL (needs the `openPlatform` option). */
  generateQRConnectUrl(redirectUrl: string, state?: string): string {
    return this.requireWebsite().generateQRConnectUrl(redirectUrl, state);
  }

  /**
   * A short-lived, signed state bound to the browser session `bindTo` (your session id), optionally carrying a
   * same-site return path. At most 128 characters of [A-Za-z0-9], as WeChat requires.
   */
  createState(bindTo: string, options?: CreateStateOptions): string {
    return this.signer.create(bindTo, options);
  }

  /**
   * Check the callback's state against the session. Returns `{ returnTo? }`, or throws a WechatError with code
   * STATE_MISSING, STATE_INVALID (forged/altered), STATE_FOREIGN (another session), STATE_EXPIRED or
   * STATE_REPLAYED (already used in this process).
   */
  verifyState(state: unknown, bindTo: string): VerifiedState {
    return this.signer.verify(state, bindTo);
  }

  /** wechat-jssdk's static check: true when the record has no expirationTime or it has passed. */
  static isAccessTokenExpired(tokenInfo: OAuthTokenInfo, now: number = Date.now()): boolean {
    return typeof tokenInfo?.expirationTime !== 'number' || now >= tokenInfo.expirationTime;
  }

  private requireWebsite(): WebsiteLogin {
    if (!this.website) {
      throw new ConfigError(
        'openPlatform',
        'website QR login needs the open-platform website app: new Wechat({ ..., openPlatform: { appId, appSecret } })',
      );
    }
    return this.website;
  }
}

/** The OAuth options of `new Wechat(...)`. */
export interface OAuthFeatureOptions {
  wechatRedirectUrl?: string;
  oauthUrl?: string;
  /** wechat-jssdk's spelling of `oauthUrl`. */
  oAuthUrl?: string;
  qrConnectUrl?: string;
  openPlatform?: { appId: string; appSecret: string };
  stateSecret?: string;
  oauthStateTtlMs?: number;
}

/** Options holding secrets, removed from `wx.options`. */
export const OAUTH_SECRET_OPTIONS = ['stateSecret', 'openPlatform.appSecret'];

const MIN_STATE_SECRET_LENGTH = 16;

/** Validate the options and build `wx.oauth`; the secrets stay inside the objects built here. */
export function createOAuth(init: {
  options: OAuthFeatureOptions;
  appId: string;
  appSecret: string;
  http: HttpClient;
  store: Store;
  now: () => number;
}): OAuth {
  const { options, appId, appSecret, http, store, now } = init;
  const url = (name: 'oauthUrl' | 'oAuthUrl' | 'qrConnectUrl') => {
    const value = options[name];
    return value === undefined ? undefined : validateBaseUrl(name, value);
  };
  if (options.stateSecret !== undefined) {
    if (typeof options.stateSecret !== 'string' || options.stateSecret.length < MIN_STATE_SECRET_LENGTH) {
      throw new ConfigError('stateSecret', `must be a string of at least ${MIN_STATE_SECRET_LENGTH} random characters`);
    }
  }
  const ttl = options.oauthStateTtlMs;
  if (ttl !== undefined && !(typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 1000)) {
    throw new ConfigError('oauthStateTtlMs', 'must be a number of milliseconds, at least 1000 (default 10 minutes)');
  }
  if (options.wechatRedirectUrl !== undefined && options.wechatRedirectUrl !== '') {
    try {
      checkRedirectUrl(options.wechatRedirectUrl);
    } catch (err) {
      throw new ConfigError('wechatRedirectUrl', (err as Error).message);
    }
  }
  let website: WebsiteLogin | undefined;
  if (options.openPlatform !== undefined) {
    const open = options.openPlatform as Record<string, unknown> | null;
    for (const field of ['appId', 'appSecret'] as const) {
      if (!open || typeof open[field] !== 'string' || (open[field] as string).trim() === '') {
        throw new ConfigError(
          `openPlatform.${field}`,
          'website login needs the open-platform website app: openPlatform: { appId, appSecret }',
        );
      }
    }
    const openAppId = open!.appId as string;
    website = new WebsiteLogin({
      appId: openAppId,
      appSecret: open!.appSecret as string,
      http,
      store,
      now,
      qrConnectUrl: url('qrConnectUrl'),
      // The store is bound to the official account; website users live under their own prefix.
      keyPrefix: `open:${openAppId}:`,
    });
  }
  const state = new StateSigner({
    key: deriveStateKey(options.stateSecret ?? appSecret, appId),
    ttlMs: ttl ?? DEFAULT_STATE_TTL_MS,
    now,
  });
  return new OAuth({
    appId,
    appSecret,
    http,
    store,
    now,
    oauthUrl: url('oauthUrl') ?? url('oAuthUrl'),
    wechatRedirectUrl: options.wechatRedirectUrl || undefined,
    state,
    website,
  });
}
