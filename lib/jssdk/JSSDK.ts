/**
 * JS-SDK page signing (`wx.config`). Method names and results follow wechat-jssdk 5.x.
 * The hot path (a URL already signed with the current ticket) is one store lookup; a new URL costs one sha1.
 */
import createDebug from 'debug';
import { WechatError } from '../errors';
import { nonceStr, safeEqual, sha1 } from '../crypto';
import { HARD_EXPIRY_MARGIN_MS, type Credential } from '../credentials/Credential';
import { Store } from '../store/Store';
import type { SignatureInfo } from '../store/types';
import { signJsapiTicket } from './signature';
import { normalizeUrl } from './url';

const log = createDebug('wechat:jssdk');

const baseGetSignature = Store.prototype.getSignature;
const baseSaveSignature = Store.prototype.saveSignature;

/**
 * A store that keeps the base class's in-memory signature map (Store, FileStore, and any subclass that does not
 * override getSignature/saveSignature) is read and written synchronously: no Promise per lookup on the hot path.
 * A store that overrides either method is always called through its Promise API.
 */
function inMemory(store: Store): boolean {
  return store.getSignature === baseGetSignature && store.saveSignature === baseSaveSignature;
}

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
  /**
   * Which cached records have a URL this instance has validated (normalizeUrl with its allowedHosts), so that a
   * cache hit skips parsing the URL again. Records it signs carry `mark`, a key of its own that the store copies
   * with the record and JSON never writes; others (loaded from a file, saved by other code) are validated once and
   * then remembered in `validated`, weakly, so the store's LRU alone decides what stays in memory.
   */
  private readonly mark = Symbol('wechat-jssdk-ts validated url');
  private readonly validated = new WeakSet<object>();
  /** Time strings of the last signature, reused within the same millisecond (toISOString is costly). */
  private clock = { at: Number.NaN, timestamp: '', iso: '' };

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
  getSignature(url: string, forceNew = false): Promise<ClientSignature> {
    const store = this.options.store;
    if (!inMemory(store)) return this.getSignatureVia(url, forceNew);
    // Synchronous from here on unless the ticket must be fetched; errors still come back as a rejection.
    let lookedUp: string | undefined;
    let cached: SignatureInfo | undefined;
    if (!forceNew && typeof url === 'string') {
      const hash = url.indexOf('#');
      lookedUp = hash >= 0 ? url.slice(0, hash) : url;
      cached = store.peekSignature(lookedUp);
      if (cached && this.wasValidated(cached, lookedUp) && this.isFresh(cached)) {
        return Promise.resolve(this.toClient(cached));
      }
    }
    let key: string;
    try {
      key = normalizeUrl(url, this.options.allowedHosts);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!forceNew) {
      // normalizeUrl keeps the URL as given minus the hash: the lookup above was for this key (checked, not assumed).
      if (key !== lookedUp) cached = store.peekSignature(key);
      if (cached && this.isFresh(cached)) {
        this.validated.add(cached);
        return Promise.resolve(this.toClient(cached));
      }
    }
    const ticket = this.options.jsapiTicket.peek();
    if (ticket === undefined) return this.sign(key);
    const info = this.newSignature(key, ticket);
    store.putSignature(key, info, true);
    return Promise.resolve(this.toClient(info));
  }

  private wasValidated(cached: SignatureInfo, key: string): boolean {
    const mine = (cached as unknown as Record<symbol, unknown>)[this.mark] === true;
    return mine ? cached.url === key : this.validated.has(cached);
  }

  /** getSignature through the store's Promise API (custom stores). */
  private async getSignatureVia(url: string, forceNew: boolean): Promise<ClientSignature> {
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
    const info = this.newSignature(url, ticket);
    try {
      await this.options.store.saveSignature(url, info);
    } catch (err) {
      // The signature is valid whether or not the cache took it; a store outage must not break the page.
      log('could not cache signature: %s', (err as Error).message);
      this.options.onError?.(err);
    }
    return this.toClient(info);
  }

  private newSignature(url: string, ticket: string): SignatureInfo {
    const now = this.now();
    if (now !== this.clock.at) {
      this.clock = { at: now, timestamp: String(Math.floor(now / 1000)), iso: new Date(now).toISOString() };
    }
    const { timestamp, iso } = this.clock;
    const nonce = nonceStr();
    return {
      jsapi_ticket: ticket,
      nonceStr: nonce,
      timestamp,
      url,
      signature: signJsapiTicket({ ticket, nonceStr: nonce, timestamp, url }),
      signatureName: url,
      createDate: iso,
      expiresAt: this.options.jsapiTicket.record?.expiresAt,
      // What Store.saveSignature adds to the records it keeps (wechat-jssdk compatibility).
      updated: true,
      [this.mark]: true,
    };
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
