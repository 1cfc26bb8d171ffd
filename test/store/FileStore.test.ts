/**
 * FileStore against the real file system (and the sandbox where a Wechat signs): loading at start, atomic and
 * serialised flushes, mode 0600, no secrets, the corrupt-file path, appId changes, write failures, and the
 * lock-file leases used by the credential engine. Crashes and several processes are in fileStoreCrash.test.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { StoreError, WechatError } from '../../lib/errors';
import { FileStore } from '../../lib/store/FileStore';
import { Store } from '../../lib/store/Store';
import { tryFileLock } from '../../lib/store/fileLock';
import type { Lease, SignatureInfo, StoreState } from '../../lib/store/types';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox } from '../../lib/sandbox';
import { APP, APP2, sandboxWith, tempDir, wechatOn } from '../helpers';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';

let sandbox: Sandbox;
let dir: string;
let cleanup: () => void;
let warnings: string[];

beforeAll(async () => {
  sandbox = await sandboxWith(APP, APP2);
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => {
  ({ dir, cleanup } = tempDir('filestore-'));
  warnings = [];
  // Observe (and silence) the warnings FileStore emits; emitWarning itself is not under test.
  jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error) => {
    warnings.push(String(warning instanceof Error ? warning.message : warning));
  }) as typeof process.emitWarning);
});

afterEach(() => {
  jest.restoreAllMocks();
  cleanup();
});

const file = (name = 'wechat-info.json') => path.join(dir, name);
const readState = (p = file()) => JSON.parse(fs.readFileSync(p, 'utf8')) as StoreState;

function signature(url: string, extra: Partial<SignatureInfo> = {}): SignatureInfo {
  return { nonceStr: 'n', timestamp: '1', url, signature: 's', expiresAt: Date.now() + 3_600_000, ...extra };
}

function fileStore(options: ConstructorParameters<typeof FileStore>[0] = {}, appId: string = APP.appId): FileStore {
  const store = new FileStore({ fileStorePath: file(), noInterval: true, ...options });
  store.bindAppId(appId);
  return store;
}

function expectVerifies(
  sig: { signature: string; nonceStr: string; timestamp: string; url: string },
  appId = APP.appId,
) {
  const ok = sandbox
    .liveTickets(appId)
    .some(
      (ticket) =>
        signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: sig.url }) === sig.signature,
    );
  expect(ok).toBe(true);
}

describe('loading at start', () => {
  it('reads the file synchronously in the constructor', async () => {
    const state = {
      wechatConfig: { appId: APP.appId },
      globalToken: { count: 3, accessToken: 'stored-token', accessTokenExpiresAt: Date.now() + 3_600_000 },
      urls: { 'https://example.com/a': signature('https://example.com/a', { nonceStr: 'stored-nonce' }) },
      oauth: { alice: { access_token: 'oauth-token', openid: 'o1' } },
      card: { ticket: 'card-ticket' },
      mp: { o1: { session_key: 'sk' } },
    };
    fs.writeFileSync(file(), JSON.stringify(state));
    const store = new FileStore({ fileStorePath: file(), noInterval: true });
    // No await yet: the first request must already see what the file holds.
    expect(store.store.globalToken.accessToken).toBe('stored-token');
    store.bindAppId(APP.appId);
    expect((await store.getGlobalToken()).accessToken).toBe('stored-token');
    expect((await store.getSignature('https://example.com/a'))?.nonceStr).toBe('stored-nonce');
    expect((await store.getOAuthAccessToken('alice'))?.access_token).toBe('oauth-token');
    expect((await store.getCardTicket()).ticket).toBe('card-ticket');
    expect(await store.getMPSessionKey('o1')).toBe('sk');
    expect(warnings).toEqual([]);
    await store.destroy();
  });

  it('starts empty without a file, without warning, and creates none until a flush', async () => {
    const store = fileStore();
    expect(store.store.urls).toEqual({});
    expect(store.store.globalToken.accessToken).toBeUndefined();
    expect(fs.existsSync(file())).toBe(false);
    await store.flush();
    expect(readState().wechatConfig).toEqual({ appId: APP.appId });
    expect(warnings).toEqual([]);
    await store.destroy();
  });

  it('lets a restarted Wechat sign with the stored token and ticket, without calling WeChat', async () => {
    const url = 'https://example.com/restart?x=1';
    const first = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    const before = await first.jssdk.getSignature(url);
    await first.close();
    const tokenCalls = sandbox.calls(TOKEN);
    const ticketCalls = sandbox.calls(TICKET);
    expect(tokenCalls).toBeGreaterThan(0);

    const second = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    // The page signed before the restart comes back from the file as it was.
    expect(await second.jssdk.getSignature(url)).toEqual(before);
    const fresh = await second.jssdk.getSignature('https://example.com/other');
    expectVerifies(fresh);
    expect(sandbox.calls(TOKEN)).toBe(tokenCalls);
    expect(sandbox.calls(TICKET)).toBe(ticketCalls);
    await second.close();
  });
});

describe('records loaded from the file are checked like new ones', () => {
  it('refuses a stored signature for a host outside allowedHosts, and serves a stored one inside', async () => {
    // A signing Wechat fills the file (no host rule), then a restart with allowedHosts reads it.
    const first = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    const inside = await first.jssdk.getSignature('https://example.com/inside');
    await first.jssdk.getSignature('https://evil.example.net/outside');
    await first.close();
    expect(Object.keys(readState().urls).sort()).toEqual([
      'https://evil.example.net/outside',
      'https://example.com/inside',
    ]);

    const second = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }), allowedHosts: ['example.com'] });
    for (let i = 0; i < 3; i++) {
      // Cached or not, the host rule applies (repeated: a second lookup must not skip the check either).
      const err = await second.jssdk.getSignature('https://evil.example.net/outside').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WechatError);
      expect((err as WechatError).code).toBe('HOST_NOT_ALLOWED');
      expect(await second.jssdk.getSignature('https://example.com/inside')).toEqual(inside);
    }
    await second.close();
  });
});

describe('atomic flush', () => {
  it('writes a temp file in the same folder, fsyncs it, then renames it over the file', async () => {
    fs.writeFileSync(file(), JSON.stringify({ wechatConfig: { appId: APP.appId }, urls: {} }));
    const inodeBefore = fs.statSync(file()).ino;
    const store = fileStore();
    await store.saveSignature('https://example.com/a', signature('https://example.com/a'));

    // Spy on node's fs (not on FileStore) to observe the order of the system calls.
    const events: string[] = [];
    const probe = await fs.promises.open(file(), 'r');
    const handleProto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const realSync = handleProto.sync;
    jest.spyOn(handleProto, 'sync').mockImplementation(function (this: unknown) {
      events.push('fsync');
      return realSync.call(this);
    });
    const realOpen = fs.promises.open;
    jest.spyOn(fs.promises, 'open').mockImplementation(((p: fs.PathLike, flags?: string | number, mode?: fs.Mode) => {
      if (String(p).endsWith('.tmp')) events.push(`open ${String(p)} ${String(flags)} ${Number(mode).toString(8)}`);
      return realOpen(p, flags, mode);
    }) as typeof fs.promises.open);
    const realRename = fs.promises.rename;
    jest.spyOn(fs.promises, 'rename').mockImplementation((from, to) => {
      events.push(`rename ${String(from)} -> ${String(to)}`);
      return realRename(from, to);
    });

    await store.flush();

    expect(events).toHaveLength(3);
    const [open, fsync, rename] = events;
    const tmp = open.split(' ')[1];
    expect(path.dirname(tmp)).toBe(dir);
    expect(open).toBe(`open ${tmp} w 600`);
    expect(fsync).toBe('fsync');
    expect(rename).toBe(`rename ${tmp} -> ${file()}`);
    // Replaced, not rewritten in place: readers holding the old file never see a half-written one.
    expect(fs.statSync(file()).ino).not.toBe(inodeBefore);
    expect(Object.keys(readState().urls)).toEqual(['https://example.com/a']);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
    await store.destroy();
  });

  it('keeps the records that another process wrote to the file (merge, not overwrite)', async () => {
    const mine = fileStore();
    const other = fileStore();
    await other.saveSignature('https://example.com/other', signature('https://example.com/other'));
    await other.updateGlobalToken({
      accessToken: 'T-other',
      accessTokenExpiresAt: Date.now() + 7e6,
      accessTokenFetchedAt: Date.now(),
    });
    await mine.saveSignature('https://example.com/mine', signature('https://example.com/mine'));
    await mine.flush();
    const state = readState();
    expect(Object.keys(state.urls).sort()).toEqual(['https://example.com/mine', 'https://example.com/other']);
    expect(state.globalToken.accessToken).toBe('T-other');
    // ...and the flushing process adopted the newer token it found in the file.
    expect((await mine.getGlobalToken()).accessToken).toBe('T-other');
    await mine.destroy();
    await other.destroy();
  });
});

describe('file mode', () => {
  it('creates the file with mode 0600', async () => {
    const store = fileStore();
    await store.flush();
    expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
    await store.destroy();
  });

  it('replaces a world-readable file with a 0600 one', async () => {
    fs.writeFileSync(file(), JSON.stringify({ wechatConfig: { appId: APP.appId } }), { mode: 0o644 });
    fs.chmodSync(file(), 0o644);
    const store = fileStore();
    await store.updateGlobalToken({ accessToken: 'x' });
    expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
    await store.destroy();
  });
});

describe('no secrets in the file', () => {
  it('never writes the appSecret, even after signing through a Wechat', async () => {
    const store = fileStore({ now: () => sandbox.now() });
    const wx = wechatOn(sandbox, { store, wechatToken: 'server-config-token' });
    const sig = await wx.jssdk.getSignature('https://example.com/secret-check');
    expectVerifies(sig);
    await store.flush();
    const text = fs.readFileSync(file(), 'utf8');
    expect(text).not.toContain(APP.appSecret);
    expect(text).not.toContain('appSecret');
    const state = JSON.parse(text) as StoreState;
    expect(state.wechatConfig).toEqual({ appId: APP.appId });
    // The file is still useful: the token and ticket a restart needs are there.
    expect(typeof state.globalToken.accessToken).toBe('string');
    expect(sandbox.liveTickets(APP.appId)).toContain(state.globalToken.jsapi_ticket);
    await wx.close();
    expect(fs.readFileSync(file(), 'utf8')).not.toContain(APP.appSecret);
  });

  it('drops config fields other than appId that a wechat-jssdk file carried', async () => {
    fs.writeFileSync(
      file(),
      JSON.stringify({
        wechatConfig: { appId: APP.appId, appSecret: APP.appSecret, paymentKey: 'pay-key' },
        globalToken: {},
      }),
    );
    const store = fileStore();
    await store.flush();
    const text = fs.readFileSync(file(), 'utf8');
    expect(text).not.toContain(APP.appSecret);
    expect(text).not.toContain('pay-key');
    await store.destroy();
  });
});

describe('a corrupt file', () => {
  it.each([
    ['half-written JSON', '{"wechatConfig":{"appId":"wxtest0000000001"},"globalToken":{"accessTo'],
    ['an empty file', ''],
    ['JSON that is not an object', '[1,2,3]'],
    ['binary garbage', '\u0000\u0001\u0002garbage'],
  ])('is moved aside with a warning and the store starts empty (%s)', async (_label, content) => {
    fs.writeFileSync(file(), content);
    let store: FileStore | undefined;
    expect(() => (store = fileStore())).not.toThrow();
    expect(store!.store.globalToken.accessToken).toBeUndefined();
    expect(store!.store.urls).toEqual({});

    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('wechat-info.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^wechat-info\.json\.corrupt-\d+$/);
    expect(fs.readFileSync(path.join(dir, aside[0]), 'utf8')).toBe(content);
    expect(fs.existsSync(file())).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file());
    expect(warnings[0]).toContain(aside[0]);

    // The store works and the next flush writes a valid file again.
    await store!.updateGlobalToken({ accessToken: 'fresh' });
    expect(readState().globalToken.accessToken).toBe('fresh');
    await store!.destroy();
  });

  it('lets a Wechat sign normally after setting the corrupt file aside', async () => {
    fs.writeFileSync(file(), '{{{');
    const wx = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    expectVerifies(await wx.jssdk.getSignature('https://example.com/after-corrupt'));
    await wx.close();
    expect(readState().wechatConfig.appId).toBe(APP.appId);
  });
});

describe('a changed appId', () => {
  it('starts clean and never serves or keeps the other app’s records', async () => {
    const first = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    await first.jssdk.getSignature('https://example.com/app1');
    await first.close();
    const app1 = readState();
    expect(app1.wechatConfig.appId).toBe(APP.appId);
    const app1Token = app1.globalToken.accessToken as string;
    expect(app1Token).toBeTruthy();

    const tokenCalls = sandbox.calls(TOKEN);
    const store = new FileStore({ fileStorePath: file(), noInterval: true, now: () => sandbox.now() });
    const second = wechatOn(sandbox, { store }, APP2);
    expect(store.store.globalToken.accessToken).toBeUndefined();
    expect(store.store.urls).toEqual({});
    expect(await second.jssdk.getCachedSignature('https://example.com/app1')).toEqual({});
    const sig = await second.jssdk.getSignature('https://example.com/app2');
    expect(sig.appId).toBe(APP2.appId);
    expectVerifies(sig, APP2.appId);
    expect(sandbox.calls(TOKEN)).toBe(tokenCalls + 1);
    await second.close();

    const text = fs.readFileSync(file(), 'utf8');
    const app2 = JSON.parse(text) as StoreState;
    expect(app2.wechatConfig.appId).toBe(APP2.appId);
    expect(Object.keys(app2.urls)).toEqual(['https://example.com/app2']);
    expect(text).not.toContain(app1Token);
  });
});

describe('flushes never overlap', () => {
  /** Count temp-file writes in flight (open of a .tmp until its rename) through spies on node's fs. */
  function trackWrites() {
    const stats = { active: 0, maxActive: 0, writes: 0 };
    const realOpen = fs.promises.open;
    jest.spyOn(fs.promises, 'open').mockImplementation((async (
      p: fs.PathLike,
      flags?: string | number,
      mode?: fs.Mode,
    ) => {
      const handle = await realOpen(p, flags, mode);
      if (String(p).endsWith('.tmp')) {
        stats.active++;
        stats.writes++;
        stats.maxActive = Math.max(stats.maxActive, stats.active);
      }
      return handle;
    }) as typeof fs.promises.open);
    const realRename = fs.promises.rename;
    jest.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      try {
        return await realRename(from, to);
      } finally {
        if (String(from).endsWith('.tmp')) stats.active--;
      }
    });
    return stats;
  }

  it('coalesces concurrent flush() calls of one store, and the last change always reaches the file', async () => {
    const store = fileStore();
    const stats = trackWrites();
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      await store.saveSignature(`https://example.com/${i}`, signature(`https://example.com/${i}`));
      flushes.push(store.flush());
    }
    await Promise.all(flushes);
    expect(stats.maxActive).toBe(1);
    // One write in progress plus at most one more that picks up everything asked for meanwhile.
    expect(stats.writes).toBeLessThanOrEqual(2);
    expect(Object.keys(readState().urls)).toHaveLength(20);
    await store.destroy();
  });

  it('serialises the flushes of several stores on the same file and loses none of their records', async () => {
    const stores = [fileStore(), fileStore(), fileStore()];
    const stats = trackWrites();
    await Promise.all(
      stores.flatMap((store, s) =>
        Array.from({ length: 5 }, async (_, i) => {
          const url = `https://example.com/s${s}/${i}`;
          await store.saveSignature(url, signature(url));
          await store.flush();
        }),
      ),
    );
    expect(stats.maxActive).toBe(1);
    expect(Object.keys(readState().urls)).toHaveLength(15);
    expect(fs.readdirSync(dir).sort()).toEqual(['wechat-info.json']);
    for (const store of stores) await store.destroy();
  });
});

