/**
 * A full Store on top of any object with `get(key)` / `set(key, value)` and optionally `delete(key)`, sync or async:
 * a `Map`, a Keyv instance, a three-line Redis wrapper, or a per-request session
 * (`{ get: () => req.session.state, set: (_, s) => { req.session.state = s } }`).
 *
 * The whole state of one app is ONE value under `<prefix>{appId}` (default `wechat:{appId}`): that is what lets a
 * session-style object, which ignores the key, work at all, and it costs one `get` per read and one `get` + `set`
 * per write. `set(key, undefined)` (or `delete(key)` when the object has one) removes it. Writes of this process are
 * serialized, but two processes writing through the same object can overwrite each other's records and the lease
 * is per process: for several processes use RedisStore or MongoStore. Read and write timing as in SharedStore.
 */
import { ConfigError } from '../errors';
import { LocalLeases } from './localLock';
import { applyCardUpdate, applyGlobalUpdate, type GlobalUpdate } from './merge';
import {
  SharedStore,
  plainJson,
  type Preloaded,
  type RecordKind,
  type RecordWrite,
  type SharedStoreOptions,
  type StoredRecord,
} from './SharedStore';
import type { CardTicketInfo, GlobalTokenInfo, Lease, SignatureInfo } from './types';

export const DEFAULT_KV_PREFIX = 'wechat:';
/** The value is rewritten on every write: keep it small by default. */
export const DEFAULT_KV_MAX_URLS = 500;
export const DEFAULT_KV_MAX_USERS = 2_000;

export interface KeyValueLike {
  get(key: string): unknown;
  set(key: string, value: any): unknown;
  delete?(key: string): unknown;
}

export interface KeyValueStoreOptions extends SharedStoreOptions {
  /** Key prefix (default `wechat:`); the value is kept under `<prefix>{appId}`. */
  prefix?: string;
}

/** The value stored under the key (plain JSON data). */
export interface KeyValueState {
  v: 1;
  appId: string;
  globalToken: GlobalTokenInfo;
  card: CardTicketInfo;
  urls: Record<string, StoredRecord & { _expiresAt?: number }>;
  oauth: Record<string, StoredRecord & { _expiresAt?: number }>;
  mp: Record<string, StoredRecord & { _expiresAt?: number }>;
}

/** Records are written between two prunes of the value at most this many times (it can exceed its bound by so much). */
const PRUNE_EVERY = 64;

/** Stores over the same object share leases, so two Wechat instances on one Map refresh once. */
const leasesByBackend = new WeakMap<object, LocalLeases>();

/** Where a record's server-side expiry is kept inside the value (wall clock ms), stripped on read. */
const EXPIRY = '_expiresAt';

export class KeyValueStore extends SharedStore {
  protected readonly kind = 'KeyValueStore';
  readonly prefix: string;
  private readonly leases: LocalLeases;
  /** Read-modify-write of the one value, one at a time in this process. */
  private queue: Promise<unknown> = Promise.resolve();
  private writesSincePrune = 0;

  constructor(
    private readonly kv: KeyValueLike,
    options: KeyValueStoreOptions = {},
  ) {
    super({ maxUrls: DEFAULT_KV_MAX_URLS, maxUsers: DEFAULT_KV_MAX_USERS, ...options });
    if (!kv || typeof kv.get !== 'function' || typeof kv.set !== 'function') {
      throw new ConfigError(
        'store',
        'KeyValueStore needs an object with get(key) and set(key, value) (and optionally delete(key))',
      );
    }
    this.prefix = options.prefix ?? DEFAULT_KV_PREFIX;
    let leases = leasesByBackend.get(kv);
    if (!leases) leasesByBackend.set(kv, (leases = new LocalLeases()));
    this.leases = leases;
    this.signalReady();
  }

  protected isReady(): boolean {
    return true;
  }

  protected describe(): string {
    return `key ${this.key()}`;
  }

  private key(): string {
    return `${this.prefix}${this.appId}`;
  }

