/**
 * One engine for every token and ticket (access_token, jsapi_ticket, card api_ticket, mini-program token).
 *
 * - Expiry comes from WeChat's `expires_in`, stored as an absolute time.
 * - Refresh-ahead: inside REFRESH_AHEAD_MS of expiry the current value keeps being served while one background
 *   refresh runs (stale-while-revalidate); inside HARD_EXPIRY_MARGIN_MS the value is no longer handed out.
 * - Single flight: concurrent callers in this process share one refresh.
 * - Read-through/write-through: a missing or expiring value is first looked up in the store (another process may
 *   have refreshed it); a new value is written to the store before callers get it.
 * - Cross-process: with a store that can `lock()`, only the lease holder calls WeChat; the others wait (bounded)
 *   for the value to appear in the store.
 * - Compare-and-invalidate: `invalidate(dead)` drops the value only if it is still the dead one, so a token that
 *   another process already replaced is adopted instead of refreshed again.
 *
 * The engine never talks HTTP or knows a store's shape: it is given `fetch` and a `backend`.
 */
import createDebug from 'debug';
import { fingerprint } from '../redact';
import type { Lease } from '../store/types';
import { WechatError } from '../errors';

const log = createDebug('wechat:credentials');

/** Start refreshing this long before expiry (WeChat's stable_token also renews inside the last 5 minutes). */
export const REFRESH_AHEAD_MS = 5 * 60_000;
/** Never hand out a value this close to its expiry: a call made with it could arrive after it died. */
export const HARD_EXPIRY_MARGIN_MS = 60_000;
/** A failed or unproductive background refresh is not retried sooner than this. */
export const BACKGROUND_RETRY_MS = 30_000;
/** Cross-process lease: longer than the HTTP layer's worst case (3 attempts of 10 s plus backoff). */
export const LOCK_TTL_MS = 40_000;
/** How long a process that lost the lease waits for the holder's value before trying the lease again. */
export const LOCK_WAIT_MS = LOCK_TTL_MS + 1_000;
export const LOCK_POLL_MS = 50;
/** A write that failed (store down) is retried at most this often, from normal traffic. */
export const UNSAVED_RETRY_MS = 1_000;

export interface CredentialRecord {
  value: string;
  /** Absolute expiry (ms). */
  expiresAt: number;
  fetchedAt: number;
}

export interface CredentialBackend {
  read(): Promise<CredentialRecord | null>;
  write(record: CredentialRecord): Promise<void>;
  lock?(name: string, ttlMs: number): Promise<Lease | null>;
}

export interface FetchContext {
  /** The value WeChat just rejected, if this refresh was caused by a token error. */
  deadValue?: string;
}

export interface CredentialOptions {
  /** Name for logs, lock keys and events: `access_token`, `jsapi_ticket`, ... */
  name: string;
  fetch(context: FetchContext): Promise<{ value: string; expiresAt: number }>;
  backend: CredentialBackend;
  now?: () => number;
  onRefresh?(record: CredentialRecord, name: string): void;
  /** Background failures (refresh-ahead, store down). Foreground failures reject the caller instead. */
  onError?(err: unknown, name: string): void;
}

