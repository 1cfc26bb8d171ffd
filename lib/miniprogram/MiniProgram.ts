/**
 * Mini program server APIs: login (`getSession`), open-data decryption and signatures, and the mini program's own
 * access_token (for server APIs such as `getPhoneNumber`). Method names follow wechat-jssdk 5.x.
 *
 * The mini program is a different app from the official account: its own appId, appSecret and access_token. Its
 * token lives in the same store under `mp:<appId>:accessToken` (and its force_refresh budget under
 * `mp:<appId>:forceRefreshTimes`), so the two never overwrite each other, and its sessions are keyed by
 * `<appId>:<key>`.
 */
import createDebug from 'debug';
import { ConfigError, DecryptError, WechatError, isTokenInvalidError } from '../errors';
import { HttpClient, validateBaseUrl, type HttpClientOptions } from '../http/HttpClient';
import { Credential, withCredential, type CredentialRecord } from '../credentials/Credential';
import { accessTokenCredential, checkTokenOptions } from '../credentials/accessToken';
import type { ExternalToken, TokenSource } from '../credentials/sources';
import type { FileStoreOptions } from '../store/FileStore';
import type { Store } from '../store/Store';
import { storeFromOptions } from '../store/resolve';
import type { MPSessionInfo } from '../store/types';
import { decryptMiniProgramData, miniProgramSignature, verifyMiniProgramSignature, type DecryptedData } from './crypto';

const log = createDebug('wechat:miniprogram');

export interface MiniProgramConfig {
  appId: string;
  appSecret: string;
  /** `stable` (default) uses POST /cgi-bin/stable_token; `classic` uses GET /cgi-bin/token. */
  tokenSource?: TokenSource;
  /** The mini program's tokens owned by a central service: called instead of WeChat. */
  getAccessToken?: () => Promise<ExternalToken>;
}

/** `new MiniProgram(options)`: the same options object as `new Wechat(...)` works (only these fields are read). */
export interface MiniProgramOptions {
  miniProgram: MiniProgramConfig;
  /** Any Store (default: a FileStore built from `storeOptions`). */
  store?: Store;
  storeOptions?: FileStoreOptions;
  apiUrl?: string;
  timeout?: number;
  proxy?: HttpClientOptions['proxy'];
  now?: () => number;
}

/** What `new Wechat(...)` shares with its mini program. */
export interface MiniProgramShared {
  store: Store;
  onRefresh?(record: CredentialRecord, name: string): void;
  onError?(err: unknown, name?: string): void;
}

/** `getSession()` resolves WeChat's jscode2session answer. */
export interface MiniProgramSession extends MPSessionInfo {
  openid: string;
  session_key: string;
  unionid?: string;
}

/** `getPhoneNumber()` resolves WeChat's `phone_info`. */
export interface PhoneInfo {
  /** With the country code for numbers outside mainland China. */
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  watermark: { timestamp: number; appid: string };
}

function requireConfigString(config: Record<string, unknown>, name: string): string {
  const value = config[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(
      `miniProgram.${name}`,
      `the mini program's ${name} is required (from the mini program admin console)`,
    );
  }
  return value;
}

export class MiniProgram {
  readonly appId: string;
  readonly store: Store;
  readonly http: HttpClient;
  /** The mini program's access_token (not the official account's). */
  readonly accessToken: Credential;
  private readonly now: () => number;
  private readonly ownsStore: boolean;
  // An ES private field: never enumerable, never printed by util.inspect or JSON.stringify.
  readonly #appSecret: string;
  private closed = false;

  constructor(options: MiniProgramOptions, shared?: MiniProgramShared) {
    if (!options || typeof options !== 'object' || !options.miniProgram || typeof options.miniProgram !== 'object') {
      throw new ConfigError('miniProgram', 'pass { miniProgram: { appId, appSecret } }');
    }
    const config = options.miniProgram;
    this.appId = requireConfigString(config as unknown as Record<string, unknown>, 'appId');
    this.#appSecret = requireConfigString(config as unknown as Record<string, unknown>, 'appSecret');
    const tokenSource = checkTokenOptions('miniProgram.', config.tokenSource ?? 'stable', config.getAccessToken);
    if (options.apiUrl !== undefined) validateBaseUrl('apiUrl', options.apiUrl);
    this.now = options.now ?? Date.now;
    // Its own HttpClient even inside Wechat: errors then name the mini program's appId, not the official account's.
    this.http = new HttpClient({
      apiUrl: options.apiUrl,
      timeout: options.timeout,
      proxy: options.proxy,
      appId: this.appId,
    });
    this.ownsStore = !shared;
    this.store = shared ? shared.store : this.createStore(options);

    this.accessToken = accessTokenCredential({
      name: 'mp_access_token',
      fieldPrefix: `mp:${this.appId}:`,
      http: this.http,
      appId: this.appId,
      appSecret: this.#appSecret,
      tokenSource,
      getAccessToken: config.getAccessToken,
      store: this.store,
      now: this.now,
      onRefresh: shared?.onRefresh,
      onError: shared?.onError ?? ((err) => log('background failure: %s', (err as Error)?.message ?? err)),
    });
  }

