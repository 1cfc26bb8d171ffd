/**
 * N instances behave like one: 4 Node processes sharing one store (Redis, MongoDB, or a FileStore on one host),
 * each making 250 concurrent getSignature calls on a cold cache, ask WeChat (the sandbox) for exactly one
 * access_token and one jsapi_ticket in total. After the sandbox kills the token (rotateToken), the cluster
 * recovers with exactly one refetch and no error reaches a caller.
 */
import path from 'node:path';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox } from '../../lib/sandbox';
import { APP, sandboxWith, tempDir } from '../helpers';
import { Cluster } from './cluster';
import type { WorkerConfig } from './cluster-worker';
import { mongoDbName, mongoOptions, mongoUrl, redisPrefix, redisUrl } from './support';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';
const WORKERS = 4;
const CALLS = 250;

const temp = tempDir('wechat-cluster-');
afterAll(() => temp.cleanup());

const stores: Array<[string, () => Partial<WorkerConfig>]> = [
  ['Redis', () => ({ store: 'redis', redisUrl: redisUrl(), prefix: redisPrefix('cluster') })],
  ['MongoDB', () => ({ store: 'mongo', mongoUrl: mongoUrl(), mongoOptions: mongoOptions(mongoDbName('cluster')) })],
  ['a FileStore on one host', () => ({ store: 'file', file: path.join(temp.dir, 'wechat-info.json') })],
];

describe.each(stores)('4 processes sharing %s', (_name, storeConfig) => {
  let sandbox: Sandbox;
  let cluster: Cluster;

  beforeAll(async () => {
    sandbox = await sandboxWith(APP);
    cluster = await Cluster.start(WORKERS, {
      sandboxUrl: sandbox.url,
      appId: APP.appId,
      appSecret: APP.appSecret,
      ...storeConfig(),
    } as WorkerConfig);
  }, 60_000);

  afterAll(async () => {
    const closed = await cluster?.close();
    await sandbox?.close();
    // Nothing was left unhandled in any worker, and the store never failed under them.
    expect(closed?.flatMap((c) => c.unhandled)).toEqual([]);
    expect(closed?.flatMap((c) => c.refreshErrors)).toEqual([]);
  }, 60_000);

  test(`${WORKERS} x ${CALLS} concurrent cold getSignature calls: 1 token and 1 ticket request in total`, async () => {
    const url = 'https://app.example.com/cluster?page=1';
    const answers = await cluster.all<{
      ok: number;
      errors: string[];
      signatures: Array<{ nonceStr: string; timestamp: string; signature: string }>;
    }>({
      cmd: 'sign',
      url,
      n: CALLS,
    });
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    expect(answers.map((a) => a.ok)).toEqual(Array(WORKERS).fill(CALLS));
    expect(sandbox.calls(TOKEN)).toBe(1);
    expect(sandbox.calls(TICKET)).toBe(1);
    const [ticket] = sandbox.liveTickets(APP.appId);
    const invalid = answers
      .flatMap((a) => a.signatures)
      .filter(
        (sig) => signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }) !== sig.signature,
      );
    expect(invalid).toEqual([]);
  }, 60_000);

  test('after rotateToken the cluster recovers with exactly one refetch and no errors to callers', async () => {
    const tokens = sandbox.calls(TOKEN);
    sandbox.rotateToken(APP.appId);
    const answers = await cluster.all<{ ok: number; errors: string[] }>({ cmd: 'call', n: CALLS });
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    expect(answers.map((a) => a.ok)).toEqual(Array(WORKERS).fill(CALLS));
    expect(sandbox.calls(TOKEN) - tokens).toBe(1);
    // And the cluster keeps using that one token.
    const again = await cluster.all<{ ok: number; errors: string[] }>({ cmd: 'call', n: 10 });
    expect(again.flatMap((a) => a.errors)).toEqual([]);
    expect(sandbox.calls(TOKEN) - tokens).toBe(1);
  }, 60_000);
});
