/**
 * Stores: what each store of this SDK costs per call, and what a cluster sharing one store asks of WeChat.
 *
 * - Per call, each store in its own child process: a warm getSignature (one cached URL, awaited one after the
 *   other) and an OAuth-token save (saveOAuthAccessToken, awaited one after the other; a round trip for the
 *   shared stores, memory for the memory Store and FileStore, which writes at flush).
 * - Cluster: 4 Node processes sharing one store make 250 concurrent getSignature calls each on a cold cache (the
 *   cluster test, test/store/cluster.test.ts), and the token + ticket requests reaching the sandbox are counted,
 *   next to wechat-jssdk 5.1 with its MongoStore on the same Mongo server in the same setup.
 *
 * Redis is the machine's (database 11, keys under a prefix of this run, deleted at the end) or a throwaway
 * redis-server; MongoDB is the Mongo wire server of the tests (or MONGO_URL): see test/setup.
 */
import path from 'node:path';
import { FileStore } from '../../lib/store/FileStore';
import { KeyValueStore } from '../../lib/store/KeyValueStore';
import { MongoStore } from '../../lib/store/MongoStore';
import { RedisStore } from '../../lib/store/RedisStore';
import { Store } from '../../lib/store/Store';
import { mongoService } from '../../test/setup/mongo';
import { redisService } from '../../test/setup/redis';
import { Cluster } from '../../test/store/cluster';
import type { WorkerConfig } from '../../test/store/cluster-worker';
import { mongoOptions } from '../../test/store/support';
import { BENCH_APP, WORK_DIR, upstreamCounts } from '../env';
import { SDK_LABELS, createOurs } from '../sdks';
import { timedLoop } from './warmSignature';
import { best, formatInt, type BenchCase, type Runs, type VariantRun } from './types';

interface Params extends Record<string, unknown> {
  url: string;
  warmupMs: number;
  roundMs: number;
  rounds: number;
  oauthMs: number;
  workers: number;
  calls: number;
}

interface PerCall {
  warmOpsPerSec: number[];
  oauthOpsPerSec: number[];
}

interface ClusterResult {
  ok: number;
  errors: number;
}

type Result = PerCall | ClusterResult;

const STORES = ['memory', 'file', 'kv', 'redis', 'mongo'] as const;
const STORE_LABELS: Record<string, string> = {
  memory: 'Store (memory)',
  file: 'FileStore',
  kv: 'KeyValueStore (Map)',
  redis: 'RedisStore',
  mongo: 'MongoStore',
  'reference-mongo': `${SDK_LABELS.reference} MongoStore`,
};
const CLUSTERS = ['redis', 'mongo', 'file', 'reference-mongo'] as const;

function storeFor(variant: string, workDir: string): Store {
  const run = `${process.pid}`;
  switch (variant) {
    case 'memory':
      return new Store({ noInterval: true });
    case 'file':
      return new FileStore({ fileStorePath: path.join(workDir, `store-${run}.json`), noInterval: true });
    case 'kv':
      return new KeyValueStore(new Map(), { noInterval: true });
    case 'redis':
      return new RedisStore({
        url: process.env.WECHAT_TEST_REDIS_URL!,
        prefix: `${process.env.WECHAT_TEST_REDIS_PREFIX}bench-${run}:`,
        noInterval: true,
      });
    case 'mongo':
      return new MongoStore({
        dbAddress: process.env.WECHAT_TEST_MONGO_URL!,
        dbOptions: mongoOptions(`${process.env.WECHAT_TEST_MONGO_DB}_b${run}`),
        noInterval: true,
      });
    default:
      throw new Error(`unknown store variant ${variant}`);
  }
}

function clusterConfig(variant: string, sandboxUrl: string, n: number): WorkerConfig {
  const base = { sandboxUrl, appId: BENCH_APP.appId, appSecret: BENCH_APP.appSecret };
  const db = `${process.env.WECHAT_TEST_MONGO_DB}_c${n}`;
  if (variant === 'redis')
    return {
      ...base,
      store: 'redis',
      redisUrl: process.env.WECHAT_TEST_REDIS_URL,
      prefix: `${process.env.WECHAT_TEST_REDIS_PREFIX}cluster-${n}:`,
    };
  if (variant === 'mongo')
    return { ...base, store: 'mongo', mongoUrl: process.env.WECHAT_TEST_MONGO_URL, mongoOptions: mongoOptions(db) };
  if (variant === 'file')
    return { ...base, store: 'file', file: path.join(WORK_DIR, 'stores', `cluster-${process.pid}-${n}.json`) };
  return { ...base, store: 'reference-mongo', mongoUrl: process.env.WECHAT_TEST_MONGO_URL, dbName: db };
}

const perCall = (runs: Runs<Result>, variant: string) => (runs[variant] ?? []).map((r) => r.result as PerCall);
const clusterRun = (runs: Runs<Result>, variant: string) =>
  runs[`cluster:${variant}`]?.[0] as VariantRun<ClusterResult> | undefined;

