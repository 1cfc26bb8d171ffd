/**
 * Where the shared test servers are (started by test/setup), and small helpers for the store suites.
 */
import { createClient } from 'redis';

export function redisUrl(): string {
  const url = process.env.WECHAT_TEST_REDIS_URL;
  if (!url) throw new Error('WECHAT_TEST_REDIS_URL is not set: run the tests through jest (test/setup starts Redis)');
  return url;
}

/** A key prefix unique to this run and this suite; the run's keys are deleted at the end (test/setup/redis.ts). */
export function redisPrefix(suite: string): string {
  return `${process.env.WECHAT_TEST_REDIS_PREFIX ?? 'wjt-test:'}${suite}:`;
}

export function mongoUrl(): string {
  const url = process.env.WECHAT_TEST_MONGO_URL;
  if (!url)
    throw new Error(
      'WECHAT_TEST_MONGO_URL is not set: run the tests through jest (test/setup starts the Mongo server)',
    );
  return url;
}

/** A database name unique to this run and this suite (dropped at the end on a real server). */
export function mongoDbName(suite: string): string {
  return `${process.env.WECHAT_TEST_MONGO_DB ?? 'wjt_test'}_${suite}`.slice(0, 60);
}

/** True when MONGO_URL points the run at a real MongoDB (not the in-memory wire server). */
export const realMongo = !!process.env.WECHAT_TEST_MONGO_REAL;

/**
 * Connection options for a test database. The wire server does not implement the streaming heartbeat (`hello` with
 * moreToCome) that the driver switches to after its first heartbeat: the driver would then mark it down within a
 * second. Polling heartbeats, a documented driver option, work with both it and a real server.
 */
export function mongoOptions(dbName?: string): Record<string, unknown> {
  return { ...(dbName === undefined ? {} : { dbName }), ...(realMongo ? {} : { serverMonitoringMode: 'poll' }) };
}

/** A clock the test moves by hand (stores take `now`). */
export class ManualClock {
  time = Date.now();
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Keys under `prefix` on the shared Redis (SCAN, as the tests must never use KEYS on a shared server either). */
export async function redisKeys(prefix: string): Promise<string[]> {
  const client = createClient({ url: redisUrl(), RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [
        string,
        string[],
      ];
      cursor = String(next);
      keys.push(...batch);
    } while (cursor !== '0');
    return keys.sort();
  } finally {
    await client.close();
  }
}

/** Wait until `check` holds (bounded); for state that changes in the background (reconnects, retries). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
