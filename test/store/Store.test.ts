/**
 * The base (memory) Store: wechat-jssdk's Promise API, the LRU bound on URL signatures, expiry, appId binding,
 * flush events and timers, and the CustomStore example from the Store documentation, used by a Wechat on the sandbox.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Store, DEFAULT_MAX_URLS } from '../../lib/store/Store';
import type { GlobalTokenInfo, SignatureInfo, StoreState } from '../../lib/store/types';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox } from '../../lib/sandbox';
import { APP, sandboxWith, tempDir, wechatOn } from '../helpers';

const sig = (url: string, extra: Partial<SignatureInfo> = {}): SignatureInfo => ({
  jsapi_ticket: 'ticket',
  nonceStr: 'nonce',
  timestamp: '1700000000',
  url,
  signature: `sig-of-${url}`,
  ...extra,
});

describe('Promise API (wechat-jssdk compatible)', () => {
  let clock = 1_700_000_000_000;
  const store = new Store({ noInterval: true, now: () => clock });

  it('global token: get and merge-update, with count and modifyDate', async () => {
    expect(await store.getGlobalToken()).toEqual({ count: 0 });
    const first = await store.updateGlobalToken({ accessToken: 'a', accessTokenExpiresAt: clock + 1000 });
    expect(first).toMatchObject({ count: 1, accessToken: 'a', modifyDate: new Date(clock).toISOString() });
    clock += 5;
    const second = await store.updateGlobalToken({ jsapi_ticket: 't' });
    expect(second).toMatchObject({
      count: 2,
      accessToken: 'a',
      jsapi_ticket: 't',
      modifyDate: new Date(clock).toISOString(),
    });
    expect(await store.getGlobalToken()).toEqual(second);
  });

  it('signatures: save, get, update, isSignatureExisting', async () => {
    const url = 'https://example.com/a';
    expect(await store.getSignature(url)).toBeUndefined();
    expect(await store.isSignatureExisting(url)).toBe(false);
    await store.saveSignature(url, sig(url));
    expect(await store.isSignatureExisting(url)).toBe(true);
    expect(await store.getSignature(url)).toMatchObject({ signature: `sig-of-${url}`, updated: true });
    await store.updateSignature(url, { signature: 'changed' });
    expect(await store.getSignature(url)).toMatchObject({ signature: 'changed', nonceStr: 'nonce' });
    expect(store.store.urls[url].signature).toBe('changed');
  });

  it('OAuth tokens: save, update (merge), get, remove', async () => {
    await store.saveOAuthAccessToken('openid-1', { access_token: 'at', refresh_token: 'rt', openid: 'openid-1' });
    expect(await store.getOAuthAccessToken('openid-1')).toMatchObject({
      key: 'openid-1',
      access_token: 'at',
      refresh_token: 'rt',
    });
    await store.updateOAuthAccessToken('openid-1', { access_token: 'at2' });
    expect(await store.getOAuthAccessToken('openid-1')).toMatchObject({ access_token: 'at2', refresh_token: 'rt' });
    await store.removeOAuthAccessToken('openid-1');
    expect(await store.getOAuthAccessToken('openid-1')).toBeUndefined();
  });

  it('card ticket: get and merge-update', async () => {
    expect(await store.getCardTicket()).toEqual({});
    await store.updateCardTicket({ ticket: 'k', expiresAt: clock + 1000 });
    expect(await store.getCardTicket()).toMatchObject({ ticket: 'k', expiresAt: clock + 1000 });
  });

  it('mini-program sessions: a new session replaces the old one; getMPSessionKey', async () => {
    await store.setMPSession('s1', { openid: 'o', session_key: 'k1', unionid: 'u' });
    await store.setMPSession('s1', { openid: 'o', session_key: 'k2' });
    expect(await store.getMPSession('s1')).toMatchObject({ openid: 'o', session_key: 'k2' });
    expect((await store.getMPSession('s1'))!.unionid).toBeUndefined();
    expect(await store.getMPSessionKey('s1')).toBe('k2');
    expect(await store.getMPSessionKey('nobody')).toBeUndefined();
  });

  it('clearStore empties everything but keeps the appId binding', async () => {
    store.bindAppId('wx-clear');
    await store.clearStore();
    expect(store.store.urls).toEqual({});
    expect(store.store.globalToken).toEqual({ count: 0 });
    expect(store.store.wechatConfig.appId).toBe('wx-clear');
    expect(() => store.bindAppId('wx-other')).toThrow(/bound to appId wx-clear/);
  });

  it('static StoreEvents keeps the wechat-jssdk names', () => {
    expect(Store.StoreEvents).toMatchObject({
      FLUSH_STORE: 'FLUSH_STORE',
      STORE_FLUSHED: 'STORE_FLUSHED',
      DESTROYED: 'DESTROYED',
      DESTROY: 'DESTROY',
    });
  });
});

describe('URL signatures are bounded and expire', () => {
  it('maxUrls holds under many URLs, keeping the most recent', async () => {
    const store = new Store({ noInterval: true, maxUrls: 100 });
    for (let i = 0; i < 5000; i++)
      await store.saveSignature(`https://example.com/${i}`, sig(`https://example.com/${i}`));
    const kept = Object.keys(store.store.urls);
    expect(kept).toHaveLength(100);
    expect(kept).toContain('https://example.com/4999');
    expect(kept).toContain('https://example.com/4900');
    expect(await store.getSignature('https://example.com/0')).toBeUndefined();
  });

  it('the default bound is 10000', async () => {
    const store = new Store({ noInterval: true });
    for (let i = 0; i < DEFAULT_MAX_URLS + 500; i++) await store.saveSignature(`u${i}`, sig(`u${i}`));
    expect(Object.keys(store.store.urls)).toHaveLength(DEFAULT_MAX_URLS);
  });

  it('is least-recently-USED: a URL that keeps being read survives newer ones', async () => {
    const store = new Store({ noInterval: true, maxUrls: 10 });
    await store.saveSignature('hot', sig('hot'));
    for (let i = 0; i < 100; i++) {
      await store.saveSignature(`cold${i}`, sig(`cold${i}`));
      expect(await store.getSignature('hot')).toBeDefined();
    }
    expect(Object.keys(store.store.urls)).toHaveLength(10);
  });

  it('loading more records than maxUrls keeps the most recent ones', async () => {
    class LoadedStore extends Store {
      load(urls: Record<string, SignatureInfo>) {
        this.replaceState({ wechatConfig: {}, globalToken: {}, urls, oauth: {}, card: {}, mp: {} });
      }
    }
    const store = new LoadedStore({ noInterval: true, maxUrls: 2 });
    store.load(Object.fromEntries(['a', 'b', 'c', 'd'].map((u) => [u, sig(u)])));
    expect(Object.keys(store.store.urls).sort()).toEqual(['c', 'd']);
  });

  it('updating a signature does not grow past the bound', async () => {
    const store = new Store({ noInterval: true, maxUrls: 3 });
    for (const u of ['a', 'b', 'c', 'd']) await store.updateSignature(u, sig(u));
    expect(Object.keys(store.store.urls).sort()).toEqual(['b', 'c', 'd']);
  });

  it('an expired signature is dropped when read', async () => {
    let clock = 1_000_000;
    const store = new Store({ noInterval: true, now: () => clock });
    await store.saveSignature('u', sig('u', { expiresAt: clock + 1000 }));
    clock += 999;
    expect(await store.isSignatureExisting('u')).toBe(true);
    clock += 1;
    expect(await store.getSignature('u')).toBeUndefined();
    expect(await store.isSignatureExisting('u')).toBe(false);
    expect(store.store.urls.u).toBeUndefined();
  });

  it('expired signatures that nobody reads are dropped at the next flush', async () => {
    let clock = 1_000_000;
    const store = new Store({ noInterval: true, now: () => clock });
    for (let i = 0; i < 50; i++) await store.saveSignature(`old${i}`, sig(`old${i}`, { expiresAt: clock + 1000 }));
    await store.saveSignature('live', sig('live', { expiresAt: clock + 10_000 }));
    clock += 2000;
    await store.flush();
    expect(Object.keys(store.store.urls)).toEqual(['live']);
  });
});

describe('appId binding', () => {
  it('a store is bound to one appId; binding it to another throws', () => {
    const store = new Store({ noInterval: true });
    store.bindAppId('wxA');
    store.bindAppId('wxA');
    expect(store.appId).toBe('wxA');
    expect(() => store.bindAppId('wxB')).toThrow('this store is bound to appId wxA; create one store per app');
  });

  it('records loaded for another appId are discarded on binding (compareConfigKeys)', async () => {
    class LoadedStore extends Store {
      load(state: StoreState) {
        this.replaceState(state);
      }
    }
    const store = new LoadedStore({ noInterval: true });
    store.load({
      wechatConfig: { appId: 'wxOld' },
      globalToken: { count: 3, accessToken: 'old-token', accessTokenExpiresAt: Date.now() + 60_000 },
      urls: { 'https://example.com/': sig('https://example.com/') },
      oauth: {},
      card: {},
      mp: {},
    });
    store.bindAppId('wxNew');
    expect((await store.getGlobalToken()).accessToken).toBeUndefined();
    expect(await store.getSignature('https://example.com/')).toBeUndefined();
    expect(store.store.wechatConfig.appId).toBe('wxNew');
  });
});

describe('flush, destroy and timers', () => {
  it('interval flushes periodically; noInterval does not', async () => {
    const ticking = new Store({ interval: 10 });
    const quiet = new Store({ noInterval: true, interval: 10 });
    let ticks = 0;
    let quietTicks = 0;
    ticking.on(Store.StoreEvents.STORE_FLUSHED, () => ticks++);
    quiet.on(Store.StoreEvents.STORE_FLUSHED, () => quietTicks++);
    for (let i = 0; i < 200 && ticks < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(quietTicks).toBe(0);
    await ticking.destroy();
    const after = ticks;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ticks).toBe(after);
  });

  it('FLUSH_STORE and DESTROY events drive flush and destroy; destroy is idempotent', async () => {
    const store = new Store({ noInterval: true });
    const flushed = new Promise((resolve) => store.once(Store.StoreEvents.STORE_FLUSHED, resolve));
    store.emit(Store.StoreEvents.FLUSH_STORE);
    await expect(flushed).resolves.toBe(true);
    const destroyed = new Promise((resolve) => store.once(Store.StoreEvents.DESTROYED, resolve));
    store.emit(Store.StoreEvents.DESTROY);
    await expect(destroyed).resolves.toBe(true);
    await store.destroy();
  });

  it('a store with its default flush timer never keeps the process alive (child process exits on its own)', () => {
    const { dir, cleanup } = tempDir();
    try {
      const script = path.join(dir, 'store-timer.ts');
      writeFileSync(
        script,
        `import { Store } from ${JSON.stringify(path.resolve(__dirname, '../../lib/store/Store'))};\n` +
          `const store = new Store();\n` +
          `store.saveSignature('u', { nonceStr: 'n', timestamp: '1', url: 'u', signature: 's' }).then(() => console.log('ready'));\n`,
      );
      const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), script], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('ready');
      expect(child.signal).toBeNull();
      expect(child.status).toBe(0);
    } finally {
      cleanup();
    }
  });
});

describe('the CustomStore example from the Store documentation', () => {
  /** Stands for the user's own database (a Map is enough: the example only needs get/set). */
  class Backend {
    readonly urls = new Map<string, SignatureInfo>();
    globalToken: GlobalTokenInfo = {};
    writes = 0;
    async get(url: string): Promise<SignatureInfo | undefined> {
      return this.urls.get(url);
    }
  }

  // Written the way the wechat-jssdk documentation shows it.
  class CustomStore extends Store {
    constructor(
      private readonly backend: Backend,
      options: ConstructorParameters<typeof Store>[0] = {},
    ) {
      super(options);
    }

    override getSignature(url: string): Promise<SignatureInfo | undefined> {
      return super.getSignature(url).then((sig) => {
        if (!sig) {
          // Not in memory: get it from our own backend, and cache it.
          return this.backend.get(url).then((sig) => {
            if (sig) this.store.urls[url] = sig;
            return sig;
          });
        }
        return sig;
      });
    }

    override flush(): Promise<void> {
      // Write the in-memory state to our own backend, then let the base class finish.
      return Promise.all([
        Promise.resolve().then(() => {
          for (const [url, info] of Object.entries(this.store.urls)) this.backend.urls.set(url, info);
          this.backend.writes++;
        }),
        Promise.resolve().then(() => {
          this.backend.globalToken = { ...this.store.globalToken };
        }),
      ]).then(() => super.flush());
    }
  }

  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await sandboxWith(APP);
  });
  afterAll(() => sandbox.close());

  it('works as written behind a Wechat: signatures flushed to its backend are served by a second server without asking WeChat', async () => {
    const backend = new Backend();
    const now = () => sandbox.now();
    const store1 = new CustomStore(backend, { noInterval: true, now });
    const wx1 = wechatOn(sandbox, { store: store1 });
    const url = 'https://example.com/custom?x=1';
    const signed = await wx1.jssdk.getSignature(url);
    const flushed = new Promise((resolve) => store1.once(Store.StoreEvents.STORE_FLUSHED, resolve));
    await store1.flush();
    await flushed;
    expect(backend.writes).toBe(1);
    expect(backend.urls.get(url)).toMatchObject({ signature: signed.signature, nonceStr: signed.nonceStr });
    expect(backend.globalToken.jsapi_ticket).toBe(wx1.credentials.jsapiTicket.record!.value);
    await wx1.close();

    // A second server with an empty memory store and the same backend.
    const store2 = new CustomStore(backend, { noInterval: true, now });
    const wx2 = wechatOn(sandbox, { store: store2 });
    try {
      const tickets = sandbox.calls('/cgi-bin/ticket/getticket');
      const tokens = sandbox.calls('/cgi-bin/stable_token');
      const served = await wx2.jssdk.getSignature(url);
      expect(served).toEqual(signed);
      expect(store2.store.urls[url]).toBeDefined();
      expect(sandbox.calls('/cgi-bin/ticket/getticket')).toBe(tickets);
      expect(sandbox.calls('/cgi-bin/stable_token')).toBe(tokens);
      // And it verifies against the live ticket.
      const [ticket] = sandbox.liveTickets(APP.appId);
      expect(served.signature).toBe(
        signJsapiTicket({ ticket, nonceStr: served.nonceStr, timestamp: served.timestamp, url }),
      );
      // A URL neither memory nor backend has is signed normally.
      const fresh = await wx2.jssdk.getSignature('https://example.com/custom-new');
      expect(sandbox.liveTickets(APP.appId)).toHaveLength(2);
      expect(fresh.url).toBe('https://example.com/custom-new');
    } finally {
      await wx2.close();
    }
  });

  it('entries the subclass writes directly into this.store.urls are still bounded by maxUrls', async () => {
    const backend = new Backend();
    for (let i = 0; i < 300; i++) backend.urls.set(`https://example.com/${i}`, sig(`https://example.com/${i}`));
    const store = new CustomStore(backend, { noInterval: true, maxUrls: 20 });
    for (let i = 0; i < 300; i++) expect(await store.getSignature(`https://example.com/${i}`)).toBeDefined();
    await store.flush();
    expect(Object.keys(store.store.urls).length).toBeLessThanOrEqual(20);
    expect(store.store.urls['https://example.com/299']).toBeDefined();
    // The backend still has everything; the next read refills memory.
    expect(await store.getSignature('https://example.com/0')).toBeDefined();
  });

  it('flush() chains to the base class (STORE_FLUSHED) only after the backend writes', async () => {
    const backend = new Backend();
    const store = new CustomStore(backend, { noInterval: true });
    await store.saveSignature('u', sig('u'));
    let writesWhenFlushed = -1;
    store.once(Store.StoreEvents.STORE_FLUSHED, () => {
      writesWhenFlushed = backend.writes;
    });
    await store.flush();
    expect(writesWhenFlushed).toBe(1);
    expect(backend.urls.get('u')).toMatchObject({ signature: 'sig-of-u' });
  });
});