describe('write failures', () => {
  it('rejects flush() with a StoreError when the path is a directory, and keeps serving from memory', async () => {
    fs.mkdirSync(file());
    const store = fileStore();
    // Unreadable at start is a warning, not a crash.
    expect(warnings.some((w) => w.includes(file()))).toBe(true);
    await store.saveSignature('https://example.com/a', signature('https://example.com/a'));
    const err = await store.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toBeInstanceOf(WechatError);
    expect((err as StoreError).code).toBe('STORE_FAILED');
    expect((err as Error).message).toContain(file());
    expect((await store.getSignature('https://example.com/a'))?.url).toBe('https://example.com/a');
    // The failed write left no temp file behind.
    expect(fs.readdirSync(dir)).toEqual(['wechat-info.json']);
    expect(fs.statSync(file()).isDirectory()).toBe(true);
    // A second flush fails the same way (no stuck "flushing" state).
    await expect(store.flush()).rejects.toBeInstanceOf(StoreError);
    await expect(store.destroy()).rejects.toBeInstanceOf(StoreError);
  });

  it('rejects with a StoreError when the folder cannot be created', async () => {
    fs.writeFileSync(path.join(dir, 'not-a-folder'), 'x');
    const store = new FileStore({ fileStorePath: path.join(dir, 'not-a-folder', 'wechat.json'), noInterval: true });
    store.bindAppId(APP.appId);
    await expect(store.flush()).rejects.toBeInstanceOf(StoreError);
    await expect(store.updateGlobalToken({ accessToken: 't' })).rejects.toBeInstanceOf(StoreError);
    await expect(store.destroy()).rejects.toBeInstanceOf(StoreError);
  });

  it('reports a failed timer flush through the error event instead of crashing', async () => {
    fs.mkdirSync(file());
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const store = new FileStore({ fileStorePath: file(), interval: 5 });
    store.bindAppId(APP.appId);
    try {
      const [err] = (await once(store, 'error')) as [unknown];
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toContain(file());
      // The FLUSH_STORE event of wechat-jssdk takes the same path.
      const viaEvent = once(store, 'error');
      store.emit(Store.StoreEvents.FLUSH_STORE);
      expect((await viaEvent)[0]).toBeInstanceOf(StoreError);
    } finally {
      store.removeAllListeners('error');
      await store.destroy().catch(() => undefined);
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('warns instead of crashing when nobody listens for the error event', async () => {
    fs.mkdirSync(file());
    const store = new FileStore({ fileStorePath: file(), interval: 5 });
    store.bindAppId(APP.appId);
    const warned = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (warnings.some((w) => w.includes('could not write'))) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await warned;
    await store.destroy().catch(() => undefined);
  });

  it('lets a Wechat keep signing (degraded) when its FileStore cannot write', async () => {
    fs.mkdirSync(file());
    const wx = wechatOn(sandbox, { store: fileStore({ now: () => sandbox.now() }) });
    const errors: unknown[] = [];
    wx.on('refreshError', (err) => errors.push(err));
    expectVerifies(await wx.jssdk.getSignature('https://example.com/degraded'));
    expect(errors.some((e) => e instanceof StoreError)).toBe(true);
    await expect(wx.close()).rejects.toBeInstanceOf(WechatError);
  });
});

describe('lock()', () => {
  const settle = async (attempts: Array<Promise<Lease | null>>) =>
    (await Promise.all(attempts)).filter((l): l is Lease => l !== null);

  it('gives the lease to exactly one of 20 concurrent callers, and to one caller again after release', async () => {
    const a = fileStore();
    const b = fileStore();
    const winners = await settle(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lock('refresh:access_token', 30_000)),
    );
    expect(winners).toHaveLength(1);
    // Held: nobody else gets it, from either store.
    expect(await a.lock('refresh:access_token', 30_000)).toBeNull();
    expect(await b.lock('refresh:access_token', 30_000)).toBeNull();
    // Another name is another lease.
    const other = await a.lock('refresh:jsapi_ticket', 30_000);
    expect(other).not.toBeNull();

    await winners[0].release();
    const next = await settle(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lock('refresh:access_token', 30_000)),
    );
    expect(next).toHaveLength(1);
    await next[0].release();
    await other!.release();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
    await a.destroy();
    await b.destroy();
  });

  it('keeps lock files inside the store folder whatever the name', async () => {
    const store = fileStore();
    const lease = await store.lock('../../etc/evil:name', 1000);
    expect(lease).not.toBeNull();
    const locks = fs.readdirSync(dir).filter((f) => f.endsWith('.lock'));
    expect(locks).toHaveLength(1);
    expect(locks[0]).not.toContain('/');
    await lease!.release();
    await store.destroy();
  });

  it('lets exactly one of 20 concurrent callers take over an expired lease (every time)', async () => {
    const store = fileStore();
    const lockFile = `${file()}.refresh_access_token.lock`;
    // Repeated because a racy takeover (read, judge stale, delete) only shows up in some interleavings.
    const winnersPerRound: number[] = [];
    for (let round = 0; round < 30; round++) {
      // A holder on another host whose lease ran out (it crashed or hung).
      fs.writeFileSync(
        lockFile,
        JSON.stringify({ owner: 'gone', expiresAt: Date.now() - 1, pid: 1, host: 'elsewhere' }),
      );
      const winners = await settle(Array.from({ length: 20 }, () => store.lock('refresh:access_token', 30_000)));
      winnersPerRound.push(winners.length);
      const content = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
      expect(content.owner).not.toBe('gone');
      expect(content.pid).toBe(process.pid);
      for (const lease of winners) await lease.release();
      expect(fs.existsSync(lockFile)).toBe(false);
    }
    expect(winnersPerRound).toEqual(Array(30).fill(1));
    expect(fs.readdirSync(dir).filter((f) => f.includes('.lock'))).toEqual([]);
    await store.destroy();
  });

  it('does not take over a lease that has not expired', async () => {
    const store = fileStore();
    const lockFile = `${file()}.refresh_access_token.lock`;
    fs.writeFileSync(
      lockFile,
      JSON.stringify({ owner: 'alive', expiresAt: Date.now() + 60_000, pid: 1, host: 'elsewhere' }),
    );
    expect(await store.lock('refresh:access_token', 30_000)).toBeNull();
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8')).owner).toBe('alive');
    await store.destroy();
  });

  it('takes over at once the lease of a process on this host that no longer exists', async () => {
    const store = fileStore();
    const lockFile = `${file()}.refresh_access_token.lock`;
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    expect(deadPid).toBeGreaterThan(0);
    // Written by this host's own code path: take a real lease, then make it look like the dead process's.
    const probe = await tryFileLock(lockFile, 60_000);
    const mine = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    expect(probe).not.toBeNull();
    fs.writeFileSync(lockFile, JSON.stringify({ ...mine, owner: 'crashed', pid: deadPid }));
    const winners = await settle(Array.from({ length: 20 }, () => store.lock('refresh:access_token', 30_000)));
    expect(winners).toHaveLength(1);
    await winners[0].release();

    // A live process on this host keeps its lease, and the same dead pid on another host means nothing here.
    fs.writeFileSync(lockFile, JSON.stringify({ ...mine, owner: 'live', pid: process.pid }));
    expect(await store.lock('refresh:access_token', 30_000)).toBeNull();
    fs.writeFileSync(
      lockFile,
      JSON.stringify({ ...mine, owner: 'remote', pid: deadPid, host: `not-${os.hostname()}` }),
    );
    expect(await store.lock('refresh:access_token', 30_000)).toBeNull();
    await store.destroy();
  });

  it('judges an unreadable lock file by its age', async () => {
    const lockFile = path.join(dir, 'x.lock');
    fs.writeFileSync(lockFile, '{"owner":');
    // Fresh: probably being written by its holder right now.
    expect(await tryFileLock(lockFile, 1000)).toBeNull();
    const old = new Date(Date.now() - 5_000);
    fs.utimesSync(lockFile, old, old);
    const lease = await tryFileLock(lockFile, 1000);
    expect(lease).not.toBeNull();
    await lease!.release();
  });

  it('never releases a lease that was taken over by someone else', async () => {
    const lockFile = path.join(dir, 'y.lock');
    const first = await tryFileLock(lockFile, 30_000);
    expect(first).not.toBeNull();
    // The first holder hung past its expiry; a second caller takes over.
    const content = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    fs.writeFileSync(lockFile, JSON.stringify({ ...content, expiresAt: Date.now() - 1 }));
    const second = await tryFileLock(lockFile, 30_000);
    expect(second).not.toBeNull();
    // The late release of the first holder must leave the second holder's lock alone.
    await first!.release();
    expect(fs.existsSync(lockFile)).toBe(true);
    expect(await tryFileLock(lockFile, 30_000)).toBeNull();
    await second!.release();
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('creates the store folder for its lock files, and reports a folder it cannot use as a StoreError', async () => {
    const store = new FileStore({ fileStorePath: path.join(dir, 'later', 'wechat.json'), noInterval: true });
    const lease = await store.lock('refresh:access_token', 1000);
    expect(lease).not.toBeNull();
    await lease!.release();
    await store.destroy();

    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
    const broken = new FileStore({ fileStorePath: path.join(dir, 'a-file', 'wechat.json'), noInterval: true });
    await expect(broken.lock('refresh:access_token', 1000)).rejects.toBeInstanceOf(StoreError);
    await broken.destroy();
  });
});
