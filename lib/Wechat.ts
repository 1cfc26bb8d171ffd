/**
 * The facade: `new Wechat(options)` wires the HTTP layer, the store, the credential engine and the features.
 * Option and property names follow wechat-jssdk 5.x so that switching is a change of import.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { isEmpty } from 'lodash';
import { ConfigError, WechatError } from './errors';
import { HttpClient, validateBaseUrl, type HttpClientOptions } from './http/HttpClient';
import { Credential, type CredentialRecord } from './credentials/Credential';
import { globalTokenBackend } from './credentials/backends';
import { accessTokenFetcher, ticketFetcher, type ExternalToken, type TokenSource } from './credentials/sources';
import { FileStore, type FileStoreOptions } from './store/FileStore';
import { Store, missingStoreMethods } from './store/Store';
import { JSSDK } from './jssdk/JSSDK';
import { fingerprint } from './redact';

const log = createDebug('wechat');

export interface WechatOptions {
  appId: string;
  appSecret: string;
  /** The Token of the server configuration (for verifySignature / echostr). */
  wechatToken?: string;
  /** Full OAuth callback URL, e.g. https://example.com/wechat/oauth-callback. */
  wechatRedirectUrl?: string;
  /** Any Store (default: a FileStore built from `storeOptions`). */
  store?: Store;
  storeOptions?: FileStoreOptions;
  /** `stable` (default) uses POST /cgi-bin/stable_token; `classic` uses GET /cgi-bin/token. */
  tokenSource?: TokenSource;
  /** Replaces https://api.weixin.qq.com for every API call (the sandbox, or a proxy). */
  apiUrl?: string;
  /** wechat-jssdk overrides: absolute URLs of the token and ticket endpoints. */
  accessTokenUrl?: string;
  ticketUrl?: string;
  /** Tokens owned by a central service: called instead of WeChat whenever a token is needed. */
  getAccessToken?: () => Promise<ExternalToken>;
  /** JS interface safe domains: signing other hosts is refused. */
  allowedHosts?: string[];
  /** HTTP timeout per request (ms, default 10000) and proxy. */
  timeout?: number;
  proxy?: HttpClientOptions['proxy'];
  /** Clock in ms (tests pass the sandbox clock). */
  now?: () => number;
}

export interface CredentialEvent {
  name: string;
  expiresAt: number;
  fetchedAt: number;
  /** A short non-reversible fingerprint, to tell values apart in logs without revealing them. */
  fingerprint: string;
}

export interface WechatEvents {
  token: [CredentialEvent];
  ticket: [CredentialEvent];
  refreshError: [unknown];
}

function requireString(options: Record<string, unknown>, name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(name, `${name} is required (a non-empty string from the WeChat admin console)`);
  }
  return value;
}

export class Wechat extends EventEmitter<WechatEvents> {
  readonly appId: string;
  readonly options: Readonly<Omit<WechatOptions, 'appSecret'>>;
  readonly store: Store;
  readonly http: HttpClient;
  readonly jssdk: JSSDK;
  readonly credentials: { accessToken: Credential; jsapiTicket: Credential };
  protected readonly now: () => number;
  /** Things to stop in close(), registered by features. */
  protected readonly closers: Array<() => void | Promise<void>> = [];
  private closed = false;

  constructor(options: WechatOptions) {
    super();
    if (isEmpty(options) || typeof options !== 'object') {
      throw new ConfigError('options', 'pass the WeChat configuration: new Wechat({ appId, appSecret })');
    }
    const o = options as unknown as Record<string, unknown>;
    this.appId = requireString(o, 'appId');
    const appSecret = requireString(o, 'appSecret');
    const tokenSource = options.tokenSource ?? 'stable';
    if (tokenSource !== 'stable' && tokenSource !== 'classic') {
      throw new ConfigError('tokenSource', `must be "stable" or "classic", got ${JSON.stringify(tokenSource)}`);
    }
    if (options.accessTokenUrl !== undefined) validateBaseUrl('accessTokenUrl', options.accessTokenUrl);
    if (options.ticketUrl !== undefined) validateBaseUrl('ticketUrl', options.ticketUrl);
    if (options.getAccessToken !== undefined && typeof options.getAccessToken !== 'function') {
      throw new ConfigError('getAccessToken', 'must be a function returning Promise<{ accessToken, expiresAt }>');
    }
    if (options.allowedHosts !== undefined && !Array.isArray(options.allowedHosts)) {
      throw new ConfigError('allowedHosts', 'must be an array of host names');
    }
    this.now = options.now ?? Date.now;
    // The secret stays in closures below; it is never kept on an enumerable property or logged.
    const { appSecret: _secret, ...publicOptions } = options;
    this.options = publicOptions;
    this.http = new HttpClient({ apiUrl: options.apiUrl, timeout: options.timeout, proxy: options.proxy, appId: this.appId });
    this.store = this.resolveStore(options);

    const onError = (err: unknown) => {
      log('background failure: %s', (err as Error)?.message ?? err);
      this.emit('refreshError', err);
    };
    const announce = (event: 'token' | 'ticket') => (record: CredentialRecord, name: string) =>
      this.emit(event, { name, expiresAt: record.expiresAt, fetchedAt: record.fetchedAt, fingerprint: fingerprint(record.value) });

    const accessToken = new Credential({
      name: 'access_token',
      backend: globalTokenBackend(this.store, 'accessToken'),
      fetch: accessTokenFetcher({
        http: this.http,
        appId: this.appId,
        appSecret,
        tokenSource,
        accessTokenUrl: options.accessTokenUrl,
        getAccessToken: options.getAccessToken,
        store: this.store,
        now: this.now,
      }),
      now: this.now,
      onRefresh: announce('token'),
      onError,
    });
    const jsapiTicket = new Credential({
      name: 'jsapi_ticket',
      backend: globalTokenBackend(this.store, 'jsapi_ticket'),
      fetch: ticketFetcher({ http: this.http, token: accessToken, type: 'jsapi', ticketUrl: options.ticketUrl, now: this.now }),
      now: this.now,
      onRefresh: announce('ticket'),
      onError,
    });
    this.credentials = { accessToken, jsapiTicket };
    this.closers.push(() => accessToken.close(), () => jsapiTicket.close());
    this.jssdk = new JSSDK({
      appId: this.appId,
      wechatToken: options.wechatToken,
      store: this.store,
      accessToken,
      jsapiTicket,
      allowedHosts: options.allowedHosts,
      now: this.now,
      onError,
    });
  }

  private resolveStore(options: WechatOptions): Store {
    let store: Store;
    if (options.store === undefined) {
      store = new FileStore({ now: this.now, ...options.storeOptions });
    } else {
      const missing = missingStoreMethods(options.store);
      if (missing.length > 0) {
        throw new ConfigError(
          'store',
          `is not a Store (missing ${missing.join(', ')}); pass a Store, FileStore, MongoStore, RedisStore, or wrap a key-value object in KeyValueStore`,
        );
      }
      store = options.store;
    }
    if (typeof store.bindAppId === 'function') {
      try {
        void store.bindAppId(this.appId);
      } catch (err) {
        throw new ConfigError('store', (err as Error).message);
      }
    }
    return store;
  }

  /** Stop timers, persist and release the store, close sockets. The process can exit on its own afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const close of this.closers) await close();
    this.http.close();
    try {
      await this.store.destroy();
    } catch (err) {
      throw new WechatError(`closing the store failed: ${(err as Error).message}`, 'STORE_FAILED', { cause: err });
    }
  }
}

export default Wechat;
