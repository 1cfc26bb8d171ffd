/**
 * Bounded least-recently-used bookkeeping for the store's in-memory maps (URL signatures, OAuth tokens,
 * mini-program sessions), so memory cannot grow without limit.
 */

/**
 * A Map bounded to `max` entries whose insertion order is the recency order (least recent first).
 *
 * Eviction walks the keys with one long-lived iterator. A Map keeps deleted entries as holes until it rehashes, so
 * a fresh `keys().next()` per eviction would step over every earlier hole again (measured: most of the time of
 * signing distinct URLs at the 10000 bound). A live iterator survives deletions, insertions and rehashing, and
 * meets keys appended after it (touched ones) again at the end, so it always points at the least recent key.
 */
export class BoundedMap<V> {
  readonly map = new Map<string, V>();
  private cursor: Iterator<string> = this.map.keys();
  /** The most recent key: touching it again (a page signed over and over) changes nothing. */
  private newest?: string;

  constructor(
    readonly max: number,
    /** Told about each key evicted by the bound (not about forget()). */
    private readonly onEvict?: (key: string) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Store as the most recent entry, evicting the least recent beyond `max`. */
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    this.trim();
  }

  /** Mark `key` as most recently used; false when it is not present. */
  touch(key: string): boolean {
    if (key === this.newest) return true;
    if (!this.map.has(key)) return false;
    const value = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    return true;
  }

  forget(key: string): void {
    this.map.delete(key);
    if (key === this.newest) this.newest = undefined;
  }

  clear(): void {
    this.map.clear();
    this.cursor = this.map.keys();
    this.newest = undefined;
  }

  /** Evict the least recent entries until the bound holds. */
  protected trim(): void {
    while (this.map.size > this.max) {
      let next = this.cursor.next();
      if (next.done) {
        // An exhausted iterator stays exhausted: start a new one at the (current) oldest key.
        this.cursor = this.map.keys();
        next = this.cursor.next();
      }
      this.forget(next.value as string);
      this.onEvict?.(next.value as string);
    }
  }
}

/**
 * Recency of the keys of a plain record object (`store.oauth`, `store.mp`), which stays the place the records live
 * because custom stores written for wechat-jssdk read and write it directly. Evicting a key deletes its record.
 */
export class RecencyIndex {
  private readonly order: BoundedMap<true>;

  constructor(
    private readonly target: () => Record<string, unknown>,
    max: number,
  ) {
    this.order = new BoundedMap<true>(max, (key) => delete this.target()[key]);
  }

  get max(): number {
    return this.order.max;
  }

  get size(): number {
    return this.order.size;
  }

  /** Mark `key` as most recently used, evicting the least recent records beyond the bound. */
  touch(key: string): void {
    if (!this.order.touch(key)) this.order.set(key, true);
  }

  forget(key: string): void {
    this.order.forget(key);
  }

  /** Rebuild from the object (after a load, or when a subclass wrote keys directly), then apply the bound. */
  resync(): void {
    const records = this.target();
    for (const key of [...this.order.map.keys()]) if (!(key in records)) this.order.forget(key);
    for (const key of Object.keys(records)) if (!this.order.map.has(key)) this.order.set(key, true);
  }

  clear(): void {
    this.order.clear();
  }
}
