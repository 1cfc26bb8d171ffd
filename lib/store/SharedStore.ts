/**
 * The common part of stores whose data lives in a server shared by many processes (RedisStore, MongoStore) or in a
 * user's key-value object (KeyValueStore). Subclasses only say how to read and write records; this class decides
 * WHEN, so that every shared store behaves the same:
 *
 * - The global token and the card ticket are read through and written through: every read asks the backend (so a
 *   refresh made by another process is seen at once) and a write resolves only once the backend has it; a failure
 *   rejects with a StoreError. The credential engine catches those and keeps signing from memory and WeChat
 *   (degraded mode).
 * - OAuth tokens and mini-program sessions are read through with a memory fallback, and written through; a write
 *   the backend refuses is kept and retried (on the next flush, and as soon as the backend answers again), the
 *   failure going to the `error` event: the user's login works on this instance meanwhile.
 * - URL signatures are a per-process cache in the base class's memory map (JS-SDK signing reads it synchronously),
 *   written behind by `flush()`; the `limit` most recent ones are loaded back when a store starts, so a restarted
 *   process starts warm. A signature is one sha1 away: it is never worth a round trip on the signing path.
 * - Nothing waits forever: calls made while the first connection is being set up wait for it (bounded by
 *   `connectTimeoutMs`), every command is bounded by `commandTimeoutMs`, and a store known to be disconnected
 *   rejects at once instead of queueing.
 */
import createDebug from 'debug';
import { ConfigError, StoreError } from '../errors';
import { redact } from '../redact';
import { Coalescer } from './coalesce';
import { Store, type StoreOptions } from './Store';
import { mergeUpdates, splitGlobalUpdate, withoutWritten, type GlobalUpdate } from './merge';
import type {
  CardTicketInfo,
  GlobalTokenInfo,
  Lease,
  Lockable,
  MPSessionInfo,
  OAuthTokenInfo,
  SignatureInfo,
} from './types';

const log = createDebug('wechat:store:shared');

export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** WeChat's refresh_token lives 30 days; sessions and tokens without an expiry of their own are kept as long. */
export const DEFAULT_SESSION_TTL_MS = 30 * 24 * 60 * 60_000;
/** Signatures (and, for MongoStore, OAuth tokens) loaded into memory when a store starts, as in wechat-jssdk. */
export const DEFAULT_PRELOAD_LIMIT = 20;

export interface SharedStoreOptions extends StoreOptions {
  /** Longest wait for one command (ms, default 2000); a backend that does not answer in time counts as down. */
  commandTimeoutMs?: number;
  /** How long calls made before the first connection wait for it (ms, default 5000). */
  connectTimeoutMs?: number;
  /** Server-side lifetime of mini-program sessions and of OAuth tokens without `refreshTokenExpiresAt` (ms, 30 days). */
  sessionTtlMs?: number;
  /** Most recent records loaded into memory at start (default 20; 0 = none). */
  limit?: number;
}

/** Records to load at start, oldest first. */
export interface Preloaded {
  urls: Array<[string, SignatureInfo]>;
  oauth?: Array<[string, OAuthTokenInfo]>;
}

/** The per-key record kinds (the maps of the base Store). */
export type RecordKind = 'urls' | 'oauth' | 'mp';
export type StoredRecord = SignatureInfo | OAuthTokenInfo | MPSessionInfo;

/** One record to write; `record: null` (or a `ttlMs` of 0 or less) removes it. */
export interface RecordWrite {
  key: string;
  record: StoredRecord | null;
  /** Lifetime on the server (ms from now), derived from the record's own expiry; undefined = no expiry. */
  ttlMs?: number;
}

type ConnectionState = 'ready' | 'connecting' | 'down';

