/**
 * The store contract: one set of tests every store passes (memory Store, FileStore, MongoStore, RedisStore,
 * KeyValueStore). A suite calls `storeContract(name, setup)` where `setup` says how to open stores on a fresh
 * backend and what the store promises beyond the common ground.
 */
import type { Store } from '../lib/store/Store';
import type { Lease, Lockable } from '../lib/store/types';
import { APP, APP2, HOUR } from './helpers';
import { ManualClock, eventually } from './store/support';

export interface ContractBackend {
  /** A new, unbound store on this backend (same file, database, key prefix or map as the others of it). */
  create(options: { now: () => number }): Store | Promise<Store>;
}

export interface ContractSetup {
  /** A backend no other test used (a new file, database, key prefix or map). */
  backend(): ContractBackend | Promise<ContractBackend>;
  /** A new instance on the same backend sees what another one flushed (false only for the memory Store). */
  persistent: boolean;
  /** A new instance sees OAuth tokens and sessions written by another at once, without a flush or restart. */
  sharedRecords: boolean;
  /** Instances on one backend share leases (false only for the memory Store). */
  sharedLock: boolean;
  /** A credential written late with an older fetch time does not replace a newer one. */
  newestWins: boolean;
  teardown?(): Promise<void>;
}

const DAY = 24 * HOUR;

