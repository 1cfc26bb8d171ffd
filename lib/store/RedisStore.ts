/**
 * Redis store, for many processes or machines serving one WeChat account. Keys (default prefix `wechat:`):
 *
 *   wechat:{appId}:global          hash: access_token, jsapi_ticket, ... each with its ExpiresAt / FetchedAt
 *   wechat:{appId}:card            hash: the card api_ticket
 *   wechat:{appId}:sig:{url}       string (JSON), PX = until the ticket it was made with expires
 *   wechat:{appId}:sigs            sorted set of the signed URLs by expiry: which to load when a process starts
 *   wechat:{appId}:oauth:{key}     string (JSON), PX = until the refresh_token expires
 *   wechat:{appId}:mp:{key}        string (JSON), PX = sessionTtlMs
 *   wechat:{appId}:lock:{name}     SET NX PX lease, released by a compare-and-delete script
 *
 * Writes to the two hashes run in a script that keeps, per credential, the copy fetched last (see merge.ts), so a
 * late writer never puts back an older token. No command scans the key space except `clearStore()`, which uses
 * SCAN (never KEYS); the start-up preload reads the `sigs` index instead. See SharedStore for when each record is
 * read and written.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, StoreError } from '../errors';
import type { CardTicketInfo, GlobalTokenInfo, Lease, SignatureInfo } from './types';
import { cardUpdate, type GlobalUpdate } from './merge';
import {
  SharedStore,
  type Preloaded,
  type RecordKind,
  type RecordWrite,
  type SharedStoreOptions,
  type StoredRecord,
} from './SharedStore';
import {
  createRedisClient,
  isRedisClient,
  wrapRedisClient,
  type RedisClientLike,
  type RedisCommander,
} from './redisClient';

export const DEFAULT_REDIS_PREFIX = 'wechat:';

export interface RedisStoreOptions extends SharedStoreOptions {
  /** A connected (or connecting) node-redis v4+ or ioredis client you own; the store never closes it. */
  client?: RedisClientLike;
  /** Or a URL (`redis://[:password@]host:port/db`): the store creates and closes its own client. */
  url?: string;
  /** Driver used for `url` (default: `redis` when installed, else `ioredis`). */
  driver?: 'redis' | 'ioredis';
  /** Extra options for the driver when the store creates the client. */
  clientOptions?: Record<string, unknown>;
  /** Key prefix (default `wechat:`); keys are `<prefix>{appId}:...`. */
  prefix?: string;
}

/**
 * ARGV: nPlain, (field, value)*, nGroups, (fetchedField, fetchedAt, nFields, (field, value)*)*, modifyDate.
 * Plain fields are set; a group is set only if no copy fetched later is stored (ties overwrite).
 */
const UPDATE_HASH = `
local key = KEYS[1]
local i = 1
local plain = tonumber(ARGV[i]); i = i + 1
for _ = 1, plain do redis.call('HSET', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
local groups = tonumber(ARGV[i]); i = i + 1
for _ = 1, groups do
  local fetchedField, fetchedAt, fields = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]); i = i + 3
  local stored = tonumber(redis.call('HGET', key, fetchedField) or '')
  local apply = stored == nil or stored <= fetchedAt
  for _ = 1, fields do
    if apply then redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
    i = i + 2
  end
end
redis.call('HINCRBY', key, 'count', 1)
redis.call('HSET', key, 'modifyDate', ARGV[i])
return redis.call('HGETALL', key)
`;

