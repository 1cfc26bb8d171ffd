/**
 * The demo's WeChat Pay page end to end: headless Chromium (Debian's package, driven by playwright-core) opens the
 * demo, which runs against the in-process sandbox with a test merchant whose certificates are made by openssl.
 * The page creates real orders through the SDK, the sandbox pays them and POSTs signed notifications to the demo's
 * notify routes, and the page shows what the SDK verified. The sandbox's records are the independent witness: the
 * transaction id on the page must be the one the sandbox issued, the paySign must verify with the merchant's key.
 * Also: the page without openssl, and WeChat mode with missing or refused settings. Screenshots: test-artifacts/.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startDemo, type Demo } from '../../demo/app';
import { tempDir } from '../helpers';
import { startBrowserDemo, type BrowserDemo } from './support';
import { SANDBOX_MERCHANT } from '../../demo/payment-setup';
import { signPayment } from '../../lib/payment/v2/sign';
import { parseXML } from '../../lib/payment/v2/xml';
import { rsaVerify } from '../../lib/payment/v3/sign';

const ROOT = path.resolve(__dirname, '..', '..');

jest.setTimeout(90_000);

let env: BrowserDemo;
let demo: Demo;
let base: string;

beforeAll(async () => {
  env = await startBrowserDemo('wechat-demo-pay-e2e-');
  ({ demo, base } = env);
});

afterAll(() => env?.close());

async function newPage(): Promise<Page> {
  return env.newPage({ viewport: { width: 900, height: 1000 }, deviceScaleFactor: 1 });
}

const shot = (page: Page, name: string) => env.shot(page, name);
const textOf = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();

/** Type an amount, press a create button, and wait for the order or the error. */
async function createOrder(page: Page, yuan: string, api: 'v2' | 'v3'): Promise<void> {
  const before = await textOf(page, '#o-no');
  await page.fill('#amount', yuan);
  await page.click(`#create-${api}`);
  await page.waitForFunction(
    (previous) =>
      !(document.getElementById('order-error') as HTMLElement).hidden ||
      document.getElementById('o-no')!.textContent !== previous,
    before,
  );
}

async function orderError(page: Page, yuan: string): Promise<string> {
  await page.fill('#amount', yuan);
  // Hide the previous error so a stale one cannot satisfy the wait.
  await page.evaluate(() => ((document.getElementById('order-error') as HTMLElement).hidden = true));
  await page.click('#create-v3');
  await page.waitForSelector('#order-error:not([hidden])');
  return textOf(page, '#order-error');
}

function merchantPublicKey() {
  const merchant = demo.sandbox!.payState.merchants.get(SANDBOX_MERCHANT.mchId);
  return merchant!.v3Key!;
}

