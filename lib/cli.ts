/**
 * `npx wechat-jssdk-ts sandbox [--port N] [--app appId:appSecret]...` starts the WeChat sandbox and prints how to
 * point the SDK at it.
 */
import { startSandbox, type SandboxApp } from './sandbox';

export const DEFAULT_SANDBOX_APP: SandboxApp = { appId: 'wxsandbox00000001', appSecret: 'sandbox-secret' };

function parse(argv: string[]): { command?: string; port: number; apps: SandboxApp[] } {
  const [command, ...rest] = argv;
  let port = 0;
  const apps: SandboxApp[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--port') port = Number(rest[++i]);
    else if (arg.startsWith('--port=')) port = Number(arg.slice(7));
    else if (arg === '--app') {
      const [appId, appSecret] = String(rest[++i]).split(':');
      apps.push({ appId, appSecret });
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a port number');
  return { command, port, apps: apps.length ? apps : [DEFAULT_SANDBOX_APP] };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`wechat-jssdk-ts: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  if (args.command !== 'sandbox') {
    console.error('usage: wechat-jssdk-ts sandbox [--port N] [--app appId:appSecret]');
    process.exitCode = 2;
    return;
  }
  const sandbox = await startSandbox({ port: args.port, apps: args.apps });
  const app = args.apps[0];
  console.log(`WeChat sandbox listening on ${sandbox.url}`);
  console.log(`Test app: appId=${app.appId} (appSecret as configured)`);
  console.log('Use it from your server:');
  console.log(`  new Wechat({ appId: '${app.appId}', appSecret: '<secret>', apiUrl: '${sandbox.url}', oauthUrl: '${sandbox.url}/connect/oauth2/authorize' })`);
  console.log(`Call counters: ${sandbox.url}/__sandbox/calls   Stop with Ctrl+C.`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
