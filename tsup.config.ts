import { defineConfig } from 'tsup';
import { buildClientUmd } from './lib/client/build';

export default defineConfig([
  {
    entry: {
      index: 'lib/index.ts',
      'sandbox/index': 'lib/sandbox/index.ts',
      cli: 'lib/cli.ts',
      // Server helpers: separate entries so the core never loads express/koa code.
      express: 'lib/server/express.ts',
      koa: 'lib/server/koa.ts',
      // Browser client as an ES module (dist/client.mjs) with its types; the UMD build is made in onSuccess.
      client: 'lib/client/index.ts',
    },
    format: ['cjs', 'esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: false,
    // Optional store drivers stay external so a FileStore user never loads them.
    external: ['mongoose', 'redis', 'ioredis', 'express', 'koa'],
    // The UMD client is built after this config (not as a parallel config, whose output `clean` could race with).
    async onSuccess() {
      const umd = await buildClientUmd({ entry: 'lib/client/umd.ts', outfile: 'dist/client.umd.js', minify: true });
      process.stdout.write(`UMD dist/client.umd.js ${umd.bytes} B, ${umd.gzipBytes} B gzipped\n`);
    },
  },
]);
