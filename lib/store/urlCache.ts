/**
 * The URL-signature cache: a Map whose insertion order is the recency order (least recently used first), bounded
 * by `max`. Signing a new URL must be cheap, and a 10,000-key plain object is not: every new URL string becomes
 * an internalized property key and every eviction a dictionary delete. A Map hashes the string and nothing more.
 *
 * Custom stores written for wechat-jssdk read and write `this.store.urls` as a plain object
 * (`this.store.urls[url] = sig`, `Object.keys(this.store.urls)`, `JSON.stringify(this.store)`), so `view` is a
 * Proxy that behaves as that object on top of the same Map. Only code that goes through the view pays for it.
 */
import type { SignatureInfo } from './types';

export class SignatureCache {
  readonly map = new Map<string, SignatureInfo>();
  readonly view: Record<string, SignatureInfo>;
  /**
   * Eviction walks the keys with one long-lived iterator. A fresh `map.keys().next()` per eviction would step over
   * every deleted slot at the front of V8's table each time (cost growing with churn); the iterator keeps its place,
   * survives rehashing, and still meets re-inserted keys again at the end, which is LRU order.
   */
  private oldest: Iterator<string> = this.map.keys();
  /** The most recent key: touching it again changes nothing, so the warm path skips the delete and re-insert. */
  private newest?: string;

  constructor(readonly max: number) {
    const map = this.map;
    const target: Record<string, SignatureInfo> = {};
    this.view = new Proxy(target, {
      // Keys the Map lacks fall through to the (empty) target, so `hasOwnProperty` and friends still resolve.
      get: (t, key) => (typeof key === 'string' && map.has(key) ? map.get(key) : Reflect.get(t, key)),
      set: (t, key, value) => {
        if (typeof key !== 'string') return Reflect.set(t, key, value);
        this.set(key, value);
        return true;
      },
      has: (t, key) => (typeof key === 'string' && map.has(key)) || Reflect.has(t, key),
      deleteProperty: (t, key) => (typeof key === 'string' ? (map.delete(key), true) : Reflect.deleteProperty(t, key)),
      ownKeys: () => [...map.keys()],
      getOwnPropertyDescriptor: (_t, key) =>
        typeof key === 'string' && map.has(key)
          ? { value: map.get(key), writable: true, enumerable: true, configurable: true }
          : undefined,
      defineProperty: (t, key, descriptor) => {
        if (typeof key !== 'string') return Reflect.defineProperty(t, key, descriptor);
        this.set(key, descriptor.value);
        return true;
      },
    });
  }

  get size(): number {
    return this.map.size;
  }

  get(url: string): SignatureInfo | undefined {
    return this.map.get(url);
  }

  /** Store as the most recent entry, evicting the least recent beyond `max`. */
  set(url: string, info: SignatureInfo): void {
    const map = this.map;
    map.delete(url);
    map.set(url, info);
    this.newest = url;
    this.resync();
  }

  /** Mark `url` as most recently used. */
  touch(url: string): void {
    if (url === this.newest) return;
    const info = this.map.get(url);
    if (info === undefined) return;
    this.map.delete(url);
    this.map.set(url, info);
    this.newest = url;
  }

  forget(url: string): void {
    this.map.delete(url);
    if (url === this.newest) this.newest = undefined;
  }

  /** Nothing to rebuild (the Map is the truth); re-applies the bound. Kept for the RecencyIndex interface. */
  resync(): void {
    while (this.map.size > this.max) {
      let next = this.oldest.next();
      if (next.done) {
        this.oldest = this.map.keys();
        next = this.oldest.next();
      }
      this.forget(next.value as string);
    }
  }

  clear(): void {
    this.map.clear();
    this.oldest = this.map.keys();
    this.newest = undefined;
  }

  /** Replace the contents with a plain object's entries (a loaded file, a subclass assigning `store.urls`). */
  load(records: Record<string, SignatureInfo> | undefined | null): void {
    if (records === this.view) return;
    const entries = records && typeof records === 'object' ? Object.entries(records) : [];
    this.clear();
    for (const [url, info] of entries) this.set(url, info);
  }
}
