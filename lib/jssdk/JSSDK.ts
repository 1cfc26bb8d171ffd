/**
 * JS-SDK page signing (`wx.config`). Method names and results follow wechat-jssdk 5.x.
 * The hot path (a URL already signed with the current ticket) is one store lookup; a new URL costs one sha1.
 */
import createDebug from 'debug';
import { WechatError } from '../errors';
import { nonceStr, safeEqual, sha1 } from '../crypto';
import { HARD_EXPIRY_MARGIN_MS, type Credential } from '../credentials/Credential';
import type { Store } from '../store/Store';
import type { SignatureInfo } from '../store/types';
import { signJsapiTicket } from './signature';
import { normalizeUrl } from './url';

const log = createDebug('wechat:jssdk');

/** What the page passes to `wx.config` (plus the signed url). */
export interface ClientSignature {
  appId: string;
  timestamp: string;
  nonceStr: string;
  signature: string;
  url: string;
}

export interface JSSDKOptions {
  appId: string;
  wechatToken?: string;
  store: Store;
  accessToken: Credential;
  jsapiTicket: Credential;
  allowedHosts?: readonly string[];
  now?: () => number;
  /** Cache write failures are reported here (the signature is still returned). */
  onError?: (err: unknown) => void;
}

export class JSSDK {
  private readonly now: () => number;

  constructor(private readonly options: JSSDKOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The URL without `#hash`, validated. */
  static normalizeUrl(url: string): string {
    return normalizeUrl(url);
  }

  static createNonceStr(): string {
    return nonceStr();
  }

  /** Sign `url` with a ticket (wechat-jssdk's static helper). `accessToken` is accepted for compatibility only. */
  static generateSignature(
    url: string,
    _accessToken: string | undefined,
    ticket: string,
    now = Date.now(),
  ): SignatureInfo {
    const normalized = normalizeUrl(url);
    const info = {
      jsapi_ticket: ticket,
      nonceStr: nonceStr(),
      timestamp: String(Math.floor(now / 1000)),
      url: normalized,
    };
    return { ...info, signature: signJsapiTicket({ ...info, ticket }) };
  }

  /** Signature for `url`: from the cache when it was made with the live ticket, otherwise a new one. */
  async getSignature(url: string, forceNew = false): Promise<ClientSignature> {
    const key = normalizeUrl(url, this.options.allowedHosts);
    if (!forceNew) {
      const cached = await this.readCache(key);
      if (cached && this.isFresh(cached)) return this.toClient(cached);
    }
    return this.sign(key);
  }

  /** A cache that cannot be read is a miss: signing needs only the ticket, so a store outage must not break pages. */
  private async readCache(key: string): Promise<SignatureInfo | undefined> {
    try {
      return await this.options.store.getSignature(key);
    } catch (err) {
      log('could not read cached signature: %s', (err as Error)?.message);
      this.options.onError?.(err);
      return undefined;
    }
  }

  /** Always sign anew and save it (wechat-jssdk's createSignature). */
  async createSignature(url: string): Promise<ClientSignature> {
    return this.sign(normalizeUrl(url, this.options.allowedHosts));
  }

  /** Only what the cache has (an empty object when nothing, as in wechat-jssdk). */
  async getCachedSignature(url: string): Promise<ClientSignature | Record<string, never>> {
    const cached = await this.options.store.getSignature(normalizeUrl(url, this.options.allowedHosts));
    return cached ? this.toClient(cached) : {};
  }

  /**
   * The server-URL check WeChat makes when you save the server configuration: sha1 of the sorted
   * [wechatToken, timestamp, nonce] must equal `signature`. Compared in constant time.
   */
  verifySignature(query: { signature?: unknown; timestamp?: unknown; nonce?: unknown }): boolean {
    const token = this.options.wechatToken;
    if (!token) {
      throw new WechatError(
        'verifySignature needs the wechatToken option (the Token of your server configuration)',
        'NO_WECHAT_TOKEN',
      );
    }
    const { signature, timestamp, nonce } = query ?? {};
    if (typeof signature !== 'string' || typeof timestamp !== 'string' || typeof nonce !== 'string') return false;
    return safeEqual(sha1([token, timestamp, nonce].sort().join('')), signature);
  }

  /**
   * The current access_token and jsapi_ticket. With `force`, a new ticket is fetched now; the token is only
   * refetched if WeChat rejects it (forcing a classic token would kill every other holder's copy).
   */
  async getGlobalTokenAndTicket(
    force = false,
  ): Promise<{ accessToken: string; jsapi_ticket: string; jsapi_ticketExpiresAt?: number }> {
    const jsapi_ticket = force
      ? (await this.options.jsapiTicket.refresh({ force: true })).value
      : await this.options.jsapiTicket.get();
    const accessToken = await this.options.accessToken.get();
    return { accessToken, jsapi_ticket, jsapi_ticketExpiresAt: this.options.jsapiTicket.record?.expiresAt };
  }

  private isFresh(cached: SignatureInfo): boolean {
    if (typeof cached.signature !== 'string' || cached.expiresAt === undefined) return false;
    if (this.now() >= cached.expiresAt - HARD_EXPIRY_MARGIN_MS) return false;
    // A signature is only valid with the ticket it was made with; after a ticket refresh, sign again.
    const live = this.options.jsapiTicket.peek();
    return live === undefined || cached.jsapi_ticket === undefined || cached.jsapi_ticket === live;
  }

  private async sign(url: string): Promise<ClientSignature> {
    const ticket = await this.options.jsapiTicket.get();
    const expiresAt = this.options.jsapiTicket.record?.expiresAt;
    const now = this.now();
    const info: SignatureInfo = {
      jsapi_ticket: ticket,
      nonceStr: nonceStr(),
      timestamp: String(Math.floor(now / 1000)),
      url,
      signature: '',
      signatureName: url,
      createDate: new Date(now).toISOString(),
      expiresAt,
    };
    info.signature = signJsapiTicket({ ticket, nonceStr: info.nonceStr, timestamp: info.timestamp, url });
    try {
      await this.options.store.saveSignature(url, info);
    } catch (err) {
      // The signature is valid whether or not the cache took it; a store outage must not break the page.
      log('could not cache signature: %s', (err as Error).message);
      this.options.onError?.(err);
    }
    return this.toClient(info);
  }

  private toClient(info: SignatureInfo): ClientSignature {
    return {
      appId: this.options.appId,
      timestamp: info.timestamp,
      nonceStr: info.nonceStr,
      signature: info.signature,
      url: info.url,
    };
  }
}
