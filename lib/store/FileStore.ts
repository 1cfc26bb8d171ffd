/**
 * The default store: memory plus a JSON file. Improvements over wechat-jssdk's FileStore:
 * - the file is replaced atomically (temp file in the same folder, fsync, rename): a crash mid-flush leaves the
 *   old or the new file, never half of one; flushes never overlap;
 * - mode 0600, and only the appId of the config is written (never the appSecret);
 * - an unreadable file is moved aside with a warning and the store starts empty;
 * - several processes on one host (PM2, cluster) merge into the file under a lock file instead of overwriting each
 *   other, see each other's token refreshes (read-through when the file changed), and share `lock()` so only one
 *   of them calls WeChat.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, promises as fs } from 'node:fs';
import path from 'node:path';
import createDebug from 'debug';
import { pick } from '../util/lodash';
import { Coalescer } from './coalesce';
import { StoreError } from '../errors';
import { Store, emptyState, type StoreOptions } from './Store';
import { tryFileLock, withFileLock } from './fileLock';
import {
  EXPIRES_SUFFIX,
  FETCHED_SUFFIX,
  type GlobalTokenInfo,
  type Lease,
  type Lockable,
  type StoreState,
} from './types';

const log = createDebug('wechat:store:file');

export const DEFAULT_FILE_STORE_PATH = 'wechat-info.json';
/** The merge-and-write of one flush holds the file lock this long at most. */
const FLUSH_LOCK_TTL_MS = 10_000;
const FLUSH_LOCK_WAIT_MS = 15_000;
/**
 * File times have a coarse granularity (a kernel tick, a second on some file systems): a file rewritten within
 * that time of the copy we read can carry the same stamp. Within this window of its mtime, read the file anyway.
 */
const RACY_STAMP_MS = 2_000;

export interface FileStoreOptions extends StoreOptions {
  /** Path of the JSON file (default `wechat-info.json` in the working directory). */
  fileStorePath?: string;
}

export class FileStore extends Store implements Lockable {
  readonly fileStorePath: string;
  /** ino:size:mtime of the file as we last read or wrote it; read-through skips an unchanged file. */
  private loadedStamp = '';
  private readonly flusher = new Coalescer(() => this.writeMerged());
  private removedOAuth = new Set<string>();

  constructor(options: FileStoreOptions = {}) {
    super(options);
    this.fileStorePath = path.resolve(options.fileStorePath ?? DEFAULT_FILE_STORE_PATH);
    this.load();
  }

