/** Record shapes kept by every store. Field names follow wechat-jssdk 5.x so existing custom stores keep working. */

/** A credential `<name>` in the global token keeps its expiry and fetch time in `<name>ExpiresAt` / `<name>FetchedAt`. */
export const EXPIRES_SUFFIX = 'ExpiresAt';
export const FETCHED_SUFFIX = 'FetchedAt';

export interface GlobalTokenInfo {
  /** How many times the record was updated (wechat-jssdk compatibility). */
  count?: number;
  modifyDate?: string;
  accessToken?: string;
  /** Absolute expiry in ms since the epoch, from WeChat's `expires_in` (never a fixed guess). */
  accessTokenExpiresAt?: number;
  accessTokenFetchedAt?: number;
  jsapi_ticket?: string;
  jsapi_ticketExpiresAt?: number;
  jsapi_ticketFetchedAt?: number;
  /** Times (ms) of recent stable_token force_refresh calls, to respect WeChat's 30 s / 20 a day budget. */
  forceRefreshTimes?: number[];
  [field: string]: unknown;
}

export interface SignatureInfo {
  jsapi_ticket?: string;
  nonceStr: string;
  timestamp: string;
  url: string;
  signature: string;
  signatureName?: string;
  createDate?: string;
  modifyDate?: string;
  /** The signature is only as good as its ticket; dropped from the cache at this time (ms). */
  expiresAt?: number;
  [field: string]: unknown;
}

export interface OAuthTokenInfo {
  key?: string;
  access_token: string;
  expires_in?: number;
  refresh_token?: string;
  openid?: string;
  scope?: string;
  unionid?: string;
  is_snapshotuser?: number;
  /** Absolute expiry of access_token (ms). */
  expirationTime?: number;
  /** Absolute expiry of refresh_token (ms), 30 days after the code exchange. */
  refreshTokenExpiresAt?: number;
  modifyDate?: string;
  [field: string]: unknown;
}

export interface CardTicketInfo {
  ticket?: string;
  expires_in?: number;
  expiresAt?: number;
  fetchedAt?: number;
  modifyDate?: string;
  [field: string]: unknown;
}

export interface MPSessionInfo {
  openid?: string;
  session_key?: string;
  unionid?: string;
  /** When this session_key was issued (ms); a newer login replaces it. */
  createdAt?: number;
  [field: string]: unknown;
}

export interface StoreState {
  wechatConfig: Record<string, unknown>;
  globalToken: GlobalTokenInfo;
  urls: Record<string, SignatureInfo>;
  oauth: Record<string, OAuthTokenInfo>;
  card: CardTicketInfo;
  mp: Record<string, MPSessionInfo>;
}

/** A held cross-process lease; `release()` frees it only if we still own it. */
export interface Lease {
  readonly name: string;
  release(): Promise<void>;
}

/** Optional store capability used by the credential engine so one process per cluster refreshes. */
export interface Lockable {
  lock(name: string, ttlMs: number): Promise<Lease | null>;
}