  private async load(): Promise<KeyValueState> {
    let value = await this.kv.get(this.key());
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        value = undefined;
      }
    }
    // A Map hands back the very object we stored: it is never changed in place (writes build new objects), and
    // what we give out is a copy.
    const state = value as Partial<KeyValueState> | undefined | null;
    // Another app's value (a per-request session ignores the key) is never read as ours.
    if (!state || typeof state !== 'object' || state.appId !== this.appId) return emptyValue(this.appId!);
    return { ...emptyValue(this.appId!), ...state };
  }

  /** Run `task` once every write queued before it has ended (whether it succeeded or not). */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Read, change, write, one at a time; `change` returns the new value and what to answer. */
  private modify<T>(change: (state: KeyValueState) => { next: KeyValueState; result: T }): Promise<T> {
    return this.serialized(async () => {
      const { next, result } = change(await this.load());
      await this.kv.set(this.key(), next);
      return result;
    });
  }

  protected async readGlobal(): Promise<GlobalTokenInfo> {
    return { ...(await this.load()).globalToken };
  }

  protected writeGlobal(update: GlobalUpdate, modifyDate: string): Promise<GlobalTokenInfo> {
    return this.modify((state) => {
      const globalToken = applyGlobalUpdate(state.globalToken, update, modifyDate);
      return { next: { ...state, globalToken }, result: { ...globalToken } };
    });
  }

  protected async readCard(): Promise<CardTicketInfo> {
    return { ...(await this.load()).card };
  }

  protected writeCard(info: CardTicketInfo, modifyDate: string): Promise<CardTicketInfo> {
    return this.modify((state) => {
      const card = applyCardUpdate(state.card, info, modifyDate);
      return { next: { ...state, card }, result: { ...card } };
    });
  }

  protected async readRecord(kind: RecordKind, key: string): Promise<StoredRecord | undefined> {
    const record = (await this.load())[kind][key];
    if (!record || (record[EXPIRY] !== undefined && record[EXPIRY] <= Date.now())) return undefined;
    const { [EXPIRY]: _expiry, ...data } = record;
    return data as StoredRecord;
  }

  /** The signatures written last (the value keeps them in write order). */
  protected async preload(limit: number): Promise<Preloaded> {
    const now = Date.now();
    const live = Object.entries((await this.load()).urls).filter(
      ([, r]) => r[EXPIRY] === undefined || r[EXPIRY]! > now,
    );
    return {
      urls: live
        .slice(Math.max(0, live.length - limit))
        .map(([url, { [EXPIRY]: _expiry, ...data }]) => [url, data as SignatureInfo]),
    };
  }

  protected async writeRecords(kind: RecordKind, writes: RecordWrite[]): Promise<void> {
    await this.modify((state) => {
      // Changed in place: the value is written back right after (and a Map holds that same object anyway).
      const records = state[kind];
      const now = Date.now();
      for (const { key, record, ttlMs } of writes) {
        // Re-inserted, so that key order stays write order (the trim drops the oldest).
        delete records[key];
        if (record !== null && (ttlMs === undefined || ttlMs > 0)) {
          records[key] = { ...plainJson(record), ...(ttlMs === undefined ? {} : { [EXPIRY]: now + ttlMs }) };
        }
      }
      // Pruning walks every record: do it now and then, not on every write.
      this.writesSincePrune += writes.length;
      if (this.writesSincePrune >= PRUNE_EVERY) {
        this.writesSincePrune = 0;
        prune(state.urls, this.urlIndex.max, now);
        prune(state.oauth, this.oauthIndex.max, now);
        prune(state.mp, this.mpIndex.max, now);
      }
      return { next: state, result: undefined };
    });
  }

  protected async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    return this.leases.take(`${this.key()}:${name}`, ttlMs);
  }

  protected async clearBackend(): Promise<void> {
    await this.serialized(async () => {
      if (typeof this.kv.delete === 'function') await this.kv.delete(this.key());
      else await this.kv.set(this.key(), undefined);
    });
  }

  protected async closeBackend(): Promise<void> {
    // Nothing to close: the object is the user's. Leases end with their TTL or their release.
  }
}

function emptyValue(appId: string): KeyValueState {
  return { v: 1, appId, globalToken: {}, card: {}, urls: {}, oauth: {}, mp: {} };
}

/** Drop expired records, then the oldest written beyond `max` (key order is write order here). */
function prune(records: Record<string, { _expiresAt?: number }>, max: number, now: number): void {
  let count = 0;
  for (const key in records) {
    const expiresAt = records[key][EXPIRY];
    if (expiresAt !== undefined && expiresAt <= now) delete records[key];
    else count++;
  }
  for (const key in records) {
    if (count <= max) break;
    delete records[key];
    count--;
  }
}
