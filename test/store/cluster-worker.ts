/**
 * One process of the cluster tests (and of the cluster benchmark): a Wechat on the shared store, driven by its
 * parent over IPC. Run with `node --import tsx test/store/cluster-worker.ts`.
 *
 *   { cmd: 'init', config }           -> { ready: true }
 *   { cmd: 'sign', url, n }           -> n concurrent getSignature(url): { ok, errors, signatures }
 *   { cmd: 'call', n }                -> n concurrent API calls with the access_token (replayed once on 40001)
 *   { cmd: 'close' }                  -> { closed: true, refreshErrors, unhandled }, then exits
 */
import { withCredential } from '../../lib/credentials/Credential';
import { isTokenInvalidError } from '../../lib/errors';
import { FileStore } from '../../lib/store/FileStore';
import { MongoStore } from '../../lib/store/MongoStore';
import { RedisStore } from '../../lib/store/RedisStore';
import type { Store } from '../../lib/store/Store';
import { Wechat } from '../../lib/Wechat';

export interface WorkerConfig {
  /** `reference-mongo`: wechat-jssdk 5.1 with its MongoStore, for the benchmark's comparison. */
  store: 'redis' | 'mongo' | 'file' | 'reference-mongo';
  sandboxUrl: string;
  appId: string;
  appSecret: string;
  redisUrl?: string;
  prefix?: string;
  mongoUrl?: string;
  dbName?: string;
  /** mongoose options (the test server needs polling heartbeats, see test/store/support.ts). */
  mongoOptions?: Record<string, unknown>;
  file?: string;
}

/** The one thing the cluster asks of an SDK. */
interface Signer {
  getSignature(url: string): Promise<unknown>;
  close(): Promise<void>;
}

let wx: Wechat | undefined;
let signer: Signer | undefined;
const unhandled: string[] = [];
const refreshErrors: string[] = [];

process.on('unhandledRejection', (reason) => unhandled.push(String((reason as Error)?.message ?? reason)));

function storeFor(config: WorkerConfig): Store {
  if (config.store === 'redis')
    return new RedisStore({ url: config.redisUrl!, prefix: config.prefix, noInterval: true });
  if (config.store === 'mongo')
    return new MongoStore({
      dbAddress: config.mongoUrl!,
      dbOptions: { dbName: config.dbName, ...config.mongoOptions },
      noInterval: true,
    });
  return new FileStore({ fileStorePath: config.file!, noInterval: true });
}

/** wechat-jssdk 5.1 with its MongoStore, configured as its README shows, on the same sandbox. */
async function reference(config: WorkerConfig): Promise<Signer> {
  const ref = require('wechat-jssdk');
  const address = new URL(config.mongoUrl!);
  address.pathname = `/${config.dbName}`;
  const store = new ref.MongoStore({ dbAddress: address.toString() });
  // Its store must be connected before use (wechat-jssdk issue #44): wait for it, which favours it if anything.
  await new Promise((resolve) => store.once('initialized', resolve));
  const refWx = new ref.Wechat({
    appId: config.appId,
    appSecret: config.appSecret,
    accessTokenUrl: `${config.sandboxUrl}/cgi-bin/token`,
    ticketUrl: `${config.sandboxUrl}/cgi-bin/ticket/getticket`,
    apiUrl: config.sandboxUrl,
    store,
  });
  return { getSignature: (url) => refWx.jssdk.getSignature(url), close: async () => store.destroy() };
}

async function settle<T>(n: number, call: () => Promise<T>) {
  const results = await Promise.allSettled(Array.from({ length: n }, call));
  const ok = results
    .filter((r): r is PromiseFulfilledResult<Awaited<T>> => r.status === 'fulfilled')
    .map((r) => r.value);
  const errors = results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => String(r.reason?.message ?? r.reason));
  return { ok, errors };
}

process.on('message', async (message: { cmd: string; config?: WorkerConfig; url?: string; n?: number }) => {
  const reply = (body: object) => process.send!(body);
  try {
    if (message.cmd === 'init') {
      const config = message.config!;
      if (config.store === 'reference-mongo') signer = await reference(config);
      else {
        const ours = new Wechat({
          appId: config.appId,
          appSecret: config.appSecret,
          apiUrl: config.sandboxUrl,
          store: storeFor(config),
        });
        ours.on('refreshError', (err) => refreshErrors.push(String((err as Error)?.message ?? err)));
        wx = ours;
        signer = { getSignature: (url) => ours.jssdk.getSignature(url), close: () => ours.close() };
      }
      reply({ ready: true });
    } else if (message.cmd === 'sign') {
      const { ok, errors } = await settle(message.n!, () => signer!.getSignature(message.url!));
      reply({ ok: ok.length, errors, signatures: ok });
    } else if (message.cmd === 'call') {
      const call = () =>
        withCredential(
          wx!.credentials.accessToken,
          (token) => wx!.http.get('/cgi-bin/ticket/getticket', { access_token: token, type: 'wx_card' }),
          isTokenInvalidError,
        );
      const { ok, errors } = await settle(message.n!, call);
      reply({ ok: ok.length, errors });
    } else if (message.cmd === 'close') {
      await signer?.close();
      // wechat-jssdk leaves timers behind: leave explicitly once the answer is out.
      process.send!({ closed: true, refreshErrors, unhandled }, () => process.exit(0));
    }
  } catch (err) {
    reply({ failed: String((err as Error)?.message ?? err) });
  }
});
