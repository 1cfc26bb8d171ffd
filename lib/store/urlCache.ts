/**
 * The URL-signature cache: a Map whose insertion order is the recency order (least recently used first), bounded
 * by `max`. Signing a new URL must be cheap, and a 10,000-key plain object is not: every new URL string becomes
 * an internalized property key and every eviction a dictionary delete. A Map hashes the string and nothing more.
 *
 * Custom stores written for wechat-jssdk read and write `this.store.urls` as a plain object
 * (`this.store.urls[url] = sig`, `Object.keys(this.store.urls)`, `JSON.stringify(this.store)`), so `view` is a
 * Proxy that behaves as that object on top of the same Map. Only code that goes through the view pays for it.
 */
import { BoundedMap } from './lru';
import type { SignatureInfo } from './types';

export class SignatureCache extends BoundedMap<SignatureInfo> {
  readonly view: Record<string, SignatureInfo>;

  constructor(max: number) {
    super(max);
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
      deleteProperty: (t, key) => (typeof key === 'string' ? (this.forget(key), true) : Reflect.deleteProperty(t, key)),
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

  /** Replace the contents with a plain object's entries (a loaded file, a subclass assigning `store.urls`). */
  load(records: Record<string, SignatureInfo> | undefined | null): void {
    if (records === this.view) return;
    const entries = records && typeof records === 'object' ? Object.entries(records) : [];
    this.clear();
    for (const [url, info] of entries) this.set(url, info);
  }
}