/** Delete the lease only if we still own it (it may have expired and been taken by another process). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Extend a key's lifetime to at least ARGV[1] ms, never shorten it (PEXPIRE ... GT needs Redis 7). */
const EXTEND_TTL = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or (ttl >= 0 and ttl < tonumber(ARGV[1])) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return ttl
`;

const KIND_SEGMENT: Record<RecordKind, string> = { urls: 'sig', oauth: 'oauth', mp: 'mp' };

export class RedisStore extends SharedStore {
  protected readonly kind = 'RedisStore';
  readonly prefix: string;
  private commander?: RedisCommander;
  private readonly owned: boolean;
  private readonly target: string;
  private setupError?: unknown;
  private unsubscribe?: () => void;
  private readonly connecting?: Promise<void>;

  constructor(
    clientOrOptions: RedisClientLike | string | RedisStoreOptions = {},
    maybeOptions: RedisStoreOptions = {},
  ) {
    const options: RedisStoreOptions =
      typeof clientOrOptions === 'string'
        ? { ...maybeOptions, url: clientOrOptions }
        : isRedisClient(clientOrOptions)
          ? { ...maybeOptions, client: clientOrOptions }
          : (clientOrOptions ?? {});
    super(options);
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    if (typeof this.prefix !== 'string') throw new ConfigError('prefix', 'must be a string such as "wechat:"');
    if (options.client !== undefined) {
      this.owned = false;
      this.commander = wrapRedisClient(options.client);
      this.target = 'the Redis client passed in';
      this.watch(this.commander);
    } else {
      if (typeof options.url !== 'string' || options.url === '') {
        throw new ConfigError(
          'url',
          'RedisStore needs a client (node-redis or ioredis) or a url such as redis://127.0.0.1:6379',
        );
      }
      this.owned = true;
      this.target = safeUrl(options.url);
      this.connecting = createRedisClient({
        url: options.url,
        driver: options.driver,
        connectTimeoutMs: this.connectTimeoutMs,
        clientOptions: options.clientOptions,
      }).then(
        ({ commander }) => {
          if (this.isClosed) void commander.close().catch(() => undefined);
          else {
            this.commander = commander;
            this.watch(commander);
          }
        },
        (err) => {
          this.setupError = err;
          this.reportError(err);
        },
      );
    }
  }

  protected isReady(): boolean {
    return this.commander?.isReady() ?? false;
  }

  protected describe(): string {
    return this.setupError ? `${this.target}: ${(this.setupError as Error).message}` : this.target;
  }

  private watch(commander: RedisCommander): void {
    this.unsubscribe = commander.onReady(() => this.signalReady());
    if (commander.isReady()) this.signalReady();
  }

  private key(...parts: string[]): string {
    return `${this.prefix}${this.appId}:${parts.join(':')}`;
  }

  private async send(args: Array<string | number>): Promise<unknown> {
    if (!this.commander) throw new StoreError(`RedisStore has no client yet (${this.describe()})`);
    return this.commander.send(args);
  }

  protected async readGlobal(): Promise<GlobalTokenInfo> {
    return decodeHash(await this.send(['HGETALL', this.key('global')]));
  }

  protected writeGlobal(update: GlobalUpdate, modifyDate: string): Promise<GlobalTokenInfo> {
    return this.updateHash('global', update, modifyDate);
  }

  protected async readCard(): Promise<CardTicketInfo> {
    return decodeHash(await this.send(['HGETALL', this.key('card')]));
  }

  protected async writeCard(info: CardTicketInfo, modifyDate: string): Promise<CardTicketInfo> {
    const result = await this.updateHash('card', cardUpdate(info), modifyDate);
    delete result.count;
    return result;
  }

  /** Apply `update` to the hash `name` in one script run (see UPDATE_HASH); answers the whole hash. */
  private async updateHash(name: string, update: GlobalUpdate, modifyDate: string): Promise<Record<string, any>> {
    return decodeHash(
      await this.send(['EVAL', UPDATE_HASH, 1, this.key(name), ...hashArgs(update), JSON.stringify(modifyDate)]),
    );
  }

  protected async readRecord(kind: RecordKind, key: string): Promise<StoredRecord | undefined> {
    const text = await this.send(['GET', this.key(KIND_SEGMENT[kind], key)]);
    if (typeof text !== 'string') return undefined;
    try {
      return JSON.parse(text) as StoredRecord;
    } catch {
      return undefined;
    }
  }

  protected async writeRecords(kind: RecordKind, writes: RecordWrite[]): Promise<void> {
    const index = this.key('sigs');
    const nowWall = Date.now();
    let longest = 0;
    // Sent together: both drivers pipeline commands issued in the same tick.
    await Promise.all(
      writes.map(({ key, record, ttlMs }) => {
        const redisKey = this.key(KIND_SEGMENT[kind], key);
        if (record === null || (ttlMs !== undefined && ttlMs <= 0)) {
          return Promise.all([this.send(['DEL', redisKey]), kind === 'urls' && this.send(['ZREM', index, key])]);
        }
        const value = JSON.stringify(record);
        const set = this.send(
          ttlMs === undefined ? ['SET', redisKey, value] : ['SET', redisKey, value, 'PX', Math.ceil(ttlMs)],
        );
        if (kind !== 'urls') return set;
        longest = Math.max(longest, ttlMs ?? 0);
        return Promise.all([set, this.send(['ZADD', index, nowWall + (ttlMs ?? 0), key])]);
      }),
    );
    // The index lives as long as its longest-lived entry.
    if (kind === 'urls' && longest > 0) await this.send(['EVAL', EXTEND_TTL, 1, index, Math.ceil(longest)]);
  }

  /** The URLs signed last (by expiry, from the `sigs` index), dropping the expired ones from it. */
  protected async preload(limit: number): Promise<Preloaded> {
    const index = this.key('sigs');
    await this.send(['ZREMRANGEBYSCORE', index, '-inf', Date.now()]);
    const urls = ((await this.send(['ZREVRANGE', index, 0, limit - 1])) as string[]).map(String);
    if (!urls.length) return { urls: [] };
    const values = (await this.send(['MGET', ...urls.map((url) => this.key('sig', url))])) as Array<string | null>;
    const loaded: Array<[string, SignatureInfo]> = [];
    urls.forEach((url, i) => {
      try {
        if (typeof values[i] === 'string') loaded.push([url, JSON.parse(values[i] as string) as SignatureInfo]);
      } catch {
        /* not ours to read: skipped */
      }
    });
    return { urls: loaded.reverse() };
  }

  protected async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    const key = this.key('lock', name);
    const owner = randomBytes(12).toString('hex');
    const reply = await this.send(['SET', key, owner, 'NX', 'PX', Math.max(1, Math.ceil(ttlMs))]);
    if (reply !== 'OK') return null;
    return { name, release: async () => void (await this.send(['EVAL', RELEASE_LOCK, 1, key, owner])) };
  }

  protected async clearBackend(): Promise<void> {
    const pattern = `${escapeGlob(`${this.prefix}${this.appId}:`)}*`;
    let cursor = '0';
    do {
      const reply = (await this.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', 500])) as [string, string[]];
      cursor = String(reply[0]);
      if (reply[1].length) await this.send(['DEL', ...reply[1]]);
    } while (cursor !== '0');
  }

  protected async closeBackend(): Promise<void> {
    this.unsubscribe?.();
    if (!this.owned) return;
    await this.connecting;
    await this.commander?.close();
  }
}

/** The script's arguments for one update; values are JSON so numbers, arrays and strings keep their type. */
function hashArgs(update: GlobalUpdate): Array<string | number> {
  const args: Array<string | number> = [];
  const plain = Object.entries(update.plain);
  args.push(plain.length);
  for (const [field, value] of plain) args.push(field, JSON.stringify(value));
  args.push(update.groups.length);
  for (const group of update.groups) {
    const fields = Object.entries(group.fields).filter(([, value]) => value !== undefined);
    args.push(group.fetchedField, group.fetchedAt, fields.length);
    for (const [field, value] of fields) args.push(field, JSON.stringify(value));
  }
  return args;
}

/** HGETALL answers a flat array (RESP2, scripts) or a map (RESP3); values are JSON, `count` a bare integer. */
function decodeHash(reply: unknown): Record<string, any> {
  const entries: Array<[string, unknown]> = Array.isArray(reply)
    ? Array.from({ length: Math.floor(reply.length / 2) }, (_, i) => [String(reply[2 * i]), reply[2 * i + 1]])
    : reply instanceof Map
      ? [...reply.entries()].map(([k, v]) => [String(k), v])
      : reply && typeof reply === 'object'
        ? Object.entries(reply)
        : [];
  const result: Record<string, any> = {};
  for (const [field, raw] of entries) {
    const text = String(raw);
    try {
      result[field] = JSON.parse(text);
    } catch {
      result[field] = text;
    }
  }
  return result;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The URL without its password, for messages. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the Redis URL given';
  }
}
