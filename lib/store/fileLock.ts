/**
 * A lease between processes on one host, as a lock file created with O_EXCL. The file holds the owner and the
 * expiry; an expired lease (its holder crashed) can be taken over. Expiry uses the real clock, never a test clock,
 * because it bounds real waiting.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Lease } from './types';

interface LockFileContent {
  owner: string;
  expiresAt: number;
  pid: number;
}

async function readLock(path: string): Promise<LockFileContent | null> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as LockFileContent;
  } catch {
    // Missing, or half-written by a holder that is creating it right now: treat as held but unknown.
    return null;
  }
}

/** Try once to take the lease; resolves null when another live owner holds it. */
export async function tryFileLock(path: string, ttlMs: number): Promise<Lease | null> {
  const owner = randomBytes(12).toString('hex');
  const content: LockFileContent = { owner, expiresAt: Date.now() + ttlMs, pid: process.pid };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(path, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(content));
      } finally {
        await handle.close();
      }
      return {
        name: path,
        release: async () => {
          const held = await readLock(path);
          if (held?.owner === owner) await fs.rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await readLock(path);
      if (held === null) {
        // Unreadable: either being written right now, or garbage left by a crash; judge by its age.
        const stat = await fs.stat(path).catch(() => null);
        if (stat && Date.now() - stat.mtimeMs < ttlMs) return null;
      } else if (held.expiresAt > Date.now()) {
        return null;
      }
      // Expired: the holder died. Remove it and try once more; O_EXCL decides between concurrent takers.
      await fs.rm(path, { force: true });
    }
  }
  return null;
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
