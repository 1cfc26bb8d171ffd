/**
 * `npm start`: the demo on PORT (default 3000). With no WeChat credentials in the environment or .env, WeChat is
 * played by the built-in sandbox, so every page works at once; fill in .env (see .env.example) to use WeChat.
 */
import { loadEnvFile, type DemoEnv } from './env';
import { startDemo } from './app';

async function main(): Promise<void> {
  loadEnvFile();
  const env = process.env as DemoEnv;
  const port = Number(env.PORT || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const demo = await startDemo({ env, port });
  console.log('');
  if (demo.sandbox) {
    console.log('wechat-jssdk-ts demo, SANDBOX mode (no WeChat credentials in .env; WeChat is emulated locally)');
    console.log(`  WeChat sandbox: ${demo.sandbox.url}`);
  } else {
    console.log(`wechat-jssdk-ts demo, WECHAT mode (app ${demo.wx.appId}); open the pages inside WeChat`);
  }
  console.log(`  Open ${demo.url}/ in your browser  在浏览器中打开 ${demo.url}/`);
  console.log('  Stop with Ctrl+C');
  const stop = () => {
    void demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`demo: ${(err as Error).message}`);
  process.exitCode = 1;
});
