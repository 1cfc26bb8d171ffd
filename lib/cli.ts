/**
 * `npx wechat-jssdk-ts sandbox [--port N] [--app appId:appSecret]...` starts the WeChat sandbox and prints how to
 * point the SDK at it.
 */
import { startSandbox, type SandboxApp } from './sandbox';

export const DEFAULT_SANDBOX_APP: SandboxApp = { appId: 'wxsandbox00000001', appSecret: 'sandbox-secret' };

export const USAGE = 'usage: wechat-jssdk-ts sandbox [--port N] [--app appId:appSecret]...';

function parsePort(value: string | undefined): number {
  // Strict digits: Number('') is 0 and Number('0x50') is 80, neither of which the user meant.
  if (value === undefined || !/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new Error(
      `--port must be a port number (0-65535), got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

function parseApp(value: string | undefined): SandboxApp {
  const sep = value?.indexOf(':') ?? -1;
  if (value === undefined || sep <= 0 || sep === value.length - 1) {
    throw new Error('--app must be appId:appSecret');
  }
  return { appId: value.slice(0, sep), appSecret: value.slice(sep + 1) };
}

function parse(argv: string[]): { command?: string; help: boolean; port: number; apps: SandboxApp[] } {
  const [command, ...rest] = argv;
  let port = 0;
  let help = command === 'help' || command === '--help' || command === '-h';
  const apps: SandboxApp[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--port') port = parsePort(rest[++i]);
    else if (arg.startsWith('--port=')) port = parsePort(arg.slice(7));
    else if (arg === '--app') apps.push(parseApp(rest[++i]));
    else if (arg.startsWith('--app=')) apps.push(parseApp(arg.slice(6)));
    else if (arg === '--help' || arg === '-h') help = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return { command, help, port, apps: apps.length ? apps : [DEFAULT_SANDBOX_APP] };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`wechat-jssdk-ts: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.command !== 'sandbox') {
    console.error(`${args.command ? `wechat-jssdk-ts: unknown command ${args.command}\n` : ''}${USAGE}`);
    process.exitCode = 2;
    return;
  }
  let sandbox;
  try {
    sandbox = await startSandbox({ port: args.port, apps: args.apps });
  } catch (err) {
    // e.g. EADDRINUSE: a clear line instead of an unhandled rejection with a stack trace.
    console.error(`wechat-jssdk-ts: could not start the sandbox: ${(err as Error).message}`);
    process.exitCode = 1;
    return;
  }
  const app = args.apps[0];
  console.log(`WeChat sandbox listening on ${sandbox.url}`);
  console.log(`Test app: appId=${app.appId} (appSecret as configured)`);
  console.log('Use it from your server:');
  console.log(
    `  new Wechat({ appId: '${app.appId}', appSecret: '<secret>', apiUrl: '${sandbox.url}', oauthUrl: '${sandbox.url}/connect/oauth2/authorize' })`,
  );
  console.log(`Call counters: ${sandbox.url}/__sandbox/calls   Stop with Ctrl+C.`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