// Not unref()'d: a caller is awaiting this wait (bounded by LOCK_WAIT_MS); an unref'd timer would let a short
// script exit in the middle of getSignature() while another process holds the lease.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Credential {
  readonly name: string;
  private current?: CredentialRecord;
  private inflight?: Promise<CredentialRecord>;
  private nextBackgroundAt = 0;
  private unsaved?: CredentialRecord;
  private nextUnsavedRetryAt = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: CredentialOptions) {
    this.name = options.name;
    this.now = options.now ?? Date.now;
  }

  /** The current value, refreshing first if there is none that can still be used. */
  async get(): Promise<string> {
    const value = this.peek();
    if (value !== undefined) return value;
    return (await this.refresh({})).value;
  }

  /**
   * The current value if usable, synchronously (the signing hot path avoids a Promise per call); starts a
   * background refresh when inside the refresh-ahead window.
   */
  peek(): string | undefined {
    const current = this.current;
    if (!current) return undefined;
    const now = this.now();
    if (now >= current.expiresAt - HARD_EXPIRY_MARGIN_MS) return undefined;
    if (now >= current.expiresAt - REFRESH_AHEAD_MS && now >= this.nextBackgroundAt && !this.inflight) {
      this.nextBackgroundAt = now + BACKGROUND_RETRY_MS;
      log('%s: refreshing ahead of expiry in the background', this.name);
      this.refresh({}).catch((err) => this.options.onError?.(err, this.name));
    }
    if (this.unsaved && this.now() >= this.nextUnsavedRetryAt) this.retryUnsaved();
    return current.value;
  }

  /** The record currently held in memory (for expiry checks by features). */
  get record(): CredentialRecord | undefined {
    return this.current;
  }

  /** Force a new value from the store or WeChat (single flight). */
  refresh(context: FetchContext & { force?: boolean }): Promise<CredentialRecord> {
    if (this.closed) return Promise.reject(new WechatError(`${this.name}: the SDK was closed`, 'CLOSED'));
    if (!this.inflight) {
      this.inflight = this.doRefresh(context).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  /**
   * WeChat rejected `deadValue`. Drop it only if it is still ours; return a different, usable value (adopted from
   * the store or fetched). Called at most once per failed call by `withCredential`, so there is no loop.
   */
  async invalidate(deadValue: string): Promise<string> {
    log('%s %s rejected by WeChat', this.name, fingerprint(deadValue));
    if (this.current?.value === deadValue) this.current = undefined;
    const alreadyReplaced = this.peek();
    if (alreadyReplaced !== undefined) return alreadyReplaced;
    let record = await this.refresh({ deadValue });
    // We may have joined a refresh that started before the value died and returned it again.
    if (record.value === deadValue) {
      this.current = undefined;
      record = await this.refresh({ deadValue });
    }
    return record.value;
  }

  /** Adopt a value obtained elsewhere (e.g. set by an admin), writing it through. */
  async set(record: CredentialRecord): Promise<void> {
    this.current = record;
    await this.options.backend.write(record);
  }

  close(): void {
    this.closed = true;
  }

  private usable(record: CredentialRecord | null | undefined, deadValue?: string): record is CredentialRecord {
    return (
      !!record &&
      typeof record.value === 'string' &&
      record.value !== '' &&
      record.value !== deadValue &&
      this.now() < record.expiresAt - HARD_EXPIRY_MARGIN_MS
    );
  }

  /** A stored record is worth adopting instead of fetching when it is usable and not older than what we hold. */
  private better(record: CredentialRecord | null, deadValue?: string): record is CredentialRecord {
    if (!this.usable(record, deadValue)) return false;
    if (this.now() < record.expiresAt - REFRESH_AHEAD_MS) return true;
    // Inside the refresh window: only worth it if we hold nothing usable, or it lives longer than ours.
    return !this.usable(this.current, deadValue) || record.expiresAt > this.current!.expiresAt;
  }

  private adopt(record: CredentialRecord, source: string): CredentialRecord {
    log('%s %s adopted from %s', this.name, fingerprint(record.value), source);
    this.current = record;
    return record;
  }

  private async doRefresh(context: FetchContext & { force?: boolean }): Promise<CredentialRecord> {
    const { deadValue } = context;
    if (!context.force) {
      const stored = await this.safeRead();
      if (this.better(stored, deadValue)) return this.adopt(stored, 'store');
    }
    let lease: Lease | null | undefined = null;
    if (this.options.backend.lock) {
      lease = await this.safeLock();
      if (lease === null) {
        const waited = await this.waitForOther(deadValue);
        if (waited) return this.adopt(waited, 'another process');
        lease = await this.safeLock();
      }
    }
    try {
      if (lease && !context.force) {
        // The previous holder may have finished between our first read and getting the lease.
        const stored = await this.safeRead();
        if (this.better(stored, deadValue)) return this.adopt(stored, 'store');
      }
      const fetched = await this.options.fetch({ deadValue });
      const record: CredentialRecord = { value: fetched.value, expiresAt: fetched.expiresAt, fetchedAt: this.now() };
      log(
        '%s %s fetched, expires in %ds',
        this.name,
        fingerprint(record.value),
        (record.expiresAt - record.fetchedAt) / 1000,
      );
      this.current = record;
      await this.safeWrite(record);
      this.options.onRefresh?.(record, this.name);
      return record;
    } finally {
      if (lease) await lease.release().catch((err) => this.options.onError?.(err, this.name));
    }
  }

  private async waitForOther(deadValue?: string): Promise<CredentialRecord | null> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    while (Date.now() < deadline && !this.closed) {
      await sleep(LOCK_POLL_MS);
      let stored: CredentialRecord | null;
      try {
        stored = await this.options.backend.read();
      } catch (err) {
        // The store went away while we waited: the holder's value can't reach us through it, so stop waiting
        // (one report, not one per poll) and let the caller fetch for itself (degraded mode).
        this.options.onError?.(err, this.name);
        return null;
      }
      if (this.better(stored, deadValue)) return stored;
    }
    return null;
  }

  // Store failures never stop signing: we warn and carry on from memory and WeChat (degraded mode).

  private async safeRead(): Promise<CredentialRecord | null> {
    try {
      return await this.options.backend.read();
    } catch (err) {
      this.options.onError?.(err, this.name);
      return null;
    }
  }

  private async safeLock(): Promise<Lease | null | undefined> {
    try {
      return await this.options.backend.lock!(`refresh:${this.name}`, LOCK_TTL_MS);
    } catch (err) {
      // Store down: behave as if we hold the lease; one refresh per process is the best we can do.
      this.options.onError?.(err, this.name);
      return undefined;
    }
  }

  private async safeWrite(record: CredentialRecord): Promise<void> {
    try {
      await this.options.backend.write(record);
      if (this.unsaved && this.unsaved.fetchedAt <= record.fetchedAt) this.unsaved = undefined;
    } catch (err) {
      // A late failure of an older retry must not replace a newer unsaved record.
      if (!this.unsaved || this.unsaved.fetchedAt <= record.fetchedAt) this.unsaved = record;
      this.nextUnsavedRetryAt = this.now() + UNSAVED_RETRY_MS;
      this.options.onError?.(err, this.name);
    }
  }

  private retryUnsaved(): void {
    const record = this.unsaved;
    if (!record) return;
    this.nextUnsavedRetryAt = this.now() + UNSAVED_RETRY_MS;
    void this.safeWrite(record);
  }
}

/**
 * Run `call` with the credential's value; if WeChat says the token is invalid, invalidate it (compare-and-
 * invalidate), get a different one and replay once. A second failure is the caller's.
 */
export async function withCredential<T>(
  credential: Credential,
  call: (value: string) => Promise<T>,
  isInvalid: (err: unknown) => boolean,
): Promise<T> {
  const value = await credential.get();
  try {
    return await call(value);
  } catch (err) {
    if (!isInvalid(err)) throw err;
    const fresh = await credential.invalidate(value);
    return call(fresh);
  }
}
