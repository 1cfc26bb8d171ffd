/**
 * The base store: everything in memory, flushed periodically by subclasses that persist. Its Promise-based API is
 * the one wechat-jssdk 5.x documents for custom stores, so a subclass written for that library works unchanged.
 *
 * What differs from wechat-jssdk: the URL-signature and user-token maps are bounded (LRU) so memory cannot grow
 * without limit, records carry their absolute expiry, and a store is bound to one appId (`bindAppId`).
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { cloneDeep } from '../util/lodash';
import { LocalLeases } from './localLock';
import { RecencyIndex } from './lru';
import { SignatureCache } from './urlCache';
import type {
  CardTicketInfo,
  GlobalTokenInfo,
  MPSessionInfo,
  OAuthTokenInfo,
  SignatureInfo,
  Lease,
  StoreState,
} from './types';

const log = createDebug('wechat:store');

export const DEFAULT_FLUSH_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_MAX_URLS = 10_000;
export const DEFAULT_MAX_USERS = 100_000;

export interface StoreOptions {
  /** Flush period in ms (default 10 minutes). */
  interval?: number;
  /** Do not start the flush timer. */
  noInterval?: boolean;
  /** Most URL signatures kept in memory (LRU, default 10000). */
  maxUrls?: number;
  /** Most OAuth user tokens and mini-program sessions kept in memory each (LRU, default 100000). */
  maxUsers?: number;
  /** Clock in ms; tests pass the sandbox clock. */
  now?: () => number;
}

const storeEvents = {
  FLUSH_STORE: 'FLUSH_STORE',
  STORE_FLUSHED: 'STORE_FLUSHED',
  DESTROYED: 'DESTROYED',
  DESTROY: 'DESTROY',
  /** A background write failed; payload is a StoreError. The SDK keeps serving from memory. */
  ERROR: 'error',
} as const;

export function emptyState(): StoreState {
  return { wechatConfig: {}, globalToken: { count: 0 }, urls: {}, oauth: {}, card: {}, mp: {} };
}

export class Store extends EventEmitter {
  static get StoreEvents() {
    return storeEvents;
  }

  /** wechat-jssdk exposes this flag; kept for custom stores that read it. */
  cache = true;
  #state!: StoreState;
  /** The appId this store serves; set by the Wechat facade. Records of another appId are never returned. */
  appId?: string;
  protected readonly now: () => number;
  /** URL signatures (a bounded Map); `this.store.urls` is an object view of it for wechat-jssdk-style code. */
  protected readonly urlIndex: SignatureCache;
  protected readonly oauthIndex: RecencyIndex;
  protected readonly mpIndex: RecencyIndex;
  private readonly localLeases = new LocalLeases();
  private flushTimer?: NodeJS.Timeout;
  private destroyed = false;

  constructor(options: StoreOptions = {}) {
    super();
    this.now = options.now ?? Date.now;
    this.urlIndex = new SignatureCache(options.maxUrls ?? DEFAULT_MAX_URLS);
    this.store = emptyState();
    this.oauthIndex = new RecencyIndex(() => this.store.oauth, options.maxUsers ?? DEFAULT_MAX_USERS);
    this.mpIndex = new RecencyIndex(() => this.store.mp, options.maxUsers ?? DEFAULT_MAX_USERS);
    this.on(storeEvents.FLUSH_STORE, () => void this.flush().catch((err) => this.reportError(err)));
    this.on(storeEvents.DESTROY, () => void this.destroy().catch((err) => this.reportError(err)));
    if (!options.noInterval) {
      this.flushTimer = setInterval(
        () => void this.flush().catch((err) => this.reportError(err)),
        options.interval ?? DEFAULT_FLUSH_INTERVAL_MS,
      );
      // A store must never keep the process alive on its own.
      this.flushTimer.unref();
    }
  }

  /** The in-memory state, with wechat-jssdk's layout (`globalToken`, `urls`, `oauth`, `card`, `mp`). */
  get store(): StoreState {
    return this.#state;
  }

  /**
   * Replacing the state (a subclass loading its backend) loads its `urls` into the signature cache; from then on
   * `state.urls` reads and writes the cache, also when a subclass assigns `this.store.urls = {...}` later.
   */
  set store(state: StoreState) {
    const cache = this.urlIndex;
    cache.load(state.urls);
    Object.defineProperty(state, 'urls', {
      get: () => cache.view,
      set: (records: Record<string, SignatureInfo>) => cache.load(records),
      enumerable: true,
      configurable: true,
    });
    this.#state = state;
  }