const KIND_LABEL: Record<RecordKind, string> = {
  urls: 'a signature',
  oauth: 'an OAuth token',
  mp: 'a mini-program session',
};

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms (${what})`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export abstract class SharedStore extends Store implements Lockable {
  protected readonly commandTimeoutMs: number;
  protected readonly connectTimeoutMs: number;
  protected readonly sessionTtlMs: number;
  readonly limit: number;
  private warmed?: Promise<void>;
  /** Until then (or the first ready), a store that is not ready yet is "connecting" and calls wait for it. */
  private readonly connectingUntil: number;
  private everReady = false;
  private readyWaiters: Array<() => void> = [];
  private readonly dirtyUrls = new Set<string>();
  /** OAuth tokens / sessions the backend refused; `null` is a removal. Retried by flush(). */
  private readonly pending = {
    oauth: new Map<string, StoredRecord | null>(),
    mp: new Map<string, StoredRecord | null>(),
  };
  /** Global token / card ticket writes the backend refused (the caller got the StoreError); replayed on return. */
  private pendingGlobal?: GlobalUpdate;
  private pendingCard?: CardTicketInfo;
  private retryAfterOutage = false;
  private readonly flusher = new Coalescer(() => this.flushOnce());
  private destroying?: Promise<void>;
  private closed = false;

  /** Name used in messages, e.g. `RedisStore`. */
  protected abstract readonly kind: string;

  constructor(options: SharedStoreOptions = {}) {
    super(options);
    this.commandTimeoutMs = positive(options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS);
    this.connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.sessionTtlMs = positive(options.sessionTtlMs, DEFAULT_SESSION_TTL_MS);
    const limit = options.limit ?? DEFAULT_PRELOAD_LIMIT;
    if (!Number.isInteger(limit) || limit < 0)
      throw new ConfigError('limit', 'must be a whole number of records (0 or more)');
    this.limit = limit;
    this.connectingUntil = Date.now() + this.connectTimeoutMs;
  }

  // ---- what a backend provides ------------------------------------------------------------------------------

  /** True when commands can be sent now. */
  protected abstract isReady(): boolean;
  /** Where the data lives, for messages (never with a password). */
  protected abstract describe(): string;
  protected abstract readGlobal(): Promise<GlobalTokenInfo>;
  /** Apply `update` (newest credential group wins, see merge.ts), bump `count`, set `modifyDate`; return the result. */
  protected abstract writeGlobal(update: GlobalUpdate, modifyDate: string): Promise<GlobalTokenInfo>;
  protected abstract readCard(): Promise<CardTicketInfo>;
  /** Merge `info` into the card record unless the stored one was fetched later; return the result. */
  protected abstract writeCard(info: CardTicketInfo, modifyDate: string): Promise<CardTicketInfo>;
  protected abstract readRecord(kind: RecordKind, key: string): Promise<StoredRecord | undefined>;
  /** The `limit` most recent signatures (and optionally OAuth tokens) of this appId, oldest first. */
  protected abstract preload(limit: number): Promise<Preloaded>;
  protected abstract writeRecords(kind: RecordKind, writes: RecordWrite[]): Promise<void>;
  /** Try once to take the lease `name`; null when another owner holds it. */
  protected abstract acquire(name: string, ttlMs: number): Promise<Lease | null>;
  /** Remove every record of this appId. */
  protected abstract clearBackend(): Promise<void>;
  /** Close what this store opened (never a client or connection the user passed in). */
  protected abstract closeBackend(): Promise<void>;

  /** Subclasses call this whenever the backend becomes usable: waiting calls go on, unsaved writes are retried. */
  protected signalReady(): void {
    this.everReady = true;
    this.wakeWaiters();
    if (this.retryAfterOutage) this.retryInBackground();
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  // ---- the Store API ----------------------------------------------------------------------------------------

  override async getGlobalToken(): Promise<GlobalTokenInfo> {
    const info = await this.run('read the global token', () => this.readGlobal());
    this.store.globalToken = info;
    return info;
  }

  override async updateGlobalToken(info: GlobalTokenInfo): Promise<GlobalTokenInfo> {
    const update = splitGlobalUpdate(info);
    let next: GlobalTokenInfo;
    try {
      next = await this.run('write the global token', () => this.writeGlobal(update, this.isoNow()));
    } catch (err) {
      // The caller learns it now (the engine goes on from memory); the write itself is not lost: it is replayed
      // when the backend answers again, and the newest-fetch rule keeps a replay from undoing a later refresh.
      this.pendingGlobal = mergeUpdates(this.pendingGlobal, update);
      this.retryAfterOutage = true;
      throw err;
    }
    this.pendingGlobal = withoutWritten(this.pendingGlobal, update);
    this.store.globalToken = next;
    return next;
  }

  override async getCardTicket(): Promise<CardTicketInfo> {
    const card = await this.run('read the card ticket', () => this.readCard());
    this.store.card = card;
    return card;
  }

  override async updateCardTicket(info: CardTicketInfo): Promise<CardTicketInfo> {
    let card: CardTicketInfo;
    try {
      card = await this.run('write the card ticket', () => this.writeCard({ ...info }, this.isoNow()));
    } catch (err) {
      if (!this.pendingCard || fetchedAt(this.pendingCard) <= fetchedAt(info))
        this.pendingCard = { ...this.pendingCard, ...info };
      this.retryAfterOutage = true;
      throw err;
    }
    if (this.pendingCard && fetchedAt(this.pendingCard) <= fetchedAt(info)) this.pendingCard = undefined;
    this.store.card = card;
    return card;
  }

  /**
   * Signatures live in the base class's memory map, so JS-SDK signing keeps its synchronous hot path with every
   * store (see jssdk/JSSDK.ts); a save only marks the URL for the next flush.
   */
  override putSignature(url: string, signatureInfo: SignatureInfo, owned?: boolean): SignatureInfo {
    const info = super.putSignature(url, signatureInfo, owned);
    this.dirtyUrls.add(url);
    return info;
  }

  override async updateSignature(url: string, newInfo: Partial<SignatureInfo>): Promise<SignatureInfo> {
    const info = await super.updateSignature(url, newInfo);
    this.dirtyUrls.add(url);
    return info;
  }

  override getOAuthAccessToken(key: string): Promise<OAuthTokenInfo | undefined> {
    return this.readThrough('oauth', key) as Promise<OAuthTokenInfo | undefined>;
  }

  override async saveOAuthAccessToken(key: string, info: OAuthTokenInfo): Promise<OAuthTokenInfo> {
    const record = await super.saveOAuthAccessToken(key, info);
    await this.writeOrKeep('oauth', key, record);
    return record;
  }

  override async updateOAuthAccessToken(key: string, newInfo: Partial<OAuthTokenInfo>): Promise<OAuthTokenInfo> {
    const current = this.store.oauth[key] ?? (await this.getOAuthAccessToken(key).catch(() => undefined));
    return this.saveOAuthAccessToken(key, { ...current, ...newInfo } as OAuthTokenInfo);
  }

  override async removeOAuthAccessToken(key: string): Promise<void> {
    await super.removeOAuthAccessToken(key);
    await this.writeOrKeep('oauth', key, null);
  }

  override getMPSession(key: string): Promise<MPSessionInfo | undefined> {
    return this.readThrough('mp', key) as Promise<MPSessionInfo | undefined>;
  }

  override async setMPSession(key: string, data: MPSessionInfo): Promise<MPSessionInfo> {
    const record = await super.setMPSession(key, data);
    await this.writeOrKeep('mp', key, record);
    return record;
  }

  /** A cross-process lease (the credential engine takes one so that one process per cluster refreshes). */
  override async lock(name: string, ttlMs: number): Promise<Lease | null> {
    const lease = await this.run(`lock ${name}`, () => this.acquire(name, ttlMs));
    if (!lease) return null;
    return { name: lease.name, release: () => this.run(`release ${name}`, () => lease.release(), true) };
  }

  /** Write the signatures saved since the last flush, and retry writes the backend refused. */
  override flush(): Promise<void> {
    return this.flusher.run().then(() => super.flush());
  }

  /** Flush what is pending (a failure goes to the `error` event), then close what this store opened. Idempotent. */
  override destroy(): Promise<void> {
    this.destroying ??= (async () => {
      try {
        if (this.appId && this.hasUnsaved()) await this.flush();
      } catch (err) {
        this.reportError(err);
      }
      this.closed = true;
      this.wakeWaiters();
      try {
        await this.closeBackend();
      } catch (err) {
        this.reportError(new StoreError(`${this.kind} could not close: ${message(err)}`, { cause: err }));
      }
      await super.destroy();
    })();
    return this.destroying;
  }

  /** Forget everything of this appId, here and in the backend. */
  override async clearStore(): Promise<void> {
    await super.clearStore();
    this.dirtyUrls.clear();
    this.pending.oauth.clear();
    this.pending.mp.clear();
    this.pendingGlobal = undefined;
    this.pendingCard = undefined;
    await this.run('clear the store', () => this.clearBackend());
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  /**
   * Run one backend operation: wait for the first connection if it is still being set up, fail fast when the
   * backend is known to be down, bound the wait, and turn every failure into a StoreError.
   */
  protected async run<T>(label: string, operation: () => Promise<T>, evenIfClosing = false): Promise<T> {
    if (this.closed || (this.destroying && !evenIfClosing && !this.flusher.busy)) {
      throw new StoreError(`${this.kind} cannot ${label}: the store was destroyed`);
    }
    if (!this.appId) {
      throw new StoreError(`${this.kind} cannot ${label} before bindAppId(appId) (the Wechat facade calls it for you)`);
    }
    let state = this.state();
    if (state === 'connecting') {
      await this.waitForReady(this.connectingUntil - Date.now());
      state = this.state();
    }
    if (state !== 'ready') {
      this.retryAfterOutage ||= this.hasUnsaved();
      throw new StoreError(`${this.kind} cannot ${label}: not connected to ${this.describe()}`);
    }
    // The first call that reaches the backend loads the recent records first (once).
    if (!this.destroying) await (this.warmed ??= this.warmUp());
    try {
      const result = await withTimeout(operation(), this.commandTimeoutMs, label);
      if (this.retryAfterOutage) this.retryInBackground();
      return result;
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`${this.kind} could not ${label} (${this.describe()}): ${message(err)}`, { cause: err });
    }
  }

  private async warmUp(): Promise<void> {
    if (this.limit === 0) return;
    try {
      const { urls, oauth = [] } = await withTimeout(this.preload(this.limit), this.commandTimeoutMs, 'preload');
      const now = this.now();
      for (const [url, record] of urls) {
        if (this.store.urls[url] || (record.expiresAt !== undefined && record.expiresAt <= now)) continue;
        this.store.urls[url] = record;
        this.urlIndex.touch(url);
      }
      for (const [key, record] of oauth) {
        if (this.store.oauth[key]) continue;
        this.store.oauth[key] = record;
        this.oauthIndex.touch(key);
      }
      log('%s preloaded %d signatures and %d OAuth tokens', this.kind, urls.length, oauth.length);
    } catch (err) {
      // A cold start is only slower: reported, not fatal.
      this.reportError(
        new StoreError(`${this.kind} could not preload recent records: ${message(err)}`, { cause: err }),
      );
    }
  }

  private state(): ConnectionState {
    if (this.closed) return 'down';
    if (this.isReady()) return 'ready';
    return !this.everReady && Date.now() < this.connectingUntil ? 'connecting' : 'down';
  }

  private waitForReady(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.readyWaiters.push(done);
    });
  }

  private wakeWaiters(): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const wake of waiters) wake();
  }

  private async readThrough(kind: 'oauth' | 'mp', key: string): Promise<StoredRecord | undefined> {
    const records = this.store[kind] as Record<string, StoredRecord>;
    const index = kind === 'oauth' ? this.oauthIndex : this.mpIndex;
    // Our own write that the backend has not taken yet is newer than whatever it holds.
    if (this.pending[kind].has(key)) return records[key];
    let found: StoredRecord | undefined;
    try {
      found = await this.run(`read ${KIND_LABEL[kind]}`, () => this.readRecord(kind, key));
    } catch (err) {
      if (records[key] === undefined) throw err;
      this.reportError(err);
      return records[key];
    }
    if (found === undefined) {
      // Removed or expired on the server (by another process, or its TTL): the backend is the truth.
      delete records[key];
      index.forget(key);
      return undefined;
    }
    records[key] = found;
    index.touch(key);
    return found;
  }

  private async writeOrKeep(kind: 'oauth' | 'mp', key: string, record: StoredRecord | null): Promise<void> {
    const keptBefore = this.pending[kind].get(key);
    try {
      await this.run(`write ${KIND_LABEL[kind]}`, () => this.writeRecords(kind, [this.toWrite(kind, key, record)]));
      // Our write supersedes an older kept one, but not one kept by a call that failed while ours was in flight.
      if (this.pending[kind].get(key) === keptBefore) this.pending[kind].delete(key);
    } catch (err) {
      // Kept (the newest wins) and written by the next flush, or as soon as the backend answers again.
      this.pending[kind].set(key, record);
      this.retryAfterOutage = true;
      this.reportError(err);
    }
  }

  private toWrite(kind: RecordKind, key: string, record: StoredRecord | null): RecordWrite {
    if (record === null) return { key, record: null };
    const now = this.now();
    let expiresAt: number | undefined;
    if (kind === 'urls') expiresAt = finite((record as SignatureInfo).expiresAt);
    else if (kind === 'oauth')
      expiresAt = finite((record as OAuthTokenInfo).refreshTokenExpiresAt) ?? now + this.sessionTtlMs;
    else expiresAt = now + this.sessionTtlMs;
    return { key, record, ttlMs: expiresAt === undefined ? undefined : expiresAt - now };
  }

  private async flushOnce(): Promise<void> {
    if (!this.appId) return;
    const urls: RecordWrite[] = [];
    for (const url of [...this.dirtyUrls]) {
      const record = this.store.urls[url];
      const write = record && this.toWrite('urls', url, record);
      // Evicted, or expired before it was written: nothing worth sending.
      if (!write || (write.ttlMs !== undefined && write.ttlMs <= 0)) this.dirtyUrls.delete(url);
      else urls.push(write);
    }
    const oauth = [...this.pending.oauth].map(([key, record]) => this.toWrite('oauth', key, record));
    const mp = [...this.pending.mp].map(([key, record]) => this.toWrite('mp', key, record));
    const global = this.pendingGlobal;
    const card = this.pendingCard;
    if (urls.length + oauth.length + mp.length === 0 && !global && !card) return;
    this.retryAfterOutage = false;
    try {
      await this.run('flush', async () => {
        if (global) await this.writeGlobal(global, this.isoNow());
        if (card) await this.writeCard(card, this.isoNow());
        if (urls.length) await this.writeRecords('urls', urls);
        if (oauth.length) await this.writeRecords('oauth', oauth);
        if (mp.length) await this.writeRecords('mp', mp);
      });
    } catch (err) {
      this.retryAfterOutage = true;
      throw err;
    }
    log(
      '%s flushed %d signatures, %d OAuth tokens, %d sessions%s',
      this.kind,
      urls.length,
      oauth.length,
      mp.length,
      global || card ? ' and a kept token write' : '',
    );
    // Only what is unchanged since we read it is clean; a newer save stays for the next flush.
    if (global) this.pendingGlobal = withoutWritten(this.pendingGlobal, global);
    if (card && this.pendingCard === card) this.pendingCard = undefined;
    for (const write of urls) if (this.store.urls[write.key] === write.record) this.dirtyUrls.delete(write.key);
    for (const [kind, writes] of [
      ['oauth', oauth],
      ['mp', mp],
    ] as const) {
      for (const write of writes)
        if (this.pending[kind].get(write.key) === write.record) this.pending[kind].delete(write.key);
    }
  }

  private hasUnsaved(): boolean {
    return (
      this.dirtyUrls.size + this.pending.oauth.size + this.pending.mp.size > 0 ||
      !!this.pendingGlobal ||
      !!this.pendingCard
    );
  }

  /** The backend answers again: write what it refused while it was away. */
  private retryInBackground(): void {
    if (this.flusher.busy || this.closed || this.destroying) return;
    this.retryAfterOutage = false;
    if (!this.hasUnsaved()) return;
    log('%s is back: writing what was kept', this.kind);
    // Not awaited by anyone: a failure is reported and marks the writes for the next attempt.
    setImmediate(() => void this.flush().catch((err) => this.reportError(err))).unref();
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

function fetchedAt(card: CardTicketInfo): number {
  const n = Number(card.fetchedAt);
  return Number.isFinite(n) ? n : 0;
}

function finite(value: unknown): number | undefined {
  const n = Number(value);
  return value !== undefined && value !== null && Number.isFinite(n) ? n : undefined;
}

/** Records are JSON data: no undefined values, no class instances. */
export function plainJson(record: StoredRecord): StoredRecord {
  return JSON.parse(JSON.stringify(record)) as StoredRecord;
}

export function message(err: unknown): string {
  return redact(String((err as Error)?.message ?? err));
}
