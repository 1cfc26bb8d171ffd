/**
 * A FileStore (or memory Store) user never loads a database driver: the package entry does not import mongoose,
 * mongodb, redis or ioredis; a store loads its driver only when it opens a connection. Checked in a fresh Node
 * process (jest has its own module registry), through Node's own require.cache.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

const DRIVERS = /node_modules[\\/](mongoose|mongodb|redis|@redis[\\/]client|ioredis)[\\/]/;

async function loadedDrivers(body: string): Promise<string[]> {
  const script = `(async () => {
    ${body}
    const drivers = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = ${DRIVERS}.exec(file);
      if (match) drivers.add(match[1]);
    }
    process.stdout.write(JSON.stringify([...drivers].sort()));
  })().catch((err) => { console.error(err); process.exit(1); });`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, timeout: 60_000 });
  return JSON.parse(stdout) as string[];
}

test('require("lib") and a FileStore load no database driver', async () => {
  const drivers = await loadedDrivers(`
    const lib = require('./lib');
    const os = require('node:os');
    const store = new lib.FileStore({ fileStorePath: require('node:path').join(os.tmpdir(), 'wjt-entry-' + process.pid + '.json'), noInterval: true });
    new lib.KeyValueStore(new Map());
    if (typeof lib.MongoStore !== 'function' || typeof lib.RedisStore !== 'function') throw new Error('stores not exported');
    await store.destroy();
  `);
  expect(drivers).toEqual([]);
}, 60_000);

test('the check sees a driver once a store opens a connection (so the test above can fail)', async () => {
  const drivers = await loadedDrivers(`
    const lib = require('./lib');
    const store = new lib.RedisStore({ url: 'redis://127.0.0.1:1', driver: 'ioredis', connectTimeoutMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await store.destroy();
  `);
  expect(drivers).toContain('ioredis');
}, 60_000);