describe('payment page in Chromium against the sandbox', () => {
  it('v3: refuses bad amounts, creates a JSAPI order, is paid, and shows the verified notification', async () => {
    const page = await newPage();
    await page.goto(`${base}/payment`);
    expect(await page.getAttribute('#pay-setup', 'data-ready')).toBe('yes');
    const ordersBefore = demo.sandbox!.payState.orders.size;

    // Bad amounts: the SDK's own messages, and nothing reaches WeChat Pay.
    expect(await orderError(page, '1.234')).toContain('more than 2 decimal places');
    expect(await orderError(page, '0')).toContain('amount.total must be a positive integer number of fen');
    expect(await orderError(page, 'ten')).toContain('not a plain decimal amount');
    expect(demo.sandbox!.payState.orders.size).toBe(ordersBefore);
    await shot(page, 'demo-payment-bad-amount.png');

    await createOrder(page, '12.34', 'v3');
    expect(await page.isHidden('#order-error')).toBe(true);
    const outTradeNo = await textOf(page, '#o-no');
    const order = demo.sandbox!.payState.findOrder(outTradeNo);
    expect(order).toMatchObject({ version: 'v3', total: 1234, state: 'NOTPAY', tradeType: 'JSAPI' });
    expect(order.notifyUrl).toBe(`${base}/payment/notify/v3`);
    expect(await textOf(page, '#o-amount')).toContain('1234 fen');
    expect(await textOf(page, '#o-prepay')).toBe(order.prepayId);

    // The JSAPI parameters: RSA paySign over appId, timeStamp, nonceStr, package, with the merchant's key.
    const bridge = JSON.parse(await textOf(page, '#params-bridge'));
    const choose = JSON.parse(await textOf(page, '#params-choose'));
    expect(bridge).toMatchObject({ appId: demo.wx.appId, package: `prepay_id=${order.prepayId}`, signType: 'RSA' });
    const signed = `${bridge.appId}\n${bridge.timeStamp}\n${bridge.nonceStr}\n${bridge.package}\n`;
    expect(rsaVerify(merchantPublicKey(), signed, bridge.paySign)).toBe(true);
    expect(rsaVerify(merchantPublicKey(), signed.replace('prepay_id', 'prepay_iD'), bridge.paySign)).toBe(false);
    expect(choose).toEqual({
      timestamp: bridge.timeStamp,
      nonceStr: bridge.nonceStr,
      package: bridge.package,
      signType: 'RSA',
      paySign: bridge.paySign,
    });
    const html = await page.content();
    for (const secret of [SANDBOX_MERCHANT.key, SANDBOX_MERCHANT.apiV3Key, 'PRIVATE KEY']) {
      expect(html).not.toContain(secret);
    }
    expect(await page.getAttribute('#pay-status', 'data-state')).toBe('pending');

    // The sandbox pays and notifies the demo; the page shows what the SDK verified.
    const deliveries = demo.sandbox!.payState.deliveries.length;
    await page.click('#simulate');
    await page.waitForSelector('#pay-status[data-state="ok"]', { timeout: 15_000 });
    expect(order.state).toBe('SUCCESS');
    const delivery = demo.sandbox!.payState.deliveries.slice(deliveries);
    expect(delivery).toHaveLength(1);
    expect(delivery[0]).toMatchObject({ url: order.notifyUrl, status: 204, delivered: true });
    expect(await textOf(page, '#n-event')).toBe('TRANSACTION.SUCCESS');
    expect(await textOf(page, '#n-transaction')).toBe(order.transactionId);
    expect(await textOf(page, '#n-amount')).toContain('12.34');
    expect(await textOf(page, '#n-openid')).toBe(order.openid);
    expect(await textOf(page, '#n-check')).toContain(`Wechatpay-Serial ${demo.sandbox!.payState.platform!.serialNo}`);
    expect(await page.locator('#events li[data-kind="payment"][data-verified="yes"]').count()).toBe(1);
    await shot(page, 'demo-payment-v3-paid.png');

    // Once paid, the simulate button is off.
    expect(await page.isDisabled('#simulate')).toBe(true);

    // A forged notification (altered ciphertext, genuine headers) is refused by the notify route.
    await page.click('#forge');
    await page.waitForSelector('#forge-result[data-accepted]');
    expect(await page.getAttribute('#forge-result', 'data-accepted')).toBe('no');
    expect(await textOf(page, '#forge-result')).toContain('Wechatpay-Signature does not match');
    await page.waitForSelector('#events li[data-kind="forged"][data-verified="no"]');
    expect(await page.getAttribute('#pay-status', 'data-state')).toBe('ok');

    // Query through the SDK, then refund: the refund notification is verified too.
    await page.click('#query');
    await page.waitForFunction(() => /trade_state|✗/.test(document.getElementById('query-result')!.textContent!));
    expect(await textOf(page, '#query-result')).toContain('trade_state: SUCCESS');
    await page.click('#refund');
    await page.waitForSelector('#events li[data-kind="refund"][data-verified="yes"]', { timeout: 15_000 });
    expect(await textOf(page, '#pay-status')).toContain('Refunded');
    const refund = [...demo.sandbox!.payState.refunds.values()].find((r) => r.outTradeNo === outTradeNo);
    expect(refund).toMatchObject({ status: 'SUCCESS', amount: 1234, version: 'v3' });
    expect(await textOf(page, '#refund-result')).toContain(refund!.outRefundNo);
    await shot(page, 'demo-payment-v3-refunded.png');
  });

  it('v2: unifiedOrder with an MD5 paySign, the verified XML notification, and a refund over the client certificate', async () => {
    const page = await newPage();
    await page.goto(`${base}/payment`);
    await createOrder(page, '0.5', 'v2');
    const outTradeNo = await textOf(page, '#o-no');
    const order = demo.sandbox!.payState.findOrder(outTradeNo);
    expect(order).toMatchObject({ version: 'v2', total: 50, state: 'NOTPAY' });
    expect(order.notifyUrl).toBe(`${base}/payment/notify/v2`);

    const bridge = JSON.parse(await textOf(page, '#params-bridge'));
    expect(bridge.signType).toBe('MD5');
    const { paySign, ...fields } = bridge;
    expect(paySign).toBe(signPayment(fields, SANDBOX_MERCHANT.key, 'MD5'));

    const deliveries = demo.sandbox!.payState.deliveries.length;
    await page.click('#simulate');
    await page.waitForSelector('#pay-status[data-state="ok"]', { timeout: 15_000 });
    const [delivery] = demo.sandbox!.payState.deliveries.slice(deliveries);
    expect(parseXML(delivery.body).return_code).toBe('SUCCESS');
    expect(await textOf(page, '#n-event')).toBe('v2 result_code SUCCESS');
    expect(await textOf(page, '#n-transaction')).toBe(order.transactionId);
    expect(await textOf(page, '#n-amount')).toContain('0.50');
    expect(await textOf(page, '#n-check')).toContain('sign (MD5) matches');

    await page.click('#forge');
    await page.waitForSelector('#forge-result[data-accepted]');
    expect(await page.getAttribute('#forge-result', 'data-accepted')).toBe('no');
    expect(await textOf(page, '#forge-result')).toContain('the sign does not match');

    await page.click('#refund');
    await page.waitForSelector('#events li[data-kind="refund"][data-verified="yes"]', { timeout: 15_000 });
    const refund = [...demo.sandbox!.payState.refunds.values()].find((r) => r.outTradeNo === outTradeNo);
    expect(refund).toMatchObject({ status: 'SUCCESS', amount: 50, version: 'v2' });
    expect(await textOf(page, '#pay-status')).toContain('Refunded');
    await shot(page, 'demo-payment-v2-refunded.png');
  });

  it('the notify routes refuse what WeChat Pay did not sign', async () => {
    const unsigned = await fetch(`${base}/payment/notify/v3`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event_type: 'TRANSACTION.SUCCESS', resource: {} }),
    });
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { message: string }).message).toContain('headers are required');

    const xxe = await fetch(`${base}/payment/notify/v2`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body: '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>',
    });
    expect(xxe.status).toBe(400);
    expect(parseXML(await xxe.text())).toMatchObject({ return_code: 'FAIL' });
  });
});

