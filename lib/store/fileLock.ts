/**
 * A lease between processes on one host, as a lock file created with O_EXCL. The file holds the owner, the expiry
 * and the holder's process; a lease whose holder is gone can be taken over:
 * - when it expired (its holder crashed or hung; the only test that works across hosts on a shared folder), or
 * - at once when its holder was a process of this host (same PID namespace) that no longer exists, so a process
 *   killed in the middle of a refresh or a flush does not make the others wait for the whole TTL.
 * Expiry uses the real clock, never a test clock, because it bounds real waiting.
 *
 * Taking over is the delicate part: "read, see it is stale, delete" done by several callers at once lets a late
 * caller delete the lock that an earlier one has just created, and two callers end up holding the lease. So a
 * stale lock is only removed under a second O_EXCL file (`<lock>.break`), after checking that it is still the very
 * file that was judged stale; O_EXCL then decides who creates the new lock.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync, promises as fs } from 'node:fs';
import os from 'node:os';
import type { Lease } from './types';

interface LockFileContent {
  owner: string;
  expiresAt: number;
  pid: number;
  /** Host name and PID namespace of the holder: its pid means something only there. */
  host: string;
}

/** The breaker is held for a handful of file operations; one older than this was left by a crash. */
const BREAKER_STALE_MS = 2_000;

let hostKey: string | undefined;

/** This host, and on Linux this PID namespace (containers sharing a folder and a host name have different ones). */
function thisHost(): string {
  if (hostKey === undefined) {
    let namespace = '';
    try {
      namespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      /* not Linux: the host name alone */
    }
    hostKey = namespace ? `${os.hostname()}/${namespace}` : os.hostname();
  }
  return hostKey;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseLock(text: string): LockFileContent | null {
  try {
    const parsed = JSON.parse(text) as LockFileContent;
    return parsed && typeof parsed.owner === 'string' && typeof parsed.expiresAt === 'number' ? parsed : null;
  } catch {
    return null;
  }
}

async function readLock(path: string): Promise<LockFileContent | null> {
  return parseLock(await fs.readFile(path, 'utf8').catch(() => ''));
}

interface Observed {
  /** Identity of this very file: a lock re-created since then has another one. */
  id: string;
  stale: boolean;
}

/** What is at `path` now: null when there is no lock file. */
async function observe(path: string, ttlMs: number): Promise<Observed | null> {
  const stat = await fs.stat(path).catch(() => null);
  const text = stat ? await fs.readFile(path, 'utf8').catch(() => null) : null;
  if (!stat || text === null) return null;
  const id = `${stat.ino}:${stat.mtimeMs}:${text}`;
  const held = parseLock(text);
  // Unreadable: either being written right now, or garbage left by a crash between create and write.
  if (held === null) return { id, stale: Date.now() - stat.mtimeMs >= ttlMs };
  if (held.expiresAt <= Date.now()) return { id, stale: true };
  const dead = held.host === thisHost() && Number.isInteger(held.pid) && held.pid > 0 && !processAlive(held.pid);
  return { id, stale: dead };
}

async function create(path: string, content: LockFileContent): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(JSON.stringify(content));
  } finally {
    await handle.close();
  }
  return true;
}

/** Remove the stale lock seen as `id`, if nobody else is doing it and it is still that file. */
async function breakStale(path: string, id: string, ttlMs: number): Promise<boolean> {
  const breaker = `${path}.break`;
  try {
    await (await fs.open(breaker, 'wx', 0o600)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Someone else is taking over right now; a breaker left by a crash is cleared for the next attempt.
    const stat = await fs.stat(breaker).catch(() => null);
    if (stat && Date.now() - stat.mtimeMs > BREAKER_STALE_MS) await fs.rm(breaker, { force: true });
    return false;
  }
  try {
    const now = await observe(path, ttlMs);
    if (now === null) return true;
    if (now.id !== id) return false;
    await fs.rm(path, { force: true });
    return true;
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

function lease(path: string, owner: string): Lease {
  return {
    name: path,
    release: async () => {
      const held = await readLock(path);
      if (held?.owner === owner) await fs.rm(path, { force: true });
    },
  };
}

/** Try once to take the lease; resolves null when another live owner holds it. */
export async function tryFileLock(path: string, ttlMs: number): Promise<Lease | null> {
  const owner = randomBytes(12).toString('hex');
  const content = (): LockFileContent => ({ owner, expiresAt: Date.now() + ttlMs, pid: process.pid, host: thisHost() });
  if (await create(path, content())) return lease(path, owner);
  const seen = await observe(path, ttlMs);
  if (seen && !seen.stale) return null;
  if (seen && !(await breakStale(path, seen.id, ttlMs))) return null;
  // Gone (released meanwhile) or removed by us: O_EXCL decides between everyone trying now.
  return (await create(path, content())) ? lease(path, owner) : null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Take the lease, waiting up to `waitMs`; used around read-modify-write of the store file. */
export async function withFileLock<T>(path: string, ttlMs: number, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  let lease: Lease | null;
  while ((lease = await tryFileLock(path, ttlMs)) === null) {
    if (Date.now() > deadline) throw new Error(`could not lock ${path} within ${waitMs}ms`);
    await sleep(5 + Math.random() * 20);
  }
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}
