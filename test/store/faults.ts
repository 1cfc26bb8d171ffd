/**
 * The fault scenarios shared by the Redis and Mongo fault tests: the store's server is down when the app starts,
 * or goes down while it runs. Signing must keep working from memory and WeChat (degraded mode, with a warning),
 * nothing may crash or be left unhandled, and once the server is back every write made meanwhile must reach it
 * without any further call from the app.
 */
import { StoreError } from '../../lib/errors';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import type { Store } from '../../lib/store/Store';
import type { Wechat } from '../../lib/Wechat';
import { HOUR, sandboxWith, wechatOn } from '../helpers';
import { eventually } from './support';

export interface FaultServer {
  readonly url: string;
  start(): Promise<unknown>;
  stop(crash?: boolean): Promise<void>;
}

export interface FaultSetup {
  /** A server of this run only, not started yet. */
  server(): Promise<FaultServer>;
  /** A store on `url`, with short timeouts, bound by the caller. */
  store(url: string, options: { now: () => number; suite: string }): Store;
}

/** Short store timeouts, so that a test of an outage does not wait for the production defaults. */
export const FAST_TIMEOUTS = { connectTimeoutMs: 500, commandTimeoutMs: 500 };

export function faultSuite(name: string, app: SandboxApp, setup: FaultSetup): void {
  describe(`${name}: the store's server fails`, () => {
    let sandbox: Sandbox;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    // Observed, not replaced: warnings still go out (jest's process object does not relay 'warning' events).
    let warn: jest.SpiedFunction<typeof process.emitWarning>;
    const warnings = () => warn.mock.calls.map(([warning]) => String((warning as Error)?.message ?? warning));
    const cleanups: Array<() => Promise<unknown>> = [];
    let suites = 0;

    beforeAll(async () => {
      sandbox = await sandboxWith(app);
      process.on('unhandledRejection', onUnhandled);
      warn = jest.spyOn(process, 'emitWarning');
    });

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      expect(unhandled).toEqual([]);
    });

    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      warn.mockRestore();
      await sandbox.close();
    });

    const now = () => sandbox.now();

    function valid(sig: { nonceStr: string; timestamp: string; signature: string }, url: string) {
      return sandbox
        .liveTickets(app.appId)
        .some(
          (ticket) =>
            signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }) === sig.signature,
        );
    }

    async function start() {
      const server = await setup.server();
      cleanups.push(() => server.stop());
      const suite = `faults${suites++}`;
      const open = (): Store => {
        const store = setup.store(server.url, { now, suite });
        cleanups.push(() => store.destroy());
        return store;
      };
      const wechat = (store: Store): { wx: Wechat; errors: unknown[] } => {
        const wx = wechatOn(sandbox, { store }, app);
        cleanups.push(() => wx.close());
        const errors: unknown[] = [];
        wx.on('refreshError', (err) => errors.push(err));
        return { wx, errors };
      };
      /** What the server holds, read by a fresh store (its own memory is empty). */
      const backend = async (url: string) => {
        const probe = open();
        probe.bindAppId(app.appId);
        probe.on('error', () => undefined);
        try {
          const global = await probe.getGlobalToken();
          return {
            token: global.accessToken,
            ticket: global.jsapi_ticket,
            oauth: (await probe.getOAuthAccessToken('openid-fault'))?.access_token,
            signature: (await probe.getSignature(url))?.signature,
          };
        } finally {
          await probe.destroy();
        }
      };
      type Held = Awaited<ReturnType<typeof backend>>;
      /** Wait (bounded) until the server holds `expected`, with no call from the app: the kept writes landed. */
      const landed = (url: string, expected: Held, what: string) =>
        eventually(
          async () => {
            const held = await backend(url);
            return (Object.keys(expected) as Array<keyof Held>).every((field) => held[field] === expected[field]);
          },
          20_000,
          what,
        );
      /** Recovered: signing a new URL is valid and causes no new store error. */
      const recovered = async (wx: Wechat, errors: unknown[], url: string) => {
        const errorsBefore = errors.length;
        expect(valid(await wx.jssdk.getSignature(url), url)).toBe(true);
        expect(errors.length).toBe(errorsBefore);
      };
      return { server, open, wechat, landed, recovered };
    }

    test('down at start: signing works from WeChat with a warning, and every write lands once it is up', async () => {
      const { server, open, wechat, landed, recovered } = await start();
      const store = open();
      // No `error` listener on the store: its failures become process warnings (and refreshError events).
      const { wx, errors } = wechat(store);
      const warningsBefore = warnings().length;

      const url = 'https://app.example.com/down-at-start';
      const sig = await wx.jssdk.getSignature(url);
      expect(valid(sig, url)).toBe(true);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((err) => err instanceof StoreError)).toBe(true);
      await store.saveOAuthAccessToken('openid-fault', {
        access_token: 'UAT-fault',
        openid: 'openid-fault',
        refreshTokenExpiresAt: now() + 24 * HOUR,
      });
      expect(
        warnings()
          .slice(warningsBefore)
          .some((w) => /RedisStore|MongoStore/.test(w)),
      ).toBe(true);

      await server.start();
      // Nothing else is called: the store writes what it kept as soon as the server answers.
      const token = wx.credentials.accessToken.record!.value;
      const ticket = wx.credentials.jsapiTicket.record!.value;
      await landed(
        url,
        { token, ticket, oauth: 'UAT-fault', signature: sig.signature },
        'the kept writes to reach the server',
      );
      await recovered(wx, errors, `${url}?again`);
    }, 60_000);

    test('down mid-run: signing goes on through an expiry, and the writes made meanwhile land when it is back', async () => {
      const { server, open, wechat, landed, recovered } = await start();
      await server.start();
      const store = open();
      store.on('error', () => undefined);
      const { wx, errors } = wechat(store);
      const warm = 'https://app.example.com/warm';
      const first = await wx.jssdk.getSignature(warm);
      expect(errors).toEqual([]);

      await server.stop();
      expect((await wx.jssdk.getSignature(warm)).signature).toBe(first.signature);
      // Token and ticket expire during the outage: new ones come from WeChat, signing does not stop.
      sandbox.advance(2 * HOUR);
      const url = 'https://app.example.com/during-outage';
      const sig = await wx.jssdk.getSignature(url);
      expect(valid(sig, url)).toBe(true);
      expect(errors.length).toBeGreaterThan(0);
      await store.saveOAuthAccessToken('openid-fault', {
        access_token: 'UAT-outage',
        openid: 'openid-fault',
        refreshTokenExpiresAt: now() + 24 * HOUR,
      });
      const token = wx.credentials.accessToken.record!.value;
      const ticket = wx.credentials.jsapiTicket.record!.value;

      await server.start();
      await landed(
        url,
        { token, ticket, oauth: 'UAT-outage', signature: sig.signature },
        'the writes made during the outage to reach the server',
      );
      await recovered(wx, errors, `${url}?after`);
    }, 60_000);

    test('killed mid-run (no clean shutdown): calls fail fast, nothing hangs or crashes', async () => {
      const { server, open, wechat } = await start();
      await server.start();
      const store = open();
      store.on('error', () => undefined);
      const { wx } = wechat(store);
      await wx.jssdk.getSignature('https://app.example.com/k');
      await server.stop(true);
      sandbox.advance(2 * HOUR);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => wx.jssdk.getSignature(`https://app.example.com/k${i}`)),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      await expect(store.getGlobalToken()).rejects.toThrow(StoreError);
    }, 60_000);
  });
}
