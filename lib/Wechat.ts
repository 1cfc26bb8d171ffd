/**
 * The facade: `new Wechat(options)` wires the HTTP layer, the store, the credential engine and the features.
 * Option and property names follow wechat-jssdk 5.x so that switching is a change of import.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { isEmpty, omit } from './util/lodash';
import { ConfigError, WechatError } from './errors';
import { HttpClient, validateBaseUrl, type HttpClientOptions } from './http/HttpClient';
import { Credential, type CredentialRecord } from './credentials/Credential';
import { globalTokenBackend } from './credentials/backends';
import { ticketFetcher, type ExternalToken, type TokenSource } from './credentials/sources';
import { accessTokenCredential, checkTokenOptions } from './credentials/accessToken';
import type { FileStoreOptions } from './store/FileStore';
import type { Store } from './store/Store';
import { storeFromOptions } from './store/resolve';
import { JSSDK } from './jssdk/JSSDK';
import { OAUTH_SECRET_OPTIONS, createOAuth, type OAuth } from './oauth/OAuth';
import { MiniProgram, type MiniProgramConfig } from './miniprogram/MiniProgram';
import { Card } from './card/Card';
import { PAYMENT_SECRET_OPTIONS, createPayments, type PaymentOptions } from './payment/config';
import type { Payment } from './payment/v2/Payment';
import type { PaymentV3 } from './payment/v3/PaymentV3';
import { fingerprint } from './redact';

const log = createDebug('wechat');

export interface WechatOptions extends PaymentOptions {
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
  /** wechat-jssdk overrides: absolute URLs of the token and ticket endpoints (accessTokenUrl implies `classic`). */
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
  // ---- feature options: each issue adds its own below ----
  // OAuth (#5, wiki/OAuth.md)
  /** OAuth authorize page (default https://open.weixin.qq.com/connect/oauth2/authorize). */
  oauthUrl?: string;
  /** wechat-jssdk's spelling of `oauthUrl`. */
  oAuthUrl?: string;
  /** Website QR login page (default https://open.weixin.qq.com/connect/qrconnect). */
  qrConnectUrl?: string;
  /** Open-platform website app for QR login (`wx.oauth.website`); its appSecret is never kept on `wx.options`. */
  openPlatform?: { appId: string; appSecret: string };
  /** Key material for signing OAuth states (default: derived from appSecret). Same value on every server. */
  stateSecret?: string;
  /** How long a state from `wx.oauth.createState()` is accepted (ms, default 10 minutes). */
  oauthStateTtlMs?: number;
  // Mini program and cards (#7, wiki/MiniProgram.md, wiki/Card.md)
  /** The mini program's own app (`wx.miniProgram`); its appSecret is never kept on `wx.options`. */
  miniProgram?: MiniProgramConfig;
  /** Enable cards (`wx.card`): the official account's wx_card api_ticket and card signatures. */
  card?: boolean;
  // WeChat Pay (#8, wiki/Payment.md): payment, merchantId, paymentKey, paymentCertificatePfx, paymentNotifyUrl,
  // paymentSandBox, paymentApiUrl, paymentV3, ... are declared in PaymentOptions (lib/payment/config.ts).
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
  // ---- feature properties: each issue adds its own below ----
  /** OAuth web authorization, website QR login (`wx.oauth.website`) and CSRF-safe state. */
  readonly oauth: OAuth;
  /** Mini program login, open-data decryption and its own access_token; set when `miniProgram` is configured. */
  readonly miniProgram?: MiniProgram;
  /** Cards (wx_card api_ticket, cardExt, cardSign); set when `card: true`. */
  readonly card?: Card;
  /** WeChat Pay API v2; set when `payment: true`. */
  readonly payment?: Payment;
  /** WeChat Pay API v3; set when `paymentV3` is configured. */
  readonly paymentV3?: PaymentV3;
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
    // wechat-jssdk's accessTokenUrl is a GET /cgi-bin/token replacement (often a proxy): honour it instead of
    // silently going to stable_token, which would bypass the user's proxy.
    const tokenSource = checkTokenOptions(
      '',
      options.tokenSource ?? (options.accessTokenUrl !== undefined ? 'classic' : 'stable'),
      options.getAccessToken,
    );
    if (tokenSource === 'stable' && options.accessTokenUrl !== undefined) {
      throw new ConfigError(
        'accessTokenUrl',
        'replaces GET /cgi-bin/token, which tokenSource "stable" does not use; use apiUrl to redirect stable_token, or tokenSource "classic"',
      );
    }
    if (options.accessTokenUrl !== undefined) validateBaseUrl('accessTokenUrl', options.accessTokenUrl);
    if (options.ticketUrl !== undefined) validateBaseUrl('ticketUrl', options.ticketUrl);
    if (options.allowedHosts !== undefined && !Array.isArray(options.allowedHosts)) {
      throw new ConfigError('allowedHosts', 'must be an array of host names');
    }
    this.now = options.now ?? Date.now;
    // The secret stays in closures below; it is never kept on an enumerable property or logged.
    const { appSecret: _secret, ...publicOptions } = options;
    this.options = publicOptions;
    this.http = new HttpClient({
      apiUrl: options.apiUrl,
      timeout: options.timeout,
      proxy: options.proxy,
      appId: this.appId,
    });
    this.store = this.resolveStore(options);

    const onError = (err: unknown) => {
      log('background failure: %s', (err as Error)?.message ?? err);
      this.emit('refreshError', err);
    };
    const announce = (event: 'token' | 'ticket') => (record: CredentialRecord, name: string) =>
      this.emit(event, {
        name,
        expiresAt: record.expiresAt,
        fetchedAt: record.fetchedAt,
        fingerprint: fingerprint(record.value),
      });

    const accessToken = accessTokenCredential({
      name: 'access_token',
      http: this.http,
      appId: this.appId,
      appSecret,
      tokenSource,
      accessTokenUrl: options.accessTokenUrl,
      getAccessToken: options.getAccessToken,
      store: this.store,
      now: this.now,
      onRefresh: announce('token'),
      onError,
    });
    const jsapiTicket = new Credential({
      name: 'jsapi_ticket',
      backend: globalTokenBackend(this.store, 'jsapi_ticket'),
      fetch: ticketFetcher({
        http: this.http,
        token: accessToken,
        type: 'jsapi',
        ticketUrl: options.ticketUrl,
        now: this.now,
      }),
      now: this.now,
      onRefresh: announce('ticket'),
      onError,
    });
    this.credentials = { accessToken, jsapiTicket };
    this.closers.push(
      () => accessToken.close(),
      () => jsapiTicket.close(),
    );
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

    // ---- features: each issue wires its feature here, with `appSecret` from this closure ----
    // (oauth: #5, miniProgram and card: #7, payment and paymentV3: #8)
    this.oauth = createOAuth({
      options,
      appId: this.appId,
      appSecret,
      http: this.http,
      store: this.store,
      now: this.now,
    });
    this.options = omit(this.options, OAUTH_SECRET_OPTIONS) as Wechat['options'];
    if (options.miniProgram !== undefined) {
      const miniProgram = new MiniProgram(
        {
          miniProgram: options.miniProgram,
          apiUrl: options.apiUrl,
          timeout: options.timeout,
          proxy: options.proxy,
          now: this.now,
        },
        { store: this.store, onRefresh: announce('token'), onError },
      );
      this.miniProgram = miniProgram;
      this.closers.push(() => miniProgram.close());
      this.options = omit(this.options, ['miniProgram.appSecret']) as Wechat['options'];
    }
    if (options.card) {
      const card = new Card({
        appId: this.appId,
        http: this.http,
        store: this.store,
        accessToken,
        ticketUrl: options.ticketUrl,
        now: this.now,
        onRefresh: announce('ticket'),
        onError,
      });
      this.card = card;
      this.closers.push(() => card.close());
    }
    const { payment, paymentV3 } = createPayments(options, {
      appId: this.appId,
      http: this.http,
      store: this.store,
      now: this.now,
      onError,
    });
    this.payment = payment;
    this.paymentV3 = paymentV3;
    this.closers.push(
      () => payment?.close(),
      () => paymentV3?.close(),
    );
    this.options = omit(this.options, PAYMENT_SECRET_OPTIONS) as Wechat['options'];
  }

  private resolveStore(options: WechatOptions): Store {
    const { store } = storeFromOptions(options, this.now);
    if (typeof store.bindAppId === 'function') {
      try {
        store.bindAppId(this.appId);
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
