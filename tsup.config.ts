import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: {
      index: 'lib/index.ts',
      'sandbox/index': 'lib/sandbox/index.ts',
      cli: 'lib/cli.ts',
    },
    format: ['cjs', 'esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: false,
    // Optional store drivers stay external so a FileStore user never loads them.
    external: ['mongoose', 'redis', 'ioredis'],
  },
]);