describe('payment page without openssl (npm start in a child process)', () => {
  it('explains what is missing instead of crashing; the rest of the demo works', async () => {
    // What `npm start` runs, in its own process: PATH holds no openssl (jest's process.env is a per-file copy,
    // which child_process never sees, so the environment must be the child's own).
    const empty = tempDir('wechat-demo-no-openssl-');
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'demo', 'server.ts')], {
      cwd: empty.dir, // no .env there: sandbox mode
      env: { PATH: empty.dir, PORT: '0', HOME: process.env.HOME ?? empty.dir, TMPDIR: os.tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the demo did not start: ${output}`)), 30_000);
        const read = (chunk: Buffer) => {
          output += chunk.toString('utf8');
          const match = /Open (http:\/\/localhost:\d+)\//.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1].replace('localhost', '127.0.0.1'));
          }
        };
        child.stdout!.on('data', read);
        child.stderr!.on('data', read);
        void exited.then((code) => reject(new Error(`the demo exited (${code}): ${output}`)));
      });
      const res = await fetch(`${url}/payment`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('data-ready="no"');
      expect(html).toContain('needs the &#34;openssl&#34; command');
      expect(html).not.toContain('id="create-v3"');
      const refused = await fetch(`${url}/payment/api/order`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ yuan: '1', api: 'v3' }),
      });
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: string }).error).toContain('openssl');
      expect((await fetch(`${url}/`)).status).toBe(200);
      expect((await fetch(`${url}/jssdk`)).status).toBe(200);

      const page = await newPage();
      await page.goto(`${url}/payment`);
      await shot(page, 'demo-payment-no-openssl.png');
    } finally {
      child.kill('SIGTERM');
      await exited;
      empty.cleanup();
    }
  });
});

describe('payment page in WeChat mode', () => {
  const wechatEnv = { WECHAT_APP_ID: 'wx00000000000000e2', WECHAT_APP_SECRET: 'not-a-real-secret' };

  async function withDemo(env: Record<string, string>, run: (url: string) => Promise<void>): Promise<void> {
    const dir = tempDir('wechat-demo-pay-wechat-');
    const other = await startDemo({ env, port: 0, host: '127.0.0.1', dataDir: dir.dir });
    try {
      await run(`http://127.0.0.1:${(other.server.address() as { port: number }).port}`);
    } finally {
      await other.close();
      dir.cleanup();
    }
  }

  const order = (url: string) =>
    fetch(`${url}/payment/api/order`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ yuan: '1', api: 'v3' }),
    });

  it('without the variables: a note on what to configure, and no payment call', async () => {
    await withDemo(wechatEnv, async (url) => {
      const html = await (await fetch(`${url}/payment`)).text();
      expect(html).toContain('data-ready="no"');
      expect(html).toContain('not configured');
      for (const name of ['WECHAT_PAY_MCH_ID', 'WECHAT_PAY_V3_KEY', 'WECHAT_PAY_PRIVATE_KEY_FILE']) {
        expect(html).toContain(`data-env="${name}">– not set`);
      }
      const res = await order(url);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toContain('not configured');
      const page = await newPage();
      await page.goto(`${url}/payment`);
      await shot(page, 'demo-payment-wechat-mode.png');
    });
  });

  it('a setting the SDK refuses is shown (without its value); complete settings make the page ready', async () => {
    const dir = tempDir('wechat-demo-pay-keys-');
    try {
      const keyFile = path.join(dir.dir, 'apiclient_key.pem');
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const pay = {
        ...wechatEnv,
        PUBLIC_URL: 'https://pay.example.com',
        WECHAT_PAY_MCH_ID: '1900000109',
        WECHAT_PAY_PRIVATE_KEY_FILE: keyFile,
        WECHAT_PAY_CERT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      };
      await withDemo({ ...pay, WECHAT_PAY_V3_KEY: 'tooShortV3KeyValue' }, async (url) => {
        const html = await (await fetch(`${url}/payment`)).text();
        expect(html).toContain('data-ready="no"');
        expect(html).toContain('paymentV3.apiV3Key');
        expect(html).not.toContain('tooShortV3KeyValue');
        expect((await order(url)).status).toBe(503);
        expect((await fetch(`${url}/`)).status).toBe(200);
      });
      const goodKey = 'abcdefghijklmnopqrstuvwxyz012345';
      await withDemo({ ...pay, WECHAT_PAY_V3_KEY: goodKey }, async (url) => {
        const html = await (await fetch(`${url}/payment`)).text();
        expect(html).toContain('data-ready="yes"');
        expect(html).toContain('https://pay.example.com/payment/notify/v3');
        expect(html).toContain('data-env="WECHAT_PAY_V3_KEY">✓ set');
        expect(html).not.toContain(goodKey);
        expect(html).not.toContain('PRIVATE KEY');
        // JSAPI needs the payer's openid: without a login the demo asks for one before calling WeChat Pay.
        const res = await order(url);
        expect(res.status).toBe(403);
        expect(((await res.json()) as { error: string }).error).toContain('Log in with WeChat first');
      });
    } finally {
      dir.cleanup();
    }
  });
});
