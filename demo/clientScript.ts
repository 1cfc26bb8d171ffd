/**
 * Serves the browser client's UMD build. Built from lib/client on first request (so the demo always runs the
 * current source), with the same settings as dist/client.umd.js; dist is the fallback if esbuild is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { buildClientUmd } from '../lib/client/build';

export function clientScript(): RequestHandler {
  let built: Promise<string> | undefined;
  const load = async (): Promise<string> => {
    try {
      return (await buildClientUmd({ minify: false })).code;
    } catch (err) {
      const dist = path.join(__dirname, '..', 'dist', 'client.umd.js');
      if (existsSync(dist)) return readFileSync(dist, 'utf8');
      throw err;
    }
  };
  return (_req, res, next) => {
    built ??= load();
    built.then(
      (code) => res.type('application/javascript').set('Cache-Control', 'no-cache').send(code),
      (err: unknown) => {
        built = undefined;
        next(err);
      },
    );
  };
}
