/**
 * The access_token credential of one app, shared by the official account (Wechat) and the mini program: the same
 * option checks, the same engine wiring, differing only in where its record lives in the store.
 */
import { ConfigError } from '../errors';
import { Credential, type CredentialOptions } from './Credential';
import { globalTokenBackend } from './backends';
import { accessTokenFetcher, type AccessTokenSourceOptions, type TokenSource } from './sources';

/** Checks `tokenSource` and `getAccessToken`; `optionPrefix` ('' or 'miniProgram.') makes errors name the option. */
export function checkTokenOptions(optionPrefix: string, tokenSource: unknown, getAccessToken: unknown): TokenSource {
  if (tokenSource !== 'stable' && tokenSource !== 'classic') {
    throw new ConfigError(
      `${optionPrefix}tokenSource`,
      `must be "stable" or "classic", got ${JSON.stringify(tokenSource)}`,
    );
  }
  if (getAccessToken !== undefined && typeof getAccessToken !== 'function') {
    throw new ConfigError(
      `${optionPrefix}getAccessToken`,
      'must be a function returning Promise<{ accessToken, expiresAt }>',
    );
  }
  return tokenSource;
}

export interface AccessTokenCredentialOptions
  extends Omit<AccessTokenSourceOptions, 'budgetField'>, Pick<CredentialOptions, 'onRefresh' | 'onError'> {
  name: string;
  /**
   * Prefix of the store fields (`<prefix>accessToken`, its force_refresh budget and lock names), so that two apps
   * sharing a store never overwrite each other; '' for the official account.
   */
  fieldPrefix?: string;
}

export function accessTokenCredential(o: AccessTokenCredentialOptions): Credential {
  const prefix = o.fieldPrefix ?? '';
  return new Credential({
    name: o.name,
    backend: globalTokenBackend(o.store, `${prefix}accessToken`, prefix),
    // Without a prefix the budget keeps its default field, `forceRefreshTimes`.
    fetch: accessTokenFetcher({ ...o, budgetField: prefix ? `${prefix}forceRefreshTimes` : undefined }),
    now: o.now,
    onRefresh: o.onRefresh,
    onError: o.onError,
  });
}