  /**
   * Bind this store to one appId. A store that already holds another app's records starts clean, as
   * wechat-jssdk's compareConfigKeys did, so two apps never share a token.
   */
  bindAppId(appId: string): void {
    if (this.appId && this.appId !== appId) {
      throw new Error(`this store is bound to appId ${this.appId}; create one store per app`);
    }
    const previous = this.store.wechatConfig.appId;
    if (previous !== undefined && previous !== appId) {
      log('store held appId %s, now %s: starting clean', previous, appId);
      this.resetState();
    }
    this.appId = appId;
    this.store.wechatConfig.appId = appId;
  }

  getGlobalToken(): Promise<GlobalTokenInfo> {
    return Promise.resolve(this.store.globalToken);
  }

  updateGlobalToken(info: GlobalTokenInfo): Promise<GlobalTokenInfo> {
    const next = { ...this.store.globalToken, ...info, modifyDate: new Date(this.now()).toISOString() };
    next.count = (this.store.globalToken.count ?? 0) + 1;
    this.store.globalToken = next;
    return Promise.resolve(next);
  }

  getSignature(url: string): Promise<SignatureInfo | undefined> {
    return Promise.resolve(this.peekSignature(url));
  }

  saveSignature(url: string, signatureInfo: SignatureInfo): Promise<SignatureInfo> {
    return Promise.resolve(this.putSignature(url, signatureInfo));
  }

  /**
   * The synchronous halves of getSignature/saveSignature on the in-memory map. JS-SDK signing calls them directly
   * (no Promise per call) when a store does not override getSignature/saveSignature; a store that does is always
   * called through its Promise API.
   */
  peekSignature(url: string): SignatureInfo | undefined {
    return this.liveSignature(url);
  }

  /**
   * `owned`: the caller made this record for the cache and keeps no reference to change it (JS-SDK signing), so it
   * is stored as is; otherwise a copy, so the caller's object is never aliased.
   */
  putSignature(url: string, signatureInfo: SignatureInfo, owned = false): SignatureInfo {
    const info = owned ? signatureInfo : { ...signatureInfo, updated: true };
    this.urlIndex.set(url, info);
    return info;
  }

  updateSignature(url: string, newInfo: Partial<SignatureInfo>): Promise<SignatureInfo> {
    const info = { ...this.urlIndex.get(url), ...newInfo, updated: true } as SignatureInfo;
    this.urlIndex.set(url, info);
    return Promise.resolve(info);
  }

  isSignatureExisting(url: string): Promise<boolean> {
    return Promise.resolve(this.liveSignature(url) !== undefined);
  }

  getOAuthAccessToken(key: string): Promise<OAuthTokenInfo | undefined> {
    return Promise.resolve(this.store.oauth[key]);
  }

  saveOAuthAccessToken(key: string, info: OAuthTokenInfo): Promise<OAuthTokenInfo> {
    const record = { ...info, key, modifyDate: new Date(this.now()).toISOString() };
    this.store.oauth[key] = record;
    this.oauthIndex.touch(key);
    return Promise.resolve(record);
  }

  updateOAuthAccessToken(key: string, newInfo: Partial<OAuthTokenInfo>): Promise<OAuthTokenInfo> {
    return this.saveOAuthAccessToken(key, { ...this.store.oauth[key], ...newInfo } as OAuthTokenInfo);
  }

  /** Remove a user's token (refresh token expired or revoked). New in this SDK. */
  removeOAuthAccessToken(key: string): Promise<void> {
    delete this.store.oauth[key];
    this.oauthIndex.forget(key);
    return Promise.resolve();
  }

  getCardTicket(): Promise<CardTicketInfo> {
    return Promise.resolve(this.store.card);
  }

  updateCardTicket(ticketInfo: CardTicketInfo): Promise<CardTicketInfo> {
    this.store.card = { ...this.store.card, ...ticketInfo, modifyDate: new Date(this.now()).toISOString() };
    return Promise.resolve(this.store.card);
  }

  getMPSession(key: string): Promise<MPSessionInfo | undefined> {
    return Promise.resolve(this.store.mp[key]);
  }

