/**
 * FileStore with real processes: children killed with SIGKILL in the middle of flushes, and several workers on one
 * host (PM2 / cluster) sharing one file and one sandbox. Children run the TypeScript sources through tsx.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { FileStore } from '../../lib/store/FileStore';
import type { StoreState } from '../../lib/store/types';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import type { Sandbox } from '../../lib/sandbox';
import { APP, sandboxWith, tempDir } from '../helpers';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(__dirname, 'fixtures');

let sandbox: Sandbox;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => {
  ({ dir, cleanup } = tempDir('filestore-crash-'));
});

afterEach(() => cleanup());

const storeFile = () => path.join(dir, 'wechat-info.json');

interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the next stdout line (in order). */
  nextLine(): Promise<string>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnFixture(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, DEBUG: '' },
  });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  let errText = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (errText += chunk));
  const exited = once(proc, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    proc,
    nextLine: () =>
      lines.length
        ? Promise.resolve(lines.shift()!)
        : Promise.race([
            new Promise<string>((resolve) => waiting.push(resolve)),
            exited.then(({ code, signal }) => {
              throw new Error(`${script} exited (${code ?? signal}) before printing: ${errText}`);
            }),
          ]),
    stderr: () => errText,
    exited,
  };
}

/** Bound a wait that should end on its own, to fail with a message instead of hanging the suite. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms}ms`)), ms);
    }),
  ]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a process killed with SIGKILL during flushes', () => {
  it('leaves a complete, readable file every time (50 kills)', async () => {
    const RUNS = 50;
    const unreadable: string[] = [];
    let killedMidWrite = 0;
    for (let run = 0; run < RUNS; run++) {
      const child = spawnFixture('flushLoop.ts', [storeFile(), APP.appId, String(run)]);
      expect(await within(child.nextLine(), 60_000, 'flushLoop ready')).toBe('ready');
      // A random moment inside the write loop, a few rounds long (not a timing assertion: any moment must be safe).
      await sleep(Math.random() * 150);
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');

      // A temp file left behind means the kill landed inside a write.
      if (fs.readdirSync(dir).some((name) => name.endsWith('.tmp'))) killedMidWrite++;
      let state: StoreState;
      try {
        state = JSON.parse(fs.readFileSync(storeFile(), 'utf8')) as StoreState;
      } catch (err) {
        unreadable.push(`run ${run}: ${(err as Error).message}`);
        continue;
      }
      // One consistent snapshot: all 2000 records from the same round, and the token written with them.
      const stamps = new Set(Object.values(state.urls).map((sig) => String(sig.jsapi_ticket)));
      if (state.wechatConfig.appId !== APP.appId || Object.keys(state.urls).length !== 2000 || stamps.size !== 1) {
        unreadable.push(`run ${run}: incomplete state (${Object.keys(state.urls).length} urls, ${stamps.size} rounds)`);
      } else if (!String(state.globalToken.accessToken).startsWith('token-')) {
        unreadable.push(`run ${run}: no token`);
      }
    }
    expect(unreadable).toEqual([]);
    // The test is only meaningful if many kills hit a write in progress.
    expect(killedMidWrite).toBeGreaterThanOrEqual(RUNS / 5);

    // Nothing was set aside as corrupt, and a new store loads the last file without a warning.
    expect(fs.readdirSync(dir).filter((name) => name.includes('.corrupt-'))).toEqual([]);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const store = new FileStore({ fileStorePath: storeFile(), noInterval: true });
    store.bindAppId(APP.appId);
    expect(Object.keys(store.store.urls)).toHaveLength(2000);
    expect(warn).not.toHaveBeenCalled();
    // Its first flush clears the temp files the killed writers left.
    await store.flush();
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    await store.destroy();
    warn.mockRestore();
  });
});

describe('several processes on one host sharing the file', () => {
  const WORKERS = 4;
  const paths = { stable: '/cgi-bin/stable_token', classic: '/cgi-bin/token' } as const;

  it.each(['stable', 'classic'] as const)(
    'make exactly one token and one ticket request in total, from cold caches (%s token)',
    async (tokenSource) => {
      const children = Array.from({ length: WORKERS }, () =>
        spawnFixture('clusterSigner.ts', [storeFile(), sandbox.url, APP.appId, APP.appSecret, tokenSource]),
      );
      try {
        for (const child of children) expect(await within(child.nextLine(), 60_000, 'worker ready')).toBe('ready');
        sandbox.resetCalls();
        for (const child of children) child.proc.stdin.end('go\n');
        const outputs = await Promise.all(
          children.map(async (child) => JSON.parse(await within(child.nextLine(), 60_000, 'worker result'))),
        );
        // close() must leave nothing running: each worker exits by itself.
        const exits = await within(Promise.all(children.map((c) => c.exited)), 30_000, 'workers exit after close()');
        expect(exits.map((e) => e.code)).toEqual(Array(WORKERS).fill(0));

        expect(sandbox.calls(paths[tokenSource])).toBe(1);
        expect(sandbox.calls('/cgi-bin/ticket/getticket')).toBe(1);
        expect(sandbox.calls(tokenSource === 'stable' ? paths.classic : paths.stable)).toBe(0);
        // Every worker uses the same token, and every signature verifies with the one ticket fetched.
        expect(new Set(outputs.map((o) => o.token)).size).toBe(1);
        const signatures = outputs.flatMap((o) => o.signatures) as Array<{
          signature: string;
          nonceStr: string;
          timestamp: string;
          url: string;
        }>;
        expect(signatures).toHaveLength(WORKERS * 10);
        const ticketsUsed = new Set(
          signatures.map((sig) =>
            sandbox
              .liveTickets(APP.appId)
              .find(
                (ticket) =>
                  signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: sig.url }) ===
                  sig.signature,
              ),
          ),
        );
        expect(ticketsUsed.size).toBe(1);
        expect([...ticketsUsed][0]).toBeDefined();

        // The shared file is valid and holds what every worker signed, plus the token and the ticket.
        const state = JSON.parse(fs.readFileSync(storeFile(), 'utf8')) as StoreState;
        expect(state.wechatConfig).toEqual({ appId: APP.appId });
        expect(Object.keys(state.urls)).toHaveLength(WORKERS * 10);
        expect(state.globalToken.jsapi_ticket).toBe([...ticketsUsed][0]);
        expect(typeof state.globalToken.accessToken).toBe('string');
        expect(fs.readFileSync(storeFile(), 'utf8')).not.toContain(APP.appSecret);
        expect(fs.readdirSync(dir).sort()).toEqual(['wechat-info.json']);
      } finally {
        for (const child of children) if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
      }
    },
  );
});
