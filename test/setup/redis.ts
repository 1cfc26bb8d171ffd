/**
 * Redis for the test run. Uses the machine's redis-server on 127.0.0.1:6379 when one answers (in database
 * REDIS_TEST_DB, every key under a prefix unique to this run, and at the end only those keys are deleted; nothing is
 * ever flushed), or starts a throwaway `redis-server --save '' --appendonly no` on a free port otherwise.
 * REDIS_URL points the run at another server (same rules).
 *
 * Tests read WECHAT_TEST_REDIS_URL and WECHAT_TEST_REDIS_PREFIX (see test/store/support.ts).
 */
import { RedisServer, redisInline } from './processes';

/** A database index other projects on a shared machine are unlikely to use. */
export const REDIS_TEST_DB = 11;
const MACHINE_PORT = 6379;

let started: RedisServer | undefined;

export const redisService = {
  async start(): Promise<void> {
    const prefix = `wjt-test:${process.pid}-${Date.now().toString(36)}:`;
    let url = process.env.REDIS_URL;
    if (!url) {
      const machine = (await redisInline(MACHINE_PORT, `SELECT ${REDIS_TEST_DB}`)) === '+OK';
      if (machine) url = `redis://127.0.0.1:${MACHINE_PORT}/${REDIS_TEST_DB}`;
      else {
        started = await RedisServer.start();
        url = `${started.url}/0`;
      }
    }
    process.env.WECHAT_TEST_REDIS_URL = url;
    process.env.WECHAT_TEST_REDIS_PREFIX = prefix;
  },

  async stop(): Promise<void> {
    const url = process.env.WECHAT_TEST_REDIS_URL;
    const prefix = process.env.WECHAT_TEST_REDIS_PREFIX;
    if (started) {
      await started.stop();
      started = undefined;
      return;
    }
    if (!url || !prefix) return;
    // Only our keys, found with SCAN (never KEYS, never FLUSHDB on a database we did not create).
    const { createClient } = await import('redis');
    const client = createClient({ url, RESP: 2 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [
          string,
          string[],
        ];
        cursor = String(next);
        if (keys.length) await client.sendCommand(['DEL', ...keys]);
      } while (cursor !== '0');
    } finally {
      await client.close();
    }
  },
};
