/**
 * MongoDB store (through mongoose 8), for many processes or machines serving one WeChat account. Options and the
 * collection names follow wechat-jssdk's MongoStore; every document carries its appId, so several apps can share
 * one database without seeing each other:
 *
 *   GlobalToken   { appId, f: { accessToken, accessTokenExpiresAt, ... }, count, modifyDate }   unique appId
 *   CardTicket    { appId, f: { ticket, expiresAt, fetchedAt, ... }, count, modifyDate }         unique appId
 *   Signature     { appId, url, data, updatedAt, expireAt }        unique (appId, url), TTL on expireAt
 *   OAuthToken    { appId, key, data, updatedAt, expireAt }        unique (appId, key), TTL on expireAt
 *   MPSession     { appId, key, data, updatedAt, expireAt }        unique (appId, key), TTL on expireAt
 *   Lock          { appId, name, owner, expiresAt, expireAt }      unique (appId, name), TTL on expireAt
 *
 * Unlike wechat-jssdk's store, no write is fire-and-forget and nothing is used before the connection is ready:
 * calls made meanwhile wait for it (bounded), and failures reach the caller or the `error` event. See SharedStore
 * for when each record is read and written. mongoose is loaded only when this store opens its own connection.
 */
import { randomBytes } from 'node:crypto';
import createDebug from 'debug';
import { ConfigError } from '../errors';
import {
  SharedStore,
  message,
  plainJson,
  type Preloaded,
  type RecordKind,
  type RecordWrite,
  type SharedStoreOptions,
  type StoredRecord,
} from './SharedStore';
import { cardUpdate, type GlobalUpdate } from './merge';
import type { CardTicketInfo, GlobalTokenInfo, Lease } from './types';

const log = createDebug('wechat:store:mongo');

/** A lock document outlives its lease a little, so the TTL monitor never removes a lease that is still held. */
const LOCK_DOC_GRACE_MS = 60_000;
const RECONNECT_MAX_MS = 5_000;
const DUPLICATE_KEY = 11000;

/** What the store needs from a mongoose Connection (typed loosely so mongoose stays an optional dependency). */
export interface MongooseConnectionLike {
  readonly readyState: number;
  readonly db?: unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  close(force?: boolean): Promise<unknown>;
}

export interface MongoStoreOptions extends SharedStoreOptions {
  /** Default 127.0.0.1. */
  dbHost?: string;
  /** Default 27017. */
  dbPort?: number | string;
  /** Default `wechat`. */
  dbName?: string;
  /** A full connection string; wins over dbHost/dbPort/dbName. */
  dbAddress?: string;
  /** Passed to mongoose's createConnection (e.g. auth, tls, replicaSet). */
  dbOptions?: Record<string, unknown>;
  /** Signatures and OAuth tokens preloaded into memory at start (the most recent, default 20). */
  limit?: number;
  /** An existing mongoose Connection; the store never closes it. */
  connection?: MongooseConnectionLike;
}

/** The driver calls the store makes (a mongodb Collection satisfies it). */
interface Collection {
  findOne(filter: object, options?: object): Promise<any>;
  find(filter: object, options?: object): { sort(spec: object): { limit(n: number): { toArray(): Promise<any[]> } } };
  findOneAndUpdate(filter: object, update: object, options?: object): Promise<any>;
  updateOne(filter: object, update: object, options?: object): Promise<{ upsertedCount?: number }>;
  deleteOne(filter: object): Promise<unknown>;
  deleteMany(filter: object): Promise<unknown>;
  bulkWrite(operations: object[], options?: object): Promise<unknown>;
  createIndex(spec: object, options?: object): Promise<unknown>;
}

const COLLECTIONS = {
  global: 'GlobalToken',
  card: 'CardTicket',
  urls: 'Signature',
  oauth: 'OAuthToken',
  mp: 'MPSession',
  lock: 'Lock',
} as const;

const KEY_FIELD: Record<RecordKind, string> = { urls: 'url', oauth: 'key', mp: 'key' };

function isConnection(value: unknown): value is MongooseConnectionLike {
  const v = value as MongooseConnectionLike;
  return !!v && typeof v.readyState === 'number' && typeof v.on === 'function' && typeof v.close === 'function';
}