/** Register the contract tests; capabilities a store does not promise are not tested (the test is not registered). */
export function storeContract(name: string, contract: ContractSetup): void {
  const testIf = (condition: boolean) => (condition ? test : () => undefined);

  describe(`store contract: ${name}`, () => {
    let clock: ManualClock;
    const opened: Store[] = [];

    beforeEach(() => {
      clock = new ManualClock();
    });

    afterEach(async () => {
      for (const store of opened.splice(0).reverse()) await store.destroy();
    });

    afterAll(async () => {
      await contract.teardown?.();
    });

    async function backend() {
      const b = await contract.backend();
      return {
        open: async (appId = APP.appId): Promise<Store> => {
          const store = await b.create({ now: clock.now });
          opened.push(store);
          store.bindAppId(appId);
          return store;
        },
      };
    }

    const token = (value: string, fetchedAt: number) => ({
      accessToken: value,
      accessTokenExpiresAt: fetchedAt + 2 * HOUR,
      accessTokenFetchedAt: fetchedAt,
    });

    test('keeps the global token: partial updates merge, count and modifyDate are kept', async () => {
      const store = await (await backend()).open();
      const t0 = clock.now();
      await store.updateGlobalToken(token('AT-1', t0));
      const returned = await store.updateGlobalToken({
        jsapi_ticket: 'JT-1',
        jsapi_ticketExpiresAt: t0 + 2 * HOUR,
        jsapi_ticketFetchedAt: t0,
      });
      expect(returned).toMatchObject({ accessToken: 'AT-1', jsapi_ticket: 'JT-1' });
      await store.updateGlobalToken({ forceRefreshTimes: [t0 - 1000, t0] });
      const read = await store.getGlobalToken();
      expect(read).toMatchObject({
        ...token('AT-1', t0),
        jsapi_ticket: 'JT-1',
        jsapi_ticketExpiresAt: t0 + 2 * HOUR,
        jsapi_ticketFetchedAt: t0,
        forceRefreshTimes: [t0 - 1000, t0],
        count: 3,
      });
      expect(typeof read.modifyDate).toBe('string');
    });

    test('keeps URL signatures: save, read, update, exists', async () => {
      const store = await (await backend()).open();
      const url = 'https://app.example.com/page?id=1';
      const sig = {
        jsapi_ticket: 'JT',
        nonceStr: 'nonce-1',
        timestamp: '1700000000',
        url,
        signature: 'sig-1',
        expiresAt: clock.now() + HOUR,
      };
      await store.saveSignature(url, sig);
      expect(await store.getSignature(url)).toMatchObject(sig);
      expect(await store.isSignatureExisting(url)).toBe(true);
      await store.updateSignature(url, { signature: 'sig-2' });
      expect(await store.getSignature(url)).toMatchObject({ ...sig, signature: 'sig-2' });
      expect(await store.getSignature('https://app.example.com/other')).toBeUndefined();
      expect(await store.isSignatureExisting('https://app.example.com/other')).toBe(false);
    });

    test('a signature is gone once its ticket expired', async () => {
      const b = await backend();
      const store = await b.open();
      const url = 'https://app.example.com/expiring';
      await store.saveSignature(url, {
        nonceStr: 'n',
        timestamp: '1',
        url,
        signature: 's',
        expiresAt: clock.now() + 1_000,
      });
      await store.flush();
      expect(await store.getSignature(url)).toBeDefined();
      clock.advance(1_001);
      expect(await store.getSignature(url)).toBeUndefined();
      expect(await store.isSignatureExisting(url)).toBe(false);
      if (contract.persistent) expect(await (await b.open()).getSignature(url)).toBeUndefined();
    });

    test('keeps OAuth tokens: save, read, update (merging), remove', async () => {
      const store = await (await backend()).open();
      const now = clock.now();
      const info = {
        access_token: 'UAT-1',
        refresh_token: 'URT-1',
        openid: 'openid-1',
        scope: 'snsapi_userinfo',
        expirationTime: now + 2 * HOUR,
        refreshTokenExpiresAt: now + 30 * DAY,
      };
      await store.saveOAuthAccessToken('openid-1', info);
      expect(await store.getOAuthAccessToken('openid-1')).toMatchObject(info);
      await store.updateOAuthAccessToken('openid-1', { access_token: 'UAT-2', expirationTime: now + 3 * HOUR });
      expect(await store.getOAuthAccessToken('openid-1')).toMatchObject({
        ...info,
        access_token: 'UAT-2',
        expirationTime: now + 3 * HOUR,
      });
      expect(await store.getOAuthAccessToken('openid-unknown')).toBeUndefined();
      await store.removeOAuthAccessToken('openid-1');
      expect(await store.getOAuthAccessToken('openid-1')).toBeUndefined();
    });

    test('keeps the card ticket', async () => {
      const store = await (await backend()).open();
      const now = clock.now();
      await store.updateCardTicket({ ticket: 'CT-1', expiresAt: now + 2 * HOUR, fetchedAt: now, expires_in: 7200 });
      expect(await store.getCardTicket()).toMatchObject({
        ticket: 'CT-1',
        expiresAt: now + 2 * HOUR,
        fetchedAt: now,
        expires_in: 7200,
      });
    });

    test('keeps mini-program sessions; a new login replaces the old session', async () => {
      const store = await (await backend()).open();
      await store.setMPSession('session-1', { openid: 'mp-openid', session_key: 'SK-1', unionid: 'union-1' });
      expect(await store.getMPSession('session-1')).toMatchObject({
        openid: 'mp-openid',
        session_key: 'SK-1',
        unionid: 'union-1',
      });
      expect(await store.getMPSessionKey('session-1')).toBe('SK-1');
      await store.setMPSession('session-1', { openid: 'mp-openid', session_key: 'SK-2' });
      const replaced = await store.getMPSession('session-1');
      expect(replaced).toMatchObject({ openid: 'mp-openid', session_key: 'SK-2' });
      expect(replaced?.unionid).toBeUndefined();
      expect(await store.getMPSession('session-unknown')).toBeUndefined();
    });

    async function writeEverything(store: Store, tag: string, now: number) {
      await store.updateGlobalToken(token(`AT-${tag}`, now));
      await store.saveSignature('https://app.example.com/', {
        nonceStr: `n-${tag}`,
        timestamp: '1',
        url: 'https://app.example.com/',
        signature: `sig-${tag}`,
        expiresAt: now + HOUR,
      });
      await store.saveOAuthAccessToken('openid-x', {
        access_token: `UAT-${tag}`,
        openid: 'openid-x',
        refreshTokenExpiresAt: now + DAY,
      });
      await store.updateCardTicket({ ticket: `CT-${tag}`, expiresAt: now + HOUR, fetchedAt: now });
      await store.setMPSession('session-x', { openid: 'o', session_key: `SK-${tag}` });
      await store.flush();
    }

    async function readEverything(store: Store) {
      return {
        accessToken: (await store.getGlobalToken()).accessToken,
        signature: (await store.getSignature('https://app.example.com/'))?.signature,
        oauth: (await store.getOAuthAccessToken('openid-x'))?.access_token,
        card: (await store.getCardTicket()).ticket,
        session: await store.getMPSessionKey('session-x'),
      };
    }

    const everything = (tag: string) => ({
      accessToken: `AT-${tag}`,
      signature: `sig-${tag}`,
      oauth: `UAT-${tag}`,
      card: `CT-${tag}`,
      session: `SK-${tag}`,
    });
    const nothing = {
      accessToken: undefined,
      signature: undefined,
      oauth: undefined,
      card: undefined,
      session: undefined,
    };

    testIf(contract.persistent)('what one instance flushed, a new instance on the same backend reads', async () => {
      const b = await backend();
      const first = await b.open();
      await writeEverything(first, 'A', clock.now());
      await first.destroy();
      expect(await readEverything(await b.open())).toEqual(everything('A'));
    });

    testIf(contract.persistent)(
      'another instance sees a token refresh at once (read-through, write-through)',
      async () => {
        const b = await backend();
        const [one, two] = [await b.open(), await b.open()];
        expect((await two.getGlobalToken()).accessToken).toBeUndefined();
        await one.updateGlobalToken(token('AT-shared', clock.now()));
        expect((await two.getGlobalToken()).accessToken).toBe('AT-shared');
        if (contract.sharedRecords) {
          await one.saveOAuthAccessToken('openid-s', { access_token: 'UAT-s', openid: 'openid-s' });
          expect((await two.getOAuthAccessToken('openid-s'))?.access_token).toBe('UAT-s');
          await one.setMPSession('session-s', { openid: 'o', session_key: 'SK-s' });
          expect(await two.getMPSessionKey('session-s')).toBe('SK-s');
          await one.removeOAuthAccessToken('openid-s');
          expect(await two.getOAuthAccessToken('openid-s')).toBeUndefined();
        }
      },
    );

    test('two apps on one backend never see each other', async () => {
      const b = await backend();
      const a = await b.open(APP.appId);
      await writeEverything(a, 'A', clock.now());
      const other = await b.open(APP2.appId);
      expect(await readEverything(other)).toEqual(nothing);
      await writeEverything(other, 'B', clock.now());
      expect(await readEverything(other)).toEqual(everything('B'));
      // The first app still reads its own records, never the other's.
      expect(await readEverything(a)).toEqual(everything('A'));
      if (contract.persistent) {
        const again = await readEverything(await b.open(APP.appId));
        for (const value of Object.values(again)) expect(String(value)).not.toMatch(/-B$/);
      }
    });

    test('lock(): exactly one of 20 concurrent callers gets the lease; release lets the next one in', async () => {
      const b = await backend();
      const stores = contract.sharedLock ? [await b.open(), await b.open()] : [await b.open()];
      const lockable = stores as unknown as Array<Store & Lockable>;
      const leases = await Promise.all(
        Array.from({ length: 20 }, (_, i) => lockable[i % lockable.length].lock('refresh:access_token', 30_000)),
      );
      const held = leases.filter((lease): lease is Lease => lease !== null);
      expect(held).toHaveLength(1);
      expect(await lockable[lockable.length - 1].lock('refresh:access_token', 30_000)).toBeNull();
      // Another name is another lease.
      const other = await lockable[0].lock('refresh:jsapi_ticket', 30_000);
      expect(other).not.toBeNull();
      await held[0].release();
      const next = await lockable[lockable.length - 1].lock('refresh:access_token', 30_000);
      expect(next).not.toBeNull();
      await next!.release();
      await other!.release();
    });

    test('lock(): an expired lease can be taken, and its old holder cannot release the new one', async () => {
      const b = await backend();
      const [one, two] = (
        contract.sharedLock ? [await b.open(), await b.open()] : [await b.open(), undefined]
      ) as Array<(Store & Lockable) | undefined>;
      const taker = two ?? one!;
      const first = await one!.lock('refresh:ttl', 300);
      expect(first).not.toBeNull();
      // Lease expiry is real time (it bounds real waiting), so this waits about 300 ms.
      const second = await eventually(() => taker.lock('refresh:ttl', 30_000), 10_000, 'the expired lease');
      await first!.release();
      expect(await one!.lock('refresh:ttl', 30_000)).toBeNull();
      await second!.release();
      const third = await one!.lock('refresh:ttl', 30_000);
      expect(third).not.toBeNull();
      await third!.release();
    });

    test('flush() and destroy() can be called more than once, also concurrently', async () => {
      const store = await (await backend()).open();
      await store.saveSignature('https://app.example.com/f', {
        nonceStr: 'n',
        timestamp: '1',
        url: 'https://app.example.com/f',
        signature: 's',
        expiresAt: clock.now() + HOUR,
      });
      await expect(Promise.all([store.flush(), store.flush()])).resolves.toBeDefined();
      await expect(store.flush()).resolves.toBeUndefined();
      await expect(Promise.all([store.destroy(), store.destroy()])).resolves.toBeDefined();
      await expect(store.destroy()).resolves.toBeUndefined();
    });

    testIf(contract.newestWins)(
      'a credential written late with an older fetch time does not replace a newer one',
      async () => {
        const b = await backend();
        const [one, two] = [await b.open(), await b.open()];
        const t0 = clock.now();
        await one.updateGlobalToken(token('AT-new', t0 + 1_000));
        await two.updateGlobalToken(token('AT-old', t0));
        expect(await one.getGlobalToken()).toMatchObject(token('AT-new', t0 + 1_000));
        await one.updateCardTicket({ ticket: 'CT-new', expiresAt: t0 + HOUR, fetchedAt: t0 + 1_000 });
        await two.updateCardTicket({ ticket: 'CT-old', expiresAt: t0 + HOUR, fetchedAt: t0 });
        expect((await two.getCardTicket()).ticket).toBe('CT-new');
        // A newer one (or the same fetch written again) does replace it.
        await two.updateGlobalToken(token('AT-newer', t0 + 2_000));
        expect((await one.getGlobalToken()).accessToken).toBe('AT-newer');
      },
    );
  });
}