  private createStore(options: MiniProgramOptions): Store {
    const { store, created } = storeFromOptions(options, this.now);
    // A store of our own serves this mini program only (a file of another app starts clean, as in Wechat).
    if (created) store.bindAppId(this.appId);
    return store;
  }

  /** The store key of a session: per mini program, so a shared store never mixes two mini programs' users. */
  private sessionKeyOf(key: string): string {
    return `${this.appId}:${key}`;
  }

  /**
   * Exchange the code of `wx.login` for openid and session_key (`/sns/jscode2session`) and store the session
   * under `key` (default: the openid), replacing the previous one: each login issues a new session_key.
   */
  async getSession(code: string, key?: string): Promise<MiniProgramSession> {
    if (typeof code !== 'string' || code === '') {
      throw new WechatError('getSession(code) needs the code from wx.login() in the mini program', 'NO_CODE');
    }
    if (key !== undefined && (typeof key !== 'string' || key === '')) {
      throw new WechatError('getSession(code, key): key must be a non-empty string when given', 'BAD_INPUT');
    }
    const body = await this.http.get<Record<string, unknown>>(
      '/sns/jscode2session',
      { appid: this.appId, secret: this.#appSecret, js_code: code, grant_type: 'authorization_code' },
      // A code works once: a blind retry after a lost answer would only get 40163.
      { idempotent: false, label: '/sns/jscode2session' },
    );
    if (typeof body.openid !== 'string' || typeof body.session_key !== 'string') {
      throw new WechatError('WeChat /sns/jscode2session returned no openid or session_key', 'BAD_RESPONSE');
    }
    const session = { ...body, createdAt: this.now() } as MiniProgramSession;
    await this.store.setMPSession(this.sessionKeyOf(key ?? session.openid), session);
    log('session stored for a user of %s', this.appId);
    return session;
  }

  /** The stored session of `key` (openid by default in getSession), or undefined. */
  getStoredSession(key: string): Promise<MPSessionInfo | undefined> {
    return this.store.getMPSession(this.sessionKeyOf(key));
  }

  /**
   * Decrypt open data with `sessionKey`, or with the session stored under `key` when no sessionKey is given.
   * Rejects with a DecryptError: `stale_session_key` (log in again), `watermark_mismatch`, `bad_input`, `no_session`.
   */
  async decryptData<T extends DecryptedData = DecryptedData>(
    encryptedData: string,
    iv: string,
    sessionKey?: string,
    key?: string,
  ): Promise<T> {
    if (!sessionKey) {
      if (!key)
        throw new DecryptError('bad_input', 'decryptData needs a sessionKey, or the key its session was stored under');
      sessionKey = await this.store.getMPSessionKey(this.sessionKeyOf(key));
      if (!sessionKey) {
        throw new DecryptError(
          'no_session',
          'no session_key is stored for this key: call getSession(code) with the code of wx.login first',
        );
      }
    }
    return decryptMiniProgramData<T>({ encryptedData, iv, sessionKey, appId: this.appId });
  }

  /** sha1(rawData + sessionKey); rawData must be the exact string the mini program received. */
  async genSignature(rawData: string, sessionKey: string): Promise<string> {
    return miniProgramSignature(rawData, sessionKey);
  }

  /** Resolves true when `signature` matches, rejects with code SIGNATURE_MISMATCH otherwise (as wechat-jssdk). */
  async verifySignature(rawData: string, signature: string, sessionKey: string): Promise<true> {
    if (verifyMiniProgramSignature(rawData, signature, sessionKey)) return true;
    throw new WechatError(
      'rawData signature does not match: rawData was altered, or it was signed with another session_key (a newer wx.login)',
      'SIGNATURE_MISMATCH',
    );
  }

  /** The mini program's access_token (cached, shared through the store), for server APIs we do not wrap. */
  getAccessToken(): Promise<string> {
    return this.accessToken.get();
  }

  /**
   * The phone number the user granted with `<button open-type="getPhoneNumber">` (the `code` of that event),
   * via POST /wxa/business/getuserphonenumber with the mini program's token; a revoked token is replaced once.
   */
  async getPhoneNumber(code: string): Promise<PhoneInfo> {
    if (typeof code !== 'string' || code === '') {
      throw new WechatError('getPhoneNumber(code) needs the code of the getPhoneNumber button event', 'NO_CODE');
    }
    const body = await withCredential(
      this.accessToken,
      (accessToken) =>
        this.http.post<{ phone_info?: PhoneInfo }>(
          '/wxa/business/getuserphonenumber',
          { code },
          { access_token: accessToken },
          { idempotent: false, label: '/wxa/business/getuserphonenumber' },
        ),
      isTokenInvalidError,
    );
    if (!body.phone_info || typeof body.phone_info.phoneNumber !== 'string') {
      throw new WechatError('WeChat /wxa/business/getuserphonenumber returned no phone_info', 'BAD_RESPONSE');
    }
    return body.phone_info;
  }

  /** Stop the credential and close what this instance owns (inside Wechat, the store is Wechat's to close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.accessToken.close();
    this.http.close();
    if (this.ownsStore) await this.store.destroy();
  }
}

export default MiniProgram;
