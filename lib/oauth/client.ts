/**
 * OAuth user tokens for one app: code exchange, stored tokens, refresh, user info. The official-account login
 * (`wx.oauth`) and the open-platform website login (`wx.oauth.website`) are two instances of this class with
 * different credentials; the store keeps their records apart by key prefix.
 *
 * Why each rule exists:
 * - Records are keyed by the caller's key or, by default, the openid WeChat returned for THIS code, and the token
 *   used for `/sns/userinfo` is the one just obtained, never a cache lookup: wechat-jssdk once served one user's
 *   cached token to another through a shared key.
 * - The code exchange is never retried: a code works once, so a retry after a lost answer only turns into 40163.
 * - Refreshes are single-flight per key: concurrent requests of one user share one WeChat call instead of racing.
 * - The refresh_token lives 30 days and is not extended by refreshing; past that we do not even ask WeChat.
 */
import createDebug from 'debug';
import { StoreError, WechatApiError, WechatError, isTokenInvalidError } from '../errors';
import type { HttpClient } from '../http/HttpClient';
import { fingerprint, redact } from '../redact';
import type { Store } from '../store/Store';
import type { OAuthTokenInfo } from '../store/types';

const log = createDebug('wechat:oauth');

export const TOKEN_PATH = '/sns/oauth2/access_token';
export const REFRESH_PATH = '/sns/oauth2/refresh_token';
export const USERINFO_PATH = '/sns/userinfo';
export const AUTH_PATH = '/sns/auth';
/** A user access_token is treated as expired this long before WeChat's `expires_in` runs out (clock skew, latency). */
export const USER_TOKEN_MARGIN_MS = 60_000;
/** WeChat: "refresh_token has a longer validity (30 days); once it expires the user must authorize again". */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60_000;
const DEFAULT_EXPIRES_IN_S = 7200;
const MAX_CODE_LENGTH = 512;

/** What `/sns/userinfo` returns; unknown fields pass through. */
export interface OAuthUserInfo {
  openid: string;
  nickname?: string;
  sex?: number;
  province?: string;
  city?: string;
  country?: string;
  headimgurl?: string;
  privilege?: string[];
  unionid?: string;
  [field: string]: unknown;
}

export type UserInfoLang = 'zh_CN' | 'zh_TW' | 'en';

export interface OAuthClientOptions {
  appId: string;
  appSecret: string;
  http: HttpClient;
  store: Store;
  now?: () => number;
  /** Store keys are `<keyPrefix><key>`, so two apps' users never share a record. */
  keyPrefix?: string;
}

interface TokenResponse {
  access_token?: unknown;
  expires_in?: unknown;
  refresh_token?: unknown;
  openid?: unknown;
  scope?: unknown;
  [field: string]: unknown;
}

export class OAuthClient {
  readonly appId: string;
  readonly #appSecret: string;
  protected readonly http: HttpClient;
  protected readonly store: Store;
  protected readonly now: () => number;
  private readonly keyPrefix: string;
  /** In-flight refreshes by store key; an entry lives only until its request settles. */
  private readonly refreshing = new Map<string, Promise<OAuthTokenInfo>>();

  constructor(options: OAuthClientOptions) {
    this.appId = options.appId;
    this.#appSecret = options.appSecret;
    this.http = options.http;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.keyPrefix = options.keyPrefix ?? '';
  }

  /**
   * With a code: exchange it and store the token under `key` (default: the openid). Without a code: the stored
   * token for `key`, refreshed when it has expired.
   */
  async getAccessToken(code?: string | null, key?: string): Promise<OAuthTokenInfo> {
    if (code !== undefined && code !== null && code !== '') return this.exchangeCode(checkCode(code), key);
    if (key === undefined || key === null) {
      throw new WechatError(
        'no OAuth code: the user declined, or opened the callback URL without going through authorization; ' +
          'send them to the authorize URL again',
        'NO_CODE',
      );
    }
    const userKey = checkKey(key);
    const info = await this.read(userKey);
    if (!info) {
      throw new WechatError(
        'no code was given and no OAuth token is stored for this key; send the user through authorization again',
        'NO_TOKEN',
      );
    }
    if (this.isAccessTokenValid(info)) return { ...info, key: userKey };
    return this.refreshAccessToken(userKey, info);
  }

  /** The token record (openid, scope, unionid, is_snapshotuser, ...) for a code: enough for snsapi_base logins. */
  getUserBaseInfo(code?: string | null, key?: string): Promise<OAuthTokenInfo> {
    return this.getAccessToken(code, key);
  }

