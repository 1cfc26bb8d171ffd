/**
 * How the UMD build of the client is made, shared by tsup.config.ts (writes dist/client.umd.js), the demo (builds
 * it on the fly from source) and the tests. esbuild writes the bundle as an IIFE assigned to UMD_GLOBAL_NAME; the
 * banner and footer turn it into UMD: AMD `define`, CommonJS `module.exports`, or `window.WechatJSSDK` for a plain
 * <script>. Node-only (build time); never imported by the client itself, nor part of any published entry.
 */
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const UMD_GLOBAL_NAME = '__wechatJSSDKBundle';

export const UMD_BANNER =
  '(function (root, factory) {' +
  " if (typeof define === 'function' && define.amd) define([], factory);" +
  " else if (typeof module === 'object' && module.exports) module.exports = factory();" +
  ' else root.WechatJSSDK = factory();' +
  "})(typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : this, function () {";

export const UMD_FOOTER = `return ${UMD_GLOBAL_NAME}.default;\n});`;

/** Old WeChat web views (Android X5, iOS 12) lack ES2020 syntax; ES2018 runs everywhere WeChat still does. */
export const CLIENT_TARGET = 'es2018';

export const UMD_ENTRY = path.join(__dirname, 'umd.ts');

export interface ClientBuild {
  code: string;
  bytes: number;
  gzipBytes: number;
}

/** Bundle the UMD build; `outfile` writes it (with a source map) too. */
export async function buildClientUmd(
  options: { minify?: boolean; outfile?: string; entry?: string } = {},
): Promise<ClientBuild> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [options.entry ?? UMD_ENTRY],
    bundle: true,
    format: 'iife',
    globalName: UMD_GLOBAL_NAME,
    platform: 'browser',
    target: CLIENT_TARGET,
    banner: { js: UMD_BANNER },
    footer: { js: UMD_FOOTER },
    minify: options.minify ?? false,
    sourcemap: options.outfile ? true : false,
    outfile: options.outfile ?? 'client.umd.js',
    write: options.outfile !== undefined,
    legalComments: 'none',
    logLevel: 'silent',
  });
  let code: string;
  if (options.outfile) {
    const { readFileSync } = await import('node:fs');
    code = readFileSync(options.outfile, 'utf8');
  } else {
    code = result.outputFiles!.find((f) => f.path.endsWith('.js'))!.text;
  }
  return { code, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code).length };
}
