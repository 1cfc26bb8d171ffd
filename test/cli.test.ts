/**
 * The built command line (`bin/wechat-jssdk-ts.js` → `dist/cli.js`), run as a child process the way a user runs
 * `npx wechat-jssdk-ts sandbox --port N`: it prints its URL, serves WeChat's API, stops on SIGTERM, and rejects
 * bad arguments with exit code 2 and a usage line.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'wechat-jssdk-ts.js');
const DIST_CLI = path.join(ROOT, 'dist', 'cli.js');
const START_TIMEOUT_MS = 15_000;

const children = new Set<ChildProcess>();

/** Newest modification time of the CLI's sources (lib/cli.ts and the sandbox it starts). */
function newestSource(): number {
  const files = [path.join(ROOT, 'lib', 'cli.ts')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  walk(path.join(ROOT, 'lib', 'sandbox'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

beforeAll(() => {
  // A fresh clone builds dist/ in `npm install` (prepare). When it is missing, build it all; when dist/cli.js is
  // older than its sources (editing the sandbox), rebuild only that file (JS only, a second instead of a full
  // build with declarations) so this suite tests the current code.
  if (!existsSync(DIST_CLI)) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe', timeout: 240_000 });
  } else if (statSync(DIST_CLI).mtimeMs < newestSource()) {
    execFileSync(
      'npx',
      ['tsup', '--no-config', 'lib/cli.ts', '--format', 'cjs', '--target', 'node20', '--out-dir', 'dist'],
      { cwd: ROOT, stdio: 'pipe', timeout: 120_000 },
    );
  }
}, 300_000);

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  children.clear();
});

function spawnCli(args: string[]) {
  // DEBUG off so the child's stderr holds only what the CLI itself prints.
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, DEBUG: '' } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
}

/** Run to completion (for argument errors): exit code and output. */
async function runCli(args: string[]) {
  const run = spawnCli(args);
  const { code } = await run.exited;
  return { code, stdout: run.out(), stderr: run.err() };
}

/** Start `sandbox ...` and wait for the printed banner; resolves the URL it names. */
async function startCli(args: string[]) {
  const run = spawnCli(args);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${run.out()} ${run.err()}`)), START_TIMEOUT_MS);
    const check = () => {
      // The last line of the banner: everything before it has arrived too.
      const m = /listening on (http:\/\/\S+)[\s\S]*Stop with Ctrl\+C/.exec(run.out());
      if (m) {
        clearTimeout(timer);
        run.child.stdout.off('data', check);
        resolve(m[1]);
      }
    };
    run.child.stdout.on('data', check);
    void run.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${run.err()}`));
    });
  });
  return { ...run, url };
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function token(url: string, appid: string, secret: string): Promise<Record<string, unknown>> {
  const q = new URLSearchParams({ grant_type: 'client_credential', appid, secret });
  return (await (await fetch(`${url}/cgi-bin/token?${q}`)).json()) as Record<string, unknown>;
}

test('sandbox --port N listens there, serves the API for the default app, and stops on SIGTERM', async () => {
  const port = await freePort();
  const cli = await startCli(['sandbox', '--port', String(port)]);
  expect(cli.url).toBe(`http://127.0.0.1:${port}`);
  expect(cli.out()).toContain('appId=wxsandbox00000001');
  expect(cli.out()).not.toContain('sandbox-secret');

  const body = await token(cli.url, 'wxsandbox00000001', 'sandbox-secret');
  expect(body.access_token).toEqual(expect.any(String));
  expect(body.expires_in).toBe(7200);
  const calls = (await (await fetch(`${cli.url}/__sandbox/calls`)).json()) as Record<string, number>;
  expect(calls['/cgi-bin/token']).toBe(1);

  cli.child.kill('SIGTERM');
  expect((await cli.exited).code).toBe(0);
});

test('--port=0 picks a free port; --app configures the apps (and the secret is not printed)', async () => {
  const cli = await startCli([
    'sandbox',
    '--port=0',
    '--app',
    'wxcli000000000001:cli-secret-1',
    '--app=wxcli000000000002:s2',
  ]);
  expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(cli.url).not.toMatch(/:0$/);
  expect(cli.out()).toContain('appId=wxcli000000000001');
  expect(cli.out()).not.toContain('cli-secret-1');

  expect((await token(cli.url, 'wxcli000000000001', 'cli-secret-1')).access_token).toEqual(expect.any(String));
  expect((await token(cli.url, 'wxcli000000000002', 's2')).access_token).toEqual(expect.any(String));
  expect((await token(cli.url, 'wxsandbox00000001', 'sandbox-secret')).errcode).toBe(40013);

  cli.child.kill('SIGINT');
  expect((await cli.exited).code).toBe(0);
});

test.each([
  [[], /usage: wechat-jssdk-ts sandbox/],
  [['serve'], /unknown command serve/],
  [['sandbox', '--port'], /--port must be a port number/],
  [['sandbox', '--port', 'abc'], /--port must be a port number/],
  [['sandbox', '--port='], /--port must be a port number/],
  [['sandbox', '--port', '70000'], /--port must be a port number/],
  [['sandbox', '--bogus'], /unknown argument --bogus/],
  [['sandbox', '--app', 'no-colon'], /--app must be appId:appSecret/],
  [['sandbox', '--app', 'wx1:'], /--app must be appId:appSecret/],
])('bad arguments %j exit with code 2 and a usage message', async (args, problem) => {
  const { code, stdout, stderr } = await runCli(args as string[]);
  expect(code).toBe(2);
  expect(stderr).toMatch(problem);
  expect(stderr).toContain('usage: wechat-jssdk-ts sandbox [--port N]');
  expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  expect(stdout).toBe('');
});

test('--help prints the usage and exits 0', async () => {
  const { code, stdout } = await runCli(['--help']);
  expect(code).toBe(0);
  expect(stdout).toContain('usage: wechat-jssdk-ts sandbox');
});

test('a port already in use gives a clear error and exit code 1, not a crash', async () => {
  const busy = http.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as AddressInfo;
  try {
    const { code, stderr } = await runCli(['sandbox', '--port', String(port)]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/could not start the sandbox: .*EADDRINUSE/);
    expect(stderr).not.toMatch(/\n\s+at /);
  } finally {
    await new Promise((resolve) => busy.close(resolve));
  }
});
