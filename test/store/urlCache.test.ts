import { cloneDeep } from 'lodash';
import { SignatureCache } from '../../lib/store/urlCache';
import { Store } from '../../lib/store/Store';
import type { SignatureInfo } from '../../lib/store/types';

const sig = (url: string, n = 0): SignatureInfo => ({ url, nonceStr: `n${n}`, timestamp: '1', signature: `s${n}` });

/** The obvious LRU: an array, least recent first. */
class ModelLru {
  keys: string[] = [];
  values = new Map<string, SignatureInfo>();
  constructor(private readonly max: number) {}
  set(url: string, info: SignatureInfo) {
    this.keys = this.keys.filter((k) => k !== url).concat(url);
    this.values.set(url, info);
    while (this.keys.length > this.max) this.values.delete(this.keys.shift()!);
  }
  touch(url: string) {
    if (this.values.has(url)) this.keys = this.keys.filter((k) => k !== url).concat(url);
  }
  forget(url: string) {
    this.keys = this.keys.filter((k) => k !== url);
    this.values.delete(url);
  }
}

describe('SignatureCache', () => {
  test('matches a reference LRU over random sets, touches and deletes', () => {
    let seed = 12345;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const cache = new SignatureCache(50);
    const model = new ModelLru(50);
    for (let i = 0; i < 20_000; i++) {
      const url = `https://a.example/${random(120)}`;
      const op = random(10);
      if (op < 6) {
        cache.set(url, sig(url, i));
        model.set(url, sig(url, i));
      } else if (op < 9) {
        cache.touch(url);
        model.touch(url);
      } else {
        cache.forget(url);
        model.forget(url);
      }
      if (i % 997 === 0) expect([...cache.map.keys()]).toEqual(model.keys);
    }
    expect([...cache.map.keys()]).toEqual(model.keys);
    expect([...cache.map.values()]).toEqual(model.keys.map((k) => model.values.get(k)));
  });

  test('evicts the least recently used once over the bound', () => {
    const cache = new SignatureCache(3);
    for (const u of ['a', 'b', 'c']) cache.set(u, sig(u));
    cache.touch('a');
    cache.set('d', sig('d'));
    expect([...cache.map.keys()]).toEqual(['c', 'a', 'd']);
  });

  test('the object view behaves as the plain object wechat-jssdk stores had', () => {
    const store = new Store({ noInterval: true, maxUrls: 3 });
    const urls = store.store.urls;
    urls['https://x/1'] = sig('https://x/1');
    expect('https://x/1' in urls).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(urls, 'https://x/1')).toBe(true);
    // wechat-jssdk-era code calls prototype methods on the object itself.
    // eslint-disable-next-line no-prototype-builtins
    expect(urls.hasOwnProperty('nope')).toBe(false);
    expect(Object.keys(urls)).toEqual(['https://x/1']);
    expect(JSON.parse(JSON.stringify(store.store)).urls).toEqual({ 'https://x/1': sig('https://x/1') });
    expect(cloneDeep(store.store).urls).toEqual({ 'https://x/1': sig('https://x/1') });
    expect({ ...urls }).toEqual({ 'https://x/1': sig('https://x/1') });
    // Direct writes are bounded too.
    for (let i = 2; i <= 5; i++) urls[`https://x/${i}`] = sig(`https://x/${i}`);
    expect(Object.keys(urls)).toEqual(['https://x/3', 'https://x/4', 'https://x/5']);
    delete urls['https://x/4'];
    expect(Object.keys(urls)).toEqual(['https://x/3', 'https://x/5']);
    // Assigning a new object (a custom store loading its backend) replaces the contents.
    store.store.urls = { 'https://y/1': sig('https://y/1') };
    expect(Object.keys(store.store.urls)).toEqual(['https://y/1']);
    store.store = { ...store.store, urls: { 'https://z/1': sig('https://z/1') } };
    expect(Object.keys(store.store.urls)).toEqual(['https://z/1']);
  });

  test('getSignature sees what the view wrote and the view sees what saveSignature wrote', async () => {
    const store = new Store({ noInterval: true });
    store.store.urls['https://v/1'] = sig('https://v/1', 1);
    expect(await store.getSignature('https://v/1')).toEqual(sig('https://v/1', 1));
    await store.saveSignature('https://v/2', sig('https://v/2', 2));
    expect(store.store.urls['https://v/2']).toMatchObject({ signature: 's2', updated: true });
  });
});
