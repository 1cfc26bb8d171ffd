/**
 * Leases inside one process, for stores whose data lives in this process (the memory Store, a KeyValueStore over a
 * Map): two Wechat instances sharing such a store object refresh once. Same contract as the cross-process leases of
 * FileStore, RedisStore and MongoStore: `take` never waits, an expired lease can be taken over, and `release()`
 * frees the lease only while its taker still owns it. Expiry uses the real clock because it bounds real waiting.
 */
import { randomBytes } from 'node:crypto';
import type { Lease } from './types';

export class LocalLeases {
  private readonly held = new Map<string, { owner: string; expiresAt: number }>();

  take(name: string, ttlMs: number): Lease | null {
    const now = Date.now();
    const current = this.held.get(name);
    if (current && current.expiresAt > now) return null;
    const owner = randomBytes(9).toString('hex');
    this.held.set(name, { owner, expiresAt: now + ttlMs });
    return {
      name,
      release: async () => {
        if (this.held.get(name)?.owner === owner) this.held.delete(name);
      },
    };
  }

  clear(): void {
    this.held.clear();
  }
}