  /** Synchronous load at start, like wechat-jssdk, so the first request already sees the stored token. */
  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.fileStorePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        process.emitWarning(`wechat-jssdk-ts FileStore: cannot read ${this.fileStorePath} (${(err as Error).message})`);
      }
      return;
    }
    const state = parseState(text);
    if (state) {
      this.replaceState(state);
      return;
    }
    const aside = `${this.fileStorePath}.corrupt-${Date.now()}`;
    try {
      renameSync(this.fileStorePath, aside);
    } catch {
      /* another process moved it first */
    }
    process.emitWarning(
      `wechat-jssdk-ts FileStore: ${this.fileStorePath} was unreadable, moved to ${aside}; starting empty`,
    );
  }

  /** Read-through: when another process changed the file, take its newer credentials. */
  override async getGlobalToken(): Promise<GlobalTokenInfo> {
    await this.refreshFromDisk();
    return this.store.globalToken;
  }

  override async getCardTicket() {
    await this.refreshFromDisk();
    return this.store.card;
  }

  /** Write-through: a new token must reach the file (and so other processes) before callers use it. */
  override async updateGlobalToken(info: GlobalTokenInfo): Promise<GlobalTokenInfo> {
    const next = await super.updateGlobalToken(info);
    await this.flush();
    return next;
  }

  override async updateCardTicket(info: Parameters<Store['updateCardTicket']>[0]) {
    const next = await super.updateCardTicket(info);
    await this.flush();
    return next;
  }

  override async removeOAuthAccessToken(key: string): Promise<void> {
    await super.removeOAuthAccessToken(key);
    this.removedOAuth.add(key);
  }

  override async lock(name: string, ttlMs: number): Promise<Lease | null> {
    const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
    try {
      // The first refresh may come before the first flush has created the folder.
      await fs.mkdir(path.dirname(this.fileStorePath), { recursive: true });
      return await tryFileLock(`${this.fileStorePath}.${safe}.lock`, ttlMs);
    } catch (err) {
      throw new StoreError(
        `FileStore could not lock ${safe} next to ${this.fileStorePath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Merge memory into the file atomically. Concurrent calls share one write plus at most one more after it. */
  override flush(): Promise<void> {
    return this.flusher.run().then(() => {
      this.emit(Store.StoreEvents.STORE_FLUSHED, true);
    });
  }

  override async destroy(): Promise<void> {
    // Persist what we have before letting go; a failure is reported, not thrown away.
    try {
      if (this.appId) await this.flush();
    } finally {
      await super.destroy();
    }
  }

  private async refreshFromDisk(): Promise<void> {
    const stat = await fs.stat(this.fileStorePath).catch(() => null);
    if (!stat) return;
    const stamp = stampOf(stat);
    if (stamp === this.loadedStamp && Date.now() - stat.mtimeMs > RACY_STAMP_MS) return;
    const disk = parseState(await fs.readFile(this.fileStorePath, 'utf8').catch(() => ''));
    this.loadedStamp = stamp;
    if (!disk || (this.appId && disk.wechatConfig.appId !== this.appId)) return;
    this.store.globalToken = mergeGlobal(this.store.globalToken, disk.globalToken);
    if ((disk.card.fetchedAt ?? 0) > (this.store.card.fetchedAt ?? 0)) this.store.card = disk.card;
  }

  private async writeMerged(): Promise<void> {
    const dir = path.dirname(this.fileStorePath);
    try {
      await fs.mkdir(dir, { recursive: true });
      await withFileLock(`${this.fileStorePath}.flush.lock`, FLUSH_LOCK_TTL_MS, FLUSH_LOCK_WAIT_MS, async () => {
        const diskText = await fs.readFile(this.fileStorePath, 'utf8').catch(() => null);
        const disk = diskText === null ? null : parseState(diskText);
        const merged = this.merge(disk);
        const tmp = path.join(
          dir,
          `.${path.basename(this.fileStorePath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
        );
        const handle = await fs.open(tmp, 'w', 0o600);
        try {
          await handle.writeFile(JSON.stringify(merged));
          await handle.sync();
        } finally {
          await handle.close();
        }
        try {
          await fs.rename(tmp, this.fileStorePath);
        } catch (err) {
          await fs.rm(tmp, { force: true });
          throw err;
        }
        this.loadedStamp = stampOf(await fs.stat(this.fileStorePath));
        this.removedOAuth.clear();
        await this.removeOrphanTemps(dir);
      });
      log('flushed %s', this.fileStorePath);
    } catch (err) {
      throw new StoreError(`FileStore could not write ${this.fileStorePath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Temp files are only written under the flush lock, so while we hold it any other one was left by a writer that
   * crashed (or was killed) mid-flush. Best effort: a leftover only costs disk space.
   */
  private async removeOrphanTemps(dir: string): Promise<void> {
    const prefix = `.${path.basename(this.fileStorePath)}.`;
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const orphans = names.filter((name) => name.startsWith(prefix) && name.endsWith('.tmp'));
    await Promise.all(orphans.map((name) => fs.rm(path.join(dir, name), { force: true }).catch(() => undefined)));
  }

  /** Memory wins for what this process wrote; the file keeps what other processes wrote; newer tokens win. */
  private merge(disk: StoreState | null): StoreState {
    const mine = this.store;
    const now = this.now();
    const sameApp = disk && disk.wechatConfig.appId === mine.wechatConfig.appId;
    const base = sameApp ? disk : emptyState();
    const globalToken = mergeGlobal(mine.globalToken, base.globalToken);
    const card = (base.card.fetchedAt ?? 0) > (mine.card.fetchedAt ?? 0) ? base.card : mine.card;
    const urls = { ...base.urls, ...mine.urls };
    for (const [url, info] of Object.entries(urls))
      if (info.expiresAt !== undefined && info.expiresAt <= now) delete urls[url];
    const oauth = { ...base.oauth, ...mine.oauth };
    for (const key of this.removedOAuth) delete oauth[key];
    // Our memory sees the other processes' token refreshes too.
    mine.globalToken = globalToken;
    mine.card = card;
    return {
      wechatConfig: pick(mine.wechatConfig, ['appId']),
      globalToken,
      urls: trimOldest(urls, this.urlIndex.max),
      oauth,
      card,
      mp: { ...base.mp, ...mine.mp },
    };
  }
}

function stampOf(stat: { ino: number; size: number; mtimeMs: number }): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

function parseState(text: string): StoreState | null {
  try {
    const parsed = JSON.parse(text) as Partial<StoreState>;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const state = emptyState();
    for (const key of Object.keys(state) as Array<keyof StoreState>) {
      const value = parsed[key];
      if (value && typeof value === 'object' && !Array.isArray(value)) (state as any)[key] = value;
    }
    return state;
  } catch {
    return null;
  }
}

/**
 * Each credential in the global token is a group `<name>`, `<name>ExpiresAt`, `<name>FetchedAt` (see
 * credentials/backends.ts); per group, the copy fetched last wins.
 */
function mergeGlobal(mine: GlobalTokenInfo, other: GlobalTokenInfo): GlobalTokenInfo {
  const merged: GlobalTokenInfo = { ...other, ...mine };
  for (const fetchedField of Object.keys(other)) {
    if (!fetchedField.endsWith(FETCHED_SUFFIX)) continue;
    if (Number(other[fetchedField] ?? 0) <= Number(mine[fetchedField] ?? 0)) continue;
    const name = fetchedField.slice(0, -FETCHED_SUFFIX.length);
    for (const field of [name, name + EXPIRES_SUFFIX, fetchedField]) merged[field] = other[field];
  }
  // force_refresh budgets (`forceRefreshTimes`, or `<prefix>forceRefreshTimes` for a mini program) are the union of
  // every process's entries, so no process can spend more than WeChat's daily allowance.
  for (const field of new Set([...Object.keys(mine), ...Object.keys(other)])) {
    if (!field.endsWith(BUDGET_SUFFIX)) continue;
    const times = new Set([...asTimes(mine[field]), ...asTimes(other[field])]);
    if (times.size) merged[field] = [...times].sort((a, b) => a - b).slice(-50);
  }
  return merged;
}

const BUDGET_SUFFIX = 'forceRefreshTimes';

function asTimes(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((t): t is number => typeof t === 'number') : [];
}

function trimOldest<T>(records: Record<string, T>, max: number): Record<string, T> {
  const keys = Object.keys(records);
  if (keys.length <= max) return records;
  return Object.fromEntries(keys.slice(keys.length - max).map((k) => [k, records[k]]));
}