export class MongoStore extends SharedStore {
  protected readonly kind = 'MongoStore';
  readonly dbAddress?: string;
  private conn?: MongooseConnectionLike;
  private readonly owned: boolean;
  private readonly target: string;
  private setupDone = false;
  private setupRunning?: Promise<void>;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 250;
  private reportedConnectFailure = false;
  private readonly unwatch: Array<() => void> = [];

  constructor(
    connectionOrOptions: MongooseConnectionLike | MongoStoreOptions = {},
    maybeOptions: MongoStoreOptions = {},
  ) {
    const options: MongoStoreOptions = isConnection(connectionOrOptions)
      ? { ...maybeOptions, connection: connectionOrOptions }
      : (connectionOrOptions ?? {});
    super(options);
    if (options.connection !== undefined) {
      if (!isConnection(options.connection)) throw new ConfigError('connection', 'must be a mongoose Connection');
      this.owned = false;
      this.target = 'the mongoose connection passed in';
      this.watch(options.connection);
      return;
    }
    this.owned = true;
    const dbName = options.dbName ?? 'wechat';
    this.dbAddress =
      options.dbAddress ?? `mongodb://${options.dbHost ?? '127.0.0.1'}:${options.dbPort ?? 27017}/${dbName}`;
    if (typeof this.dbAddress !== 'string' || !/^mongodb(\+srv)?:\/\//.test(this.dbAddress)) {
      throw new ConfigError('dbAddress', 'must be a MongoDB connection string (mongodb:// or mongodb+srv://)');
    }
    this.target = safeUri(this.dbAddress);
    void this.open(this.dbAddress, {
      serverSelectionTimeoutMS: this.connectTimeoutMs,
      connectTimeoutMS: this.connectTimeoutMs,
      // Our own calls wait (bounded) for the first connection and fail fast after it; mongoose must not buffer.
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
      ...options.dbOptions,
    });
  }

  /** The mongoose Connection in use (undefined while mongoose is still loading). */
  get connection(): MongooseConnectionLike | undefined {
    return this.conn;
  }

  protected isReady(): boolean {
    return this.setupDone && this.conn?.readyState === 1;
  }

  protected describe(): string {
    return this.target;
  }

  private async open(uri: string, connectOptions: Record<string, unknown>): Promise<void> {
    let mongoose: any;
    try {
      mongoose = await import('mongoose');
    } catch (err) {
      this.reportError(
        new ConfigError(
          'dbAddress',
          `MongoStore needs mongoose: npm install mongoose (${message(err).split('\n')[0]})`,
        ),
      );
      return;
    }
    if (this.isClosed) return;
    const conn = (mongoose.default ?? mongoose).createConnection() as MongooseConnectionLike & {
      openUri(uri: string, options: object): Promise<unknown>;
    };
    // Connection errors are expected while the server is away; without a listener they would crash the process.
    conn.on('error', (err: Error) => log('connection: %s', err?.message));
    this.watch(conn);
    const attempt = async () => {
      this.reconnectTimer = undefined;
      if (this.isClosed) return;
      try {
        await conn.openUri(uri, connectOptions);
        this.reconnectDelay = 250;
      } catch (err) {
        if (this.isClosed) return;
        // The driver only reconnects by itself after a first success; until then we retry.
        log('cannot connect to %s: %s', this.target, message(err));
        if (!this.reportedConnectFailure) {
          this.reportedConnectFailure = true;
          this.reportError(err);
        }
        this.reconnectTimer = setTimeout(() => void attempt(), this.reconnectDelay);
        this.reconnectTimer.unref();
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
      }
    };
    await attempt();
  }

  private watch(conn: MongooseConnectionLike): void {
    this.conn = conn;
    const onUp = () => this.connected();
    for (const event of ['connected', 'reconnected', 'open']) {
      conn.on(event, onUp);
      this.unwatch.push(() => void conn.off?.(event, onUp));
    }
    if (conn.readyState === 1) this.connected();
  }

  /** First connection: indexes; later ones just wake the waiting calls. */
  private connected(): void {
    if (this.setupDone) {
      this.signalReady();
      return;
    }
    this.setupRunning ??= this.setup().finally(() => {
      this.setupRunning = undefined;
    });
  }