  setMPSession(key: string, data: MPSessionInfo): Promise<MPSessionInfo> {
    // Each wx.login issues a new session_key, so a new session replaces the old one instead of merging.
    const record = { ...data, modifyDate: new Date(this.now()).toISOString() };
    this.store.mp[key] = record;
    this.mpIndex.touch(key);
    return Promise.resolve(record);
  }

  async getMPSessionKey(key: string): Promise<string | undefined> {
    return (await this.getMPSession(key))?.session_key;
  }

  /**
   * A lease inside this process, so that Wechat instances sharing this store object refresh a token once.
   * FileStore, RedisStore and MongoStore replace it with a lease shared by processes.
   */
  lock(name: string, ttlMs: number): Promise<Lease | null> {
    return Promise.resolve(this.localLeases.take(name, ttlMs));
  }

  /** Persist memory to the backend. The base store keeps nothing outside memory; it only prunes. */
  flush(): Promise<void> {
    this.pruneUrls();
    this.emit(storeEvents.STORE_FLUSHED, true);
    return Promise.resolve();
  }

  /**
   * Drop expired signatures nobody reads any more. (The bound needs no re-applying: writes straight into
   * `this.store.urls`, the documented CustomStore pattern, go through the cache and are bounded as they happen.)
   */
  protected pruneUrls(): void {
    const now = this.now();
    for (const [url, info] of this.urlIndex.map) {
      if (info?.expiresAt !== undefined && info.expiresAt <= now) this.urlIndex.forget(url);
    }
  }

  /** Stop timers and release resources. Safe to call more than once. */
  destroy(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    this.destroyed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    this.resetState();
    this.emit(storeEvents.DESTROYED, true);
    this.removeAllListeners(storeEvents.FLUSH_STORE);
    this.removeAllListeners(storeEvents.DESTROY);
    return Promise.resolve();
  }

  clearStore(): Promise<void> {
    const appId = this.store.wechatConfig.appId;
    this.resetState();
    if (appId !== undefined) this.store.wechatConfig.appId = appId;
    return Promise.resolve();
  }

  /** A deep copy of the in-memory state (for persistence by subclasses). */
  protected snapshot(): StoreState {
    return cloneDeep(this.store);
  }

  /** Replace the in-memory state (after loading from a backend) and rebuild the LRU indexes. */
  protected replaceState(state: StoreState): void {
    this.store = { ...emptyState(), ...state };
    this.oauthIndex.resync();
    this.mpIndex.resync();
  }

  protected resetState(): void {
    this.store = emptyState();
    this.oauthIndex.clear();
    this.mpIndex.clear();
  }

  /** Background failures become an `error` event when someone listens, otherwise a warning; never a crash. */
  protected reportError(err: unknown): void {
    if (this.listenerCount(storeEvents.ERROR) > 0) this.emit(storeEvents.ERROR, err);
    else process.emitWarning(`wechat-jssdk-ts store: ${(err as Error)?.message ?? String(err)}`);
  }

  private liveSignature(url: string): SignatureInfo | undefined {
    const info = this.urlIndex.get(url);
    if (info === undefined) return undefined;
    if (info.expiresAt !== undefined && info.expiresAt <= this.now()) {
      this.urlIndex.forget(url);
      return undefined;
    }
    // A hit makes the URL recent: the bound evicts the least recently used, not the first saved.
    this.urlIndex.touch(url);
    return info;
  }
}

/**
 * Accept a store by its shape (a subclass of another library's Store with the same methods works too), and say
 * exactly which methods are missing otherwise.
 */
export const REQUIRED_STORE_METHODS = [
  'getGlobalToken',
  'updateGlobalToken',
  'getSignature',
  'saveSignature',
  'updateSignature',
  'isSignatureExisting',
  'getOAuthAccessToken',
  'saveOAuthAccessToken',
  'updateOAuthAccessToken',
  'getCardTicket',
  'updateCardTicket',
  'getMPSession',
  'setMPSession',
  'getMPSessionKey',
  'flush',
  'destroy',
] as const;

export function missingStoreMethods(candidate: unknown): string[] {
  if (candidate === null || typeof candidate !== 'object') return [...REQUIRED_STORE_METHODS];
  return REQUIRED_STORE_METHODS.filter((m) => typeof (candidate as Record<string, unknown>)[m] !== 'function');
}