export const stores: BenchCase<Result, Params> = {
  id: 'stores',
  title: 'Stores: per-call cost, and upstream requests of a 4-process cluster',
  variants: [...STORES],
  params: {
    url: 'https://example.com/stores/page?id=7',
    warmupMs: 300,
    roundMs: 1000,
    rounds: 3,
    oauthMs: 1000,
    workers: 4,
    calls: 250,
  },
  quickParams: { warmupMs: 100, roundMs: 300, rounds: 1, oauthMs: 300 },
  repeats: 1,

  async measure({ variant, sandboxUrl, app, params, workDir }) {
    const store = storeFor(variant, workDir);
    const sdk = createOurs({ sandboxUrl, app }, { store });
    const first = await sdk.getSignature(params.url);
    if ((await sdk.getSignature(params.url)).signature !== first.signature)
      throw new Error(`${variant}: not served from the cache`);
    const warm = () => sdk.getSignature(params.url);
    await timedLoop(params.warmupMs, warm);
    const warmOpsPerSec: number[] = [];
    for (let round = 0; round < params.rounds; round++) warmOpsPerSec.push(await timedLoop(params.roundMs, warm));
    let user = 0;
    const record = {
      access_token: 'bench-user-token',
      refresh_token: 'bench-refresh',
      openid: '',
      refreshTokenExpiresAt: Date.now() + 86_400_000,
    };
    const save = () => {
      const openid = `openid-${user++ % 1000}`;
      return store.saveOAuthAccessToken(openid, { ...record, openid });
    };
    await timedLoop(Math.min(params.warmupMs, 200), save);
    const oauthOpsPerSec = [await timedLoop(params.oauthMs, save)];
    await store.clearStore?.();
    await sdk.close();
    return { warmOpsPerSec, oauthOpsPerSec };
  },

  async orchestrate(ctx, params) {
    await redisService.start();
    await mongoService.start();
    const runs: Runs<Result> = {};
    try {
      for (const variant of STORES) {
        const sandbox = await ctx.startSandbox();
        try {
          ctx.log(`  stores: ${STORE_LABELS[variant]}, per call...`);
          const result = await ctx.spawnChild<PerCall>('stores', variant, sandbox, params);
          runs[variant] = [{ variant, result, upstream: upstreamCounts(sandbox), checks: {} }];
        } finally {
          await sandbox.close();
        }
      }
      let n = 0;
      for (const variant of CLUSTERS) {
        const sandbox = await ctx.startSandbox();
        let cluster: Cluster | undefined;
        try {
          ctx.log(`  stores: ${params.workers} processes x ${params.calls} cold calls on ${STORE_LABELS[variant]}...`);
          cluster = await Cluster.start(params.workers, clusterConfig(variant, sandbox.url, n++));
          const answers = await cluster.all<{ ok: number; errors: string[] }>(
            { cmd: 'sign', url: params.url, n: params.calls },
            120_000,
          );
          const result = {
            ok: answers.reduce((sum, a) => sum + a.ok, 0),
            errors: answers.reduce((sum, a) => sum + a.errors.length, 0),
          };
          runs[`cluster:${variant}`] = [{ variant, result, upstream: upstreamCounts(sandbox), checks: {} }];
        } finally {
          await cluster?.close();
          await sandbox.close();
        }
      }
    } finally {
      await redisService.stop().catch((err) => ctx.log(`  note: Redis cleanup failed: ${(err as Error).message}`));
      await mongoService.stop().catch((err) => ctx.log(`  note: Mongo cleanup failed: ${(err as Error).message}`));
    }
    return runs;
  },

  report(runs, params) {
    const us = (opsPerSec: number) =>
      Number.isFinite(opsPerSec) && opsPerSec > 0 ? (1e6 / opsPerSec).toFixed(2) : 'n/a';
    const clusterCell = (variant: string) => {
      const run = clusterRun(runs, variant);
      if (!run) return 'n/a';
      const failed = run.result.errors ? `, ${formatInt(run.result.errors)} failed` : '';
      return `${formatInt(run.upstream.token)} + ${formatInt(run.upstream.ticket)}${failed}`;
    };
    const rows = STORES.map((variant) => {
      const results = perCall(runs, variant);
      const warm = best(results.flatMap((r) => r.warmOpsPerSec));
      const oauth = best(results.flatMap((r) => r.oauthOpsPerSec));
      return [
        STORE_LABELS[variant],
        us(warm),
        formatInt(warm),
        us(oauth),
        CLUSTERS.includes(variant as never) ? clusterCell(variant) : '—',
      ];
    });
    rows.push([STORE_LABELS['reference-mongo'], '—', '—', '—', clusterCell('reference-mongo')]);
    const targets = (['redis', 'mongo', 'file'] as const).map((variant) => {
      const run = clusterRun(runs, variant);
      const pass = !!run && run.upstream.token === 1 && run.upstream.ticket === 1 && run.result.errors === 0;
      return {
        name: `cluster on ${STORE_LABELS[variant]} (${params.workers} x ${params.calls} cold calls)`,
        target: '1 token + 1 ticket request',
        actual: `${clusterCell(variant)} (${STORE_LABELS['reference-mongo']}: ${clusterCell('reference-mongo')})`,
        pass,
      };
    });
    return {
      table: {
        head: [
          'Store',
          'warm getSignature µs/call',
          'ops/s',
          'OAuth save µs/call',
          `cluster ${params.workers}x${params.calls} cold: token + ticket requests`,
        ],
        rows,
      },
      targets,
      notes: [
        'Warm getSignature is a memory hit with every store (shared stores read the token and ticket through, not the signature cache).',
        'An OAuth save is one round trip for RedisStore and MongoStore (written through), a get + set of the one value for KeyValueStore, and memory for Store and FileStore (FileStore writes at flush).',
        `MongoDB here is ${process.env.MONGO_URL ? 'the server at MONGO_URL' : 'the in-memory Mongo wire server of the tests (CongoDB), slower than a real mongod'}.`,
      ],
    };
  },
};