  private async setup(): Promise<void> {
    try {
      await this.ensureIndexes();
    } catch (err) {
      // Without them lookups are slower and a real server could hold duplicates; reported, not fatal.
      this.reportError(err);
    }
    this.setupDone = true;
    this.signalReady();
  }

  private col(name: string): Collection {
    const db = this.conn?.db as { collection(name: string): Collection } | undefined;
    if (!db) throw new Error('not connected');
    return db.collection(name);
  }

  private async ensureIndexes(): Promise<void> {
    const ttl = { expireAfterSeconds: 0 };
    await Promise.all([
      this.col(COLLECTIONS.global).createIndex({ appId: 1 }, { unique: true }),
      this.col(COLLECTIONS.card).createIndex({ appId: 1 }, { unique: true }),
      this.col(COLLECTIONS.urls).createIndex({ appId: 1, url: 1 }, { unique: true }),
      this.col(COLLECTIONS.urls).createIndex({ appId: 1, updatedAt: -1 }),
      this.col(COLLECTIONS.urls).createIndex({ expireAt: 1 }, ttl),
      this.col(COLLECTIONS.oauth).createIndex({ appId: 1, key: 1 }, { unique: true }),
      this.col(COLLECTIONS.oauth).createIndex({ appId: 1, updatedAt: -1 }),
      this.col(COLLECTIONS.oauth).createIndex({ expireAt: 1 }, ttl),
      this.col(COLLECTIONS.mp).createIndex({ appId: 1, key: 1 }, { unique: true }),
      this.col(COLLECTIONS.mp).createIndex({ expireAt: 1 }, ttl),
      this.col(COLLECTIONS.lock).createIndex({ appId: 1, name: 1 }, { unique: true }),
      this.col(COLLECTIONS.lock).createIndex({ expireAt: 1 }, ttl),
    ]);
  }

  /** The most recent signatures and OAuth tokens, like wechat-jssdk loaded at start. */
  protected async preload(limit: number): Promise<Preloaded> {
    const recent = (name: string) =>
      this.col(name).find({ appId: this.appId }).sort({ updatedAt: -1 }).limit(limit).toArray();
    const [signatures, tokens] = await Promise.all([recent(COLLECTIONS.urls), recent(COLLECTIONS.oauth)]);
    const live = (doc: any) => doc?.data && !(doc.expireAt && new Date(doc.expireAt).getTime() <= Date.now());
    return {
      urls: signatures
        .filter(live)
        .reverse()
        .map((doc) => [doc.url, doc.data]),
      oauth: tokens
        .filter(live)
        .reverse()
        .map((doc) => [doc.key, doc.data]),
    };
  }

  protected async readGlobal(): Promise<GlobalTokenInfo> {
    return fromFieldsDoc(await this.col(COLLECTIONS.global).findOne({ appId: this.appId }));
  }

  protected async writeGlobal(update: GlobalUpdate, modifyDate: string): Promise<GlobalTokenInfo> {
    await this.applyUpdate(COLLECTIONS.global, update, modifyDate);
    return this.readGlobal();
  }

  protected async readCard(): Promise<CardTicketInfo> {
    const { count: _count, ...card } = fromFieldsDoc(await this.col(COLLECTIONS.card).findOne({ appId: this.appId }));
    return card;
  }

  protected async writeCard(info: CardTicketInfo, modifyDate: string): Promise<CardTicketInfo> {
    await this.applyUpdate(COLLECTIONS.card, cardUpdate(info), modifyDate);
    return this.readCard();
  }

