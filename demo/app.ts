/**
 * The demo app. Without WeChat credentials it starts the sandbox in this process and points the SDK at it, so
 * every page works at once; with WECHAT_APP_ID/WECHAT_APP_SECRET it talks to WeChat.
 * `startDemo()` is also what the browser test uses.
 */
import { mkdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { Wechat } from '../lib/Wechat';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { DEFAULT_SANDBOX_APP } from '../lib/cli';
import { createWechatRouter } from '../lib/server/express';
import { DEFAULT_SCRIPT_URL } from '../lib/client/WechatJSSDK';
import { clientScript } from './clientScript';
import { SANDBOX_WECHAT_TOKEN, type DemoContext } from './context';
import { demoMode, type DemoEnv } from './env';
import { homePage } from './pages/home';
import { jssdkPage } from './pages/jssdk';
import { oauthPage } from './pages/oauth';
import { placeholderPages } from './pages/placeholders';
import { miniProgramPage, SANDBOX_MINI_PROGRAM } from './pages/miniprogram';
import { cardPage } from './pages/card';
import { paymentPage } from './pages/payment';
import { createWechat, sandboxPaymentSetup, wechatPaymentSetup, type PaymentSetup } from './payment-setup';

export interface DemoOptions {
  env?: DemoEnv;
  /** Port (0: a free one). */
  port?: number;
  host?: string;
  /** Folder of the FileStore file (default demo/.data). */
  dataDir?: string;
}

export interface Demo extends DemoContext {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const env = options.env ?? (process.env as DemoEnv);
  const mode = demoMode(env);
  const dataDir = path.resolve(options.dataDir ?? path.join(__dirname, '.data'));
  mkdirSync(dataDir, { recursive: true });

  let sandbox: Sandbox | undefined;
  let wx: Wechat;
  let jweixinUrl: string;
  let modeBanner: string;
  let payment: PaymentSetup;
  if (mode.kind === 'sandbox') {
    // WeChat Pay's sandbox merchant and its certificates (openssl); a failure only disables the payment page.
    payment = sandboxPaymentSetup();
    sandbox = await startSandbox({
      apps: [DEFAULT_SANDBOX_APP, SANDBOX_MINI_PROGRAM],
      port: Number(env.SANDBOX_PORT ?? 0),
      ...payment.sandboxOptions,
    });
    // The sandbox forgets its tokens when it stops, so the cache of the previous run must go too.
    const fileStorePath = path.join(dataDir, 'sandbox-wechat-info.json');
    rmSync(fileStorePath, { force: true });
    const s = sandbox;
    wx = createWechat(
      {
        appId: DEFAULT_SANDBOX_APP.appId,
        appSecret: DEFAULT_SANDBOX_APP.appSecret,
        wechatToken: SANDBOX_WECHAT_TOKEN,
        apiUrl: s.url,
        oauthUrl: `${s.url}/connect/oauth2/authorize`,
        storeOptions: { fileStorePath },
        // The mini program page plays wx.login against the sandbox's mini program app.
        miniProgram: { appId: SANDBOX_MINI_PROGRAM.appId, appSecret: SANDBOX_MINI_PROGRAM.appSecret },
        card: true,
        now: () => s.now(),
      },
      payment,
      s,
    );
    jweixinUrl = `${s.url}/jweixin.js`;
    modeBanner =
      `Sandbox mode: WeChat is emulated by the built-in sandbox at <code>${s.url}</code> (no WeChat account needed). ` +
      '沙盒模式：微信由内置沙盒模拟，无需公众号。Fill in <code>.env</code> to use real WeChat. 填写 .env 即可连接真实微信。';
  } else {
    payment = wechatPaymentSetup(mode, env);
    wx = createWechat(
      {
        appId: mode.appId,
        appSecret: mode.appSecret,
        wechatToken: mode.wechatToken,
        allowedHosts: mode.publicUrl ? [new URL(mode.publicUrl).hostname] : undefined,
        storeOptions: { fileStorePath: path.join(dataDir, 'wechat-info.json') },
        card: true,
      },
      payment,
    );
    jweixinUrl = DEFAULT_SCRIPT_URL;
    modeBanner =
      `WeChat mode: app <code>${mode.appId}</code>. Open the pages inside WeChat, on a JS interface safe domain. ` +
      '微信模式：请在微信内打开本页面，且域名须为 JS 接口安全域名。';
  }

  const logins: DemoContext['logins'] = new Map();
  const context: DemoContext = { wx, sandbox, mode, jweixinUrl, modeBanner, logins };

  const app = express();
  app.disable('x-powered-by');
  // Behind a tunnel or proxy (PUBLIC_URL), the page's protocol and host come from X-Forwarded-* headers.
  if (mode.kind === 'wechat' && mode.publicUrl) app.set('trust proxy', true);

  app.use(
    createWechatRouter(wx, {
      oauth: {
        callbackUrl: mode.kind === 'wechat' && mode.publicUrl ? `${mode.publicUrl}/wechat/oauth-callback` : undefined,
        onLogin: (login) => {
          logins.set(login.sessionId, login);
        },
      },
    }),
  );
  app.get('/assets/wechat-jssdk-client.js', clientScript());
  homePage(app, context);
  jssdkPage(app, context);
  oauthPage(app, context);
  miniProgramPage(app, context);
  cardPage(app, context);
  paymentPage(app, context, payment);
  placeholderPages(app, context);

  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(options.port ?? 3000, options.host ?? '0.0.0.0', (err?: Error) =>
        err ? reject(err) : resolve(s),
      );
    });
  } catch (err) {
    // The sandbox and the store would keep the process alive after a failed start (e.g. the port is taken).
    await wx.close();
    await sandbox?.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    ...context,
    url: `http://localhost:${port}`,
    server,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await wx.close();
      await sandbox?.close();
    },
  };
}