  /** The user's profile for a code (scope snsapi_userinfo); `withToken` merges the token record into it. */
  async getUserInfo(
    code?: string | null,
    key?: string,
    withToken = false,
  ): Promise<OAuthUserInfo & Partial<OAuthTokenInfo>> {
    const token = await this.getAccessToken(code, key);
    try {
      return await this.getUserInfoRemotely(token, withToken);
    } catch (err) {
      // A stored token can die before its time (the user revoked the grant): refresh once and retry.
      if ((code !== undefined && code !== null && code !== '') || !isTokenInvalidError(err)) throw err;
      log('stored token for %s rejected by WeChat; refreshing once', fingerprint(token.key));
      const fresh = await this.refreshAccessToken(token.key ?? (token.openid as string), token, true);
      return this.getUserInfoRemotely(fresh, withToken);
    }
  }

  /** `/sns/userinfo` with a token record you already hold. */
  async getUserInfoRemotely(
    tokenInfo: OAuthTokenInfo,
    withToken = false,
    lang: UserInfoLang = 'zh_CN',
  ): Promise<OAuthUserInfo & Partial<OAuthTokenInfo>> {
    if (!tokenInfo?.access_token || !tokenInfo.openid) {
      throw new WechatError('tokenInfo needs access_token and openid (pass what getAccessToken returned)', 'BAD_TOKEN');
    }
    const data = await this.http.get<OAuthUserInfo>(
      USERINFO_PATH,
      { access_token: tokenInfo.access_token, openid: tokenInfo.openid, lang },
      { appId: this.appId },
    );
    return withToken ? { ...tokenInfo, ...data } : data;
  }

  /**
   * Refresh `tokenInfo` (stored under `key`). Concurrent calls for one key share one request. A refresh_token that
   * is past its 30 days, or that WeChat rejects (40030/42002), removes the record and throws a WechatApiError of
   * kind `refresh_token_invalid`: the user has to authorize again.
   */
  refreshAccessToken(key: string, tokenInfo: OAuthTokenInfo, force = false): Promise<OAuthTokenInfo> {
    const userKey = checkKey(key ?? tokenInfo?.openid);
    const storeKey = this.storeKey(userKey);
    let flight = this.refreshing.get(storeKey);
    if (!flight) {
      flight = this.refresh(userKey, tokenInfo, force).finally(() => this.refreshing.delete(storeKey));
      this.refreshing.set(storeKey, flight);
    }
    return flight;
  }

  /** Not expired by its `expirationTime` (a local check; `checkAccessToken` asks WeChat). */
  isAccessTokenValid(tokenInfo: OAuthTokenInfo | undefined | null): boolean {
    return (
      !!tokenInfo?.access_token && typeof tokenInfo.expirationTime === 'number' && this.now() < tokenInfo.expirationTime
    );
  }

  /** Ask WeChat (`/sns/auth`) whether the token still works: true, false for a dead token, throws otherwise. */
  async checkAccessToken(tokenInfo: OAuthTokenInfo): Promise<boolean> {
    if (!tokenInfo?.access_token || !tokenInfo.openid) return false;
    try {
      await this.http.get(
        AUTH_PATH,
        { access_token: tokenInfo.access_token, openid: tokenInfo.openid },
        { appId: this.appId },
      );
      return true;
    } catch (err) {
      // 40003: the openid does not belong to this token.
      if (isTokenInvalidError(err) || (err instanceof WechatApiError && err.errcode === 40003)) return false;
      throw err;
    }
  }

  /** Forget a user's token (logout). */
  async removeAccessToken(key: string): Promise<void> {
    await this.remove(this.storeKey(checkKey(key)));
  }

  // ---- internals ------------------------------------------------------------------------------------------------