  /**
   * Plain fields in one upsert; then each credential group in a conditional update that matches only while no copy
   * fetched later is stored (two steps, because an upsert whose filter does not match would insert a duplicate).
   */
  private async applyUpdate(name: string, update: GlobalUpdate, modifyDate: string): Promise<void> {
    const collection = this.col(name);
    const set: Record<string, unknown> = { modifyDate };
    for (const [field, value] of Object.entries(update.plain)) set[`f.${encodeField(field)}`] = value;
    await retryOnDuplicate(() =>
      collection.updateOne({ appId: this.appId }, { $set: set, $inc: { count: 1 } }, { upsert: true }),
    );
    for (const group of update.groups) {
      const fetched = `f.${encodeField(group.fetchedField)}`;
      const groupSet: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(group.fields))
        if (value !== undefined) groupSet[`f.${encodeField(field)}`] = value;
      await collection.updateOne(
        { appId: this.appId, $or: [{ [fetched]: { $exists: false } }, { [fetched]: { $lte: group.fetchedAt } }] },
        { $set: groupSet },
      );
    }
  }

  protected async readRecord(kind: RecordKind, key: string): Promise<StoredRecord | undefined> {
    const doc = await this.col(COLLECTIONS[kind]).findOne({ appId: this.appId, [KEY_FIELD[kind]]: key });
    if (!doc?.data) return undefined;
    // The TTL monitor runs about once a minute (and not at all on some test servers): check the expiry ourselves.
    if (doc.expireAt && new Date(doc.expireAt).getTime() <= Date.now()) return undefined;
    return doc.data as StoredRecord;
  }

  protected async writeRecords(kind: RecordKind, writes: RecordWrite[]): Promise<void> {
    const keyField = KEY_FIELD[kind];
    const operations = writes.map(({ key, record, ttlMs }) => {
      const filter = { appId: this.appId, [keyField]: key };
      if (record === null || (ttlMs !== undefined && ttlMs <= 0)) return { deleteOne: { filter } };
      const expireAt = ttlMs === undefined ? null : new Date(Date.now() + ttlMs);
      return {
        updateOne: {
          filter,
          update: { $set: { data: plainJson(record), updatedAt: new Date(), expireAt } },
          upsert: true,
        },
      };
    });
    if (operations.length)
      await retryOnDuplicate(() => this.col(COLLECTIONS[kind]).bulkWrite(operations, { ordered: false }));
  }

  /**
   * Take over an expired lease atomically; otherwise create the lease document only if there is none. The unique
   * index on (appId, name) makes a concurrent creation fail on a real server (and the test server runs each command
   * to completion), so exactly one caller gets the lease.
   */
  protected async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    const locks = this.col(COLLECTIONS.lock);
    const owner = randomBytes(12).toString('hex');
    const now = Date.now();
    const lease = { owner, expiresAt: now + ttlMs, expireAt: new Date(now + ttlMs + LOCK_DOC_GRACE_MS) };
    const filter = { appId: this.appId, name };
    const takenOver = await locks.findOneAndUpdate({ ...filter, expiresAt: { $lte: now } }, { $set: lease });
    if (!takenOver) {
      try {
        const created = await locks.updateOne(filter, { $setOnInsert: lease }, { upsert: true });
        if (!created.upsertedCount) return null;
      } catch (err) {
        if ((err as { code?: number }).code === DUPLICATE_KEY) return null;
        throw err;
      }
    }
    return { name, release: async () => void (await locks.deleteOne({ ...filter, owner })) };
  }

  protected async clearBackend(): Promise<void> {
    await Promise.all(Object.values(COLLECTIONS).map((name) => this.col(name).deleteMany({ appId: this.appId })));
  }

  protected async closeBackend(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const off of this.unwatch.splice(0)) off();
    if (this.owned && this.conn) await this.conn.close();
  }
}

/** Field names of the global token become keys of a subdocument: `.` and a leading `$` are escaped. */
function encodeField(field: string): string {
  return field.replace(/%/g, '%25').replace(/\./g, '%2E').replace(/^\$/, '%24');
}

function decodeField(field: string): string {
  return field.replace(/%(25|2E|24)/g, (_, code: string) => ({ '25': '%', '2E': '.', '24': '$' })[code]!);
}

function fromFieldsDoc(doc: any): Record<string, any> {
  const result: Record<string, any> = {};
  for (const [field, value] of Object.entries((doc?.f ?? {}) as Record<string, unknown>))
    result[decodeField(field)] = value;
  if (doc?.count !== undefined) result.count = doc.count;
  if (doc?.modifyDate !== undefined) result.modifyDate = doc.modifyDate;
  return result;
}

/** Two first writes racing on a real server: one upsert loses with E11000, and then simply updates. */
async function retryOnDuplicate<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
    return operation();
  }
}

/** The connection string without its password, for messages. */
function safeUri(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, (_, auth: string) => `//${auth.split(':')[0]}:***@`);
}
