/**
 * A MongoDB wire-protocol server for the tests (CongoDB, from @push.rocks/smartmongo 2.2.0): in memory, no mongod
 * binary. Run as a child process so a test can stop and restart it like a real server:
 *
 *   node test/setup/mongo-server.mjs [port] [persistFile]
 *
 * Prints `READY <port>` once it listens. SIGTERM stops it cleanly (writing persistFile when given, so a restart
 * keeps the data, as a real mongod would); SIGKILL is a crash.
 */
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js';

const port = Number(process.argv[2] ?? 0);
const persistPath = process.argv[3] || undefined;
// persistIntervalMs is required by the server when persisting; a stop() writes the file anyway.
const server = new CongoServer({ port, host: '127.0.0.1', persistPath, persistIntervalMs: 3_600_000 });
await server.start();
const address = server.server?.address();
process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : port}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch((err) => process.stderr.write(`stop failed: ${err?.message ?? err}\n`));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent died: do not linger.
process.on('disconnect', stop);