  private async exchangeCode(code: string, key: string | undefined): Promise<OAuthTokenInfo> {
    if (key !== undefined && key !== null) checkKey(key);
    const now = this.now();
    const data = await this.http.get<TokenResponse>(
      TOKEN_PATH,
      { appid: this.appId, secret: this.#appSecret, code, grant_type: 'authorization_code' },
      // A code works once: repeating the request after a lost answer can only fail with 40163.
      { idempotent: false, appId: this.appId },
    );
    checkTokenResponse(data);
    const userKey = key ?? (data.openid as string);
    const record: OAuthTokenInfo = {
      ...(data as OAuthTokenInfo),
      key: userKey,
      expirationTime: expiry(now, data.expires_in),
      refreshTokenExpiresAt: now + REFRESH_TOKEN_TTL_MS - USER_TOKEN_MARGIN_MS,
      createDate: new Date(now).toISOString(),
    };
    const saved = await this.storeCall('save', () => this.store.saveOAuthAccessToken(this.storeKey(userKey), record));
    log('code exchanged for %s (scope %s)', fingerprint(userKey), record.scope);
    return { ...record, ...saved, key: userKey };
  }

  private async refresh(userKey: string, tokenInfo: OAuthTokenInfo, force: boolean): Promise<OAuthTokenInfo> {
    const storeKey = this.storeKey(userKey);
    if (!tokenInfo || typeof tokenInfo !== 'object') {
      throw new WechatError('tokenInfo is required (the stored token record)', 'BAD_TOKEN');
    }
    // Another process may have refreshed the record, or a new login replaced it, while this one waited.
    const current = await this.read(userKey);
    if (!force && current && current.access_token !== tokenInfo.access_token && this.isAccessTokenValid(current)) {
      return { ...current, key: userKey };
    }
    const now = this.now();
    const refreshToken = tokenInfo.refresh_token;
    if (
      typeof refreshToken !== 'string' ||
      refreshToken === '' ||
      (typeof tokenInfo.refreshTokenExpiresAt === 'number' && now >= tokenInfo.refreshTokenExpiresAt)
    ) {
      await this.removeIfSame(storeKey, refreshToken);
      throw new WechatApiError({
        errcode: 42002,
        errmsg: 'refresh_token is past its 30 days (checked locally, WeChat was not called)',
        path: REFRESH_PATH,
        appId: this.appId,
        kind: 'refresh_token_invalid',
      });
    }
    let data: TokenResponse;
    try {
      data = await this.http.get<TokenResponse>(
        REFRESH_PATH,
        { appid: this.appId, grant_type: 'refresh_token', refresh_token: refreshToken },
        { appId: this.appId },
      );
    } catch (err) {
      if (err instanceof WechatApiError && err.kind === 'refresh_token_invalid') {
        log('refresh_token of %s rejected (%d): removing the record', fingerprint(userKey), err.errcode);
        await this.removeIfSame(storeKey, refreshToken);
      }
      throw err;
    }
    checkTokenResponse(data);
    const base = current ?? tokenInfo;
    if (base.openid && data.openid !== base.openid) {
      // Never store one user's token under another user's key.
      throw new WechatError('the refreshed token belongs to another openid than the stored record', 'OPENID_MISMATCH');
    }
    const renewed = data.refresh_token !== undefined && data.refresh_token !== refreshToken;
    const record: OAuthTokenInfo = {
      ...base,
      ...(data as OAuthTokenInfo),
      key: userKey,
      expirationTime: expiry(now, data.expires_in),
      refreshTokenExpiresAt: renewed
        ? now + REFRESH_TOKEN_TTL_MS - USER_TOKEN_MARGIN_MS
        : (tokenInfo.refreshTokenExpiresAt ?? base.refreshTokenExpiresAt),
    };
    const saved = await this.storeCall('update', () => this.store.updateOAuthAccessToken(storeKey, record));
    log('token of %s refreshed', fingerprint(userKey));
    return { ...record, ...saved, key: userKey };
  }

  private storeKey(userKey: string): string {
    return this.keyPrefix + userKey;
  }

  private async read(userKey: string): Promise<OAuthTokenInfo | undefined> {
    const info = await this.storeCall('read', () => this.store.getOAuthAccessToken(this.storeKey(userKey)));
    // A record without access_token is a tombstone left by stores that cannot remove (see remove()).
    return info && info.access_token ? info : undefined;
  }

  /** Remove the record unless a newer login replaced it meanwhile (its refresh_token differs). */
  private async removeIfSame(storeKey: string, refreshToken: string | undefined): Promise<void> {
    const current = await this.storeCall('read', () => this.store.getOAuthAccessToken(storeKey));
    if (!current || current.refresh_token === refreshToken || !current.refresh_token) await this.remove(storeKey);
  }

  private async remove(storeKey: string): Promise<void> {
    const store = this.store as Store & { removeOAuthAccessToken?: (key: string) => Promise<void> };
    if (typeof store.removeOAuthAccessToken === 'function') {
      await this.storeCall('remove', () => store.removeOAuthAccessToken!(storeKey));
    } else {
      // wechat-jssdk-era custom stores have no remove: overwrite with an empty record that read() ignores.
      await this.storeCall('remove', () =>
        store.updateOAuthAccessToken(storeKey, {
          access_token: '',
          refresh_token: '',
          expirationTime: 0,
          refreshTokenExpiresAt: 0,
        }),
      );
    }
  }

  private async storeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WechatError) throw err;
      throw new StoreError(
        `store failed to ${what} an OAuth token: ${redact(String((err as Error)?.message ?? err))}`,
        {
          cause: err,
        },
      );
    }
  }
}

function expiry(now: number, expiresIn: unknown): number {
  const seconds = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_S;
  return now + seconds * 1000 - USER_TOKEN_MARGIN_MS;
}

function checkCode(code: unknown): string {
  if (typeof code !== 'string' || code.length > MAX_CODE_LENGTH) {
    throw new WechatError(
      Array.isArray(code)
        ? 'code must be one string, got an array (the callback URL repeats ?code=)'
        : 'code must be the string WeChat put in the callback URL (?code=...)',
      'BAD_CODE',
    );
  }
  return code;
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') {
    throw new WechatError('key must be a non-empty string (default: the openid)', 'BAD_KEY');
  }
  return key;
}

function checkTokenResponse(data: TokenResponse): void {
  if (typeof data?.access_token !== 'string' || typeof data.openid !== 'string') {
    throw new WechatError('WeChat answered the token request without access_token/openid', 'BAD_RESPONSE');
  }
}
