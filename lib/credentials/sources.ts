/**
 * Where tokens and tickets come from: WeChat's stable_token (default) or classic token endpoint, an external
 * token service, and the ticket endpoint. Each returns `{ value, expiresAt }` for the credential engine.
 */
import { WechatError, isTokenInvalidError } from '../errors';
import type { HttpClient } from '../http/HttpClient';
import type { Store } from '../store/Store';
import { type Credential, type FetchContext, withCredential } from './Credential';

export type TokenSource = 'stable' | 'classic';

/** WeChat allows a stable_token force_refresh at most every 30 s and 20 times a day. */
export const FORCE_REFRESH_MIN_INTERVAL_MS = 30_000;
export const FORCE_REFRESH_DAILY_LIMIT = 20;
const DAY_MS = 24 * 60 * 60_000;

export interface ExternalToken {
  accessToken: string;
  /** Absolute expiry in ms since the epoch. */
  expiresAt: number;
}

export interface AccessTokenSourceOptions {
  http: HttpClient;
  appId: string;
  appSecret: string;
  tokenSource: TokenSource;
  /** Absolute URL replacing /cgi-bin/token (wechat-jssdk's accessTokenUrl). */
  accessTokenUrl?: string;
  getAccessToken?: () => Promise<ExternalToken>;
  /** Where the force_refresh budget is tracked (shared by all processes using the store). */
  store: Store;
  /** Field prefix in the global token, so a mini program's budget never mixes with the official account's. */
  budgetField?: string;
  now: () => number;
}

interface TokenBody {
  access_token?: unknown;
  expires_in?: unknown;
}

function toRecord(body: TokenBody, valueField: 'access_token' | 'ticket', path: string, now: number) {
  const value = (body as Record<string, unknown>)[valueField];
  const expiresIn = Number(body.expires_in);
  if (typeof value !== 'string' || value === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw new WechatError(`WeChat ${path} returned no ${valueField} or no valid expires_in`, 'BAD_RESPONSE');
  }
  return { value, expiresAt: now + expiresIn * 1000 };
}

export function accessTokenFetcher(o: AccessTokenSourceOptions) {
  const budgetField = o.budgetField ?? 'forceRefreshTimes';

  const stable = async (forceRefresh: boolean) => {
    const body = await o.http.post<TokenBody>(
      '/cgi-bin/stable_token',
      { grant_type: 'client_credential', appid: o.appId, secret: o.appSecret, force_refresh: forceRefresh },
      undefined,
      // Normal mode returns the same token while it is valid, so repeating it is harmless.
      { idempotent: !forceRefresh, label: '/cgi-bin/stable_token' },
    );
    return toRecord(body, 'access_token', '/cgi-bin/stable_token', o.now());
  };

  const forceRefresh = async () => {
    const now = o.now();
    const info = await o.store.getGlobalToken();
    const times = ((info?.[budgetField] as number[] | undefined) ?? []).filter((t) => now - t < DAY_MS);
    const last = times[times.length - 1];
    if (
      times.length >= FORCE_REFRESH_DAILY_LIMIT ||
      (last !== undefined && now - last < FORCE_REFRESH_MIN_INTERVAL_MS)
    ) {
      throw new WechatError(
        `access_token for appId ${o.appId} was revoked and WeChat still returns it; the stable_token force_refresh ` +
          `budget (every ${FORCE_REFRESH_MIN_INTERVAL_MS / 1000}s, ${FORCE_REFRESH_DAILY_LIMIT} a day) is used up, try again later`,
        'FORCE_REFRESH_BUDGET',
      );
    }
    await o.store.updateGlobalToken({ [budgetField]: [...times, now] });
    return stable(true);
  };

  return async (context: FetchContext) => {
    if (o.getAccessToken) {
      const token = await o.getAccessToken();
      if (
        !token ||
        typeof token.accessToken !== 'string' ||
        token.accessToken === '' ||
        !Number.isFinite(token.expiresAt)
      ) {
        throw new WechatError(
          'getAccessToken() must resolve { accessToken: string, expiresAt: number }',
          'BAD_EXTERNAL_TOKEN',
        );
      }
      // An expired token would only bounce off WeChat; seconds instead of ms is the usual cause.
      if (token.expiresAt <= o.now()) {
        throw new WechatError(
          'getAccessToken() returned a token whose expiresAt is already past (expiresAt is absolute, in milliseconds since the epoch)',
          'BAD_EXTERNAL_TOKEN',
        );
      }
      return { value: token.accessToken, expiresAt: token.expiresAt };
    }
    if (o.tokenSource === 'classic') {
      const path = o.accessTokenUrl ?? '/cgi-bin/token';
      // Not idempotent: every call issues a new token and starts the 5-minute death of the previous one.
      const body = await o.http.get<TokenBody>(
        path,
        { grant_type: 'client_credential', appid: o.appId, secret: o.appSecret },
        { idempotent: false, label: '/cgi-bin/token' },
      );
      return toRecord(body, 'access_token', '/cgi-bin/token', o.now());
    }
    const record = await stable(false);
    // WeChat revoked this token but normal mode still hands it out: only then spend a force_refresh.
    if (context.deadValue !== undefined && record.value === context.deadValue) return forceRefresh();
    return record;
  };
}

/** jsapi_ticket or wx_card api_ticket, fetched with the access_token (recovering once from a dead token). */
export function ticketFetcher(o: {
  http: HttpClient;
  token: Credential;
  type: 'jsapi' | 'wx_card';
  ticketUrl?: string;
  now: () => number;
}) {
  const path = o.ticketUrl ?? '/cgi-bin/ticket/getticket';
  return async () => {
    const body = await withCredential(
      o.token,
      (accessToken) =>
        o.http.get<TokenBody & { ticket?: unknown }>(
          path,
          { access_token: accessToken, type: o.type },
          { label: '/cgi-bin/ticket/getticket' },
        ),
      isTokenInvalidError,
    );
    return toRecord(body, 'ticket', '/cgi-bin/ticket/getticket', o.now());
  };
}
