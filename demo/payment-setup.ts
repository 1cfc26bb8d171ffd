/**
 * WeChat Pay for the demo. Sandbox mode: a test merchant in the built-in sandbox, whose certificates (the
 * sandbox's HTTPS certificate, the merchant API certificate, the WeChat Pay platform certificate) are made with the
 * `openssl` CLI at start, as the SDK's tests make them. WeChat mode: the merchant's own keys from the environment
 * (see .env.example). Whatever is missing or wrong turns into an explanation on the payment page, never into a
 * demo that does not start: the payment page is one page of several.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../lib/errors';
import { Wechat, type WechatOptions } from '../lib/Wechat';
import { generatePayCertificates, type PayCertificates, type Sandbox, type SandboxOptions } from '../lib/sandbox';
import type { DemoEnv, DemoMode } from './env';

/**
 * The sandbox merchant. Its keys are demo values known only to this process and its sandbox (not secrets), but
 * the page still never shows them, as a real page must not.
 */
export const SANDBOX_MERCHANT = {
  mchId: '1230000109',
  /** v2 API key (32 characters). */
  key: 'demo-sandbox-v2-api-key-00000000',
  /** APIv3 key (32 characters). */
  apiV3Key: 'demo-sandbox-apiv3-key-000000000',
} as const;

/** Where WeChat Pay sends notifications, relative to the site (the notify routes of demo/pages/payment.ts). */
export const NOTIFY_PATHS = {
  v2: '/payment/notify/v2',
  v2Refund: '/payment/notify/v2/refund',
  v3: '/payment/notify/v3',
} as const;

/** The environment variables of WeChat mode, with what each one is (shown on the page, values never are). */
export const PAY_ENV = {
  WECHAT_PAY_MCH_ID: 'merchant id 商户号',
  WECHAT_PAY_V3_KEY: 'APIv3 key (32 characters) APIv3 密钥',
  WECHAT_PAY_PRIVATE_KEY_FILE: 'path of apiclient_key.pem, the merchant API private key 商户 API 私钥文件',
  WECHAT_PAY_CERT_SERIAL: 'serial number of apiclient_cert.pem 商户 API 证书序列号',
  WECHAT_PAY_PUBLIC_KEY_FILE: 'path of pub_key.pem (WeChat Pay public key; optional) 微信支付公钥文件（可选）',
  WECHAT_PAY_PUBLIC_KEY_ID: 'its id PUB_KEY_ID_… (with the file) 微信支付公钥 ID',
  WECHAT_PAY_KEY: 'v2 API key (optional, for the v2 button) v2 API 密钥（可选）',
  WECHAT_PAY_P12_FILE: 'path of apiclient_cert.p12 (optional, v2 refunds) v2 退款用的商户证书（可选）',
} as const;

export type PayEnvName = keyof typeof PAY_ENV;

const V3_REQUIRED: PayEnvName[] = [
  'WECHAT_PAY_MCH_ID',
  'WECHAT_PAY_V3_KEY',
  'WECHAT_PAY_PRIVATE_KEY_FILE',
  'WECHAT_PAY_CERT_SERIAL',
];

/** What the payment page can do, and why not when it cannot. Filled in at start; read on every request. */
export interface PaymentSetup {
  kind: 'sandbox' | 'wechat';
  /** Which APIs are configured on `wx` (false until createWechat() succeeded with them). */
  v2: boolean;
  v3: boolean;
  /** Why payment is unavailable (openssl missing, an option refused by the SDK, ...): plain text for the page. */
  problem?: string;
  /** WeChat mode: the variables that are set (names only). */
  present: PayEnvName[];
  /** WeChat mode: the site's public origin (notify URLs are built on it). */
  publicUrl?: string;
  merchantId?: string;
  /** Sandbox mode: the generated certificates (the demo only shows their serial numbers). */
  certificates?: PayCertificates;
  /** Options for startSandbox (sandbox mode with certificates). */
  sandboxOptions: Pick<SandboxOptions, 'merchants' | 'payCertificates'>;
  /** Options to add to `new Wechat(...)`; `{}` when payment is off. */
  wechatOptions(sandbox?: Sandbox): Partial<WechatOptions>;
}

/** Explain why the certificates could not be made; ENOENT means there is no openssl on PATH. */
function opensslProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') {
    return (
      'The payment sandbox needs the "openssl" command to make its test certificates (HTTPS, the merchant API ' +
      'certificate and the WeChat Pay platform certificate), and it is not installed or not on PATH. Install OpenSSL ' +
      '("apt-get install openssl", "brew install openssl", or Git for Windows) and restart "npm start". ' +
      '支付沙盒需要 openssl 命令来生成测试证书，但未找到。请安装 OpenSSL 后重新运行 npm start。'
    );
  }
  return `openssl could not make the payment sandbox's test certificates (${String(e?.message ?? err).slice(0, 300)}). 无法用 openssl 生成支付沙盒的测试证书。`;
}

/** Sandbox mode: make the certificates now (about a second), or record why that failed. */
export function sandboxPaymentSetup(): PaymentSetup {
  const base = { kind: 'sandbox' as const, v2: false, v3: false, present: [], merchantId: SANDBOX_MERCHANT.mchId };
  let certificates: PayCertificates;
  try {
    certificates = generatePayCertificates([SANDBOX_MERCHANT.mchId]);
  } catch (err) {
    return { ...base, problem: opensslProblem(err), sandboxOptions: {}, wechatOptions: () => ({}) };
  }
  const merchant = certificates.merchants[SANDBOX_MERCHANT.mchId];
  return {
    ...base,
    certificates,
    sandboxOptions: {
      merchants: [
        {
          mchId: SANDBOX_MERCHANT.mchId,
          key: SANDBOX_MERCHANT.key,
          apiV3Key: SANDBOX_MERCHANT.apiV3Key,
          // The sandbox checks v3 Authorization headers with this certificate, as WeChat Pay does.
          certificate: merchant.cert,
        },
      ],
      payCertificates: certificates,
    },
    wechatOptions: (sandbox) =>
      sandbox?.payUrl
        ? {
            payment: true,
            merchantId: SANDBOX_MERCHANT.mchId,
            paymentKey: SANDBOX_MERCHANT.key,
            // The client certificate of v2 refunds (.p12, passphrase = merchant id, as WeChat issues it).
            paymentCertificatePfx: merchant.pfx,
            paymentApiUrl: sandbox.payUrl,
            // Trust the sandbox's private CA for its HTTPS listener only; never needed with WeChat.
            paymentCa: certificates.ca,
            paymentV3: {
              privateKey: merchant.key,
              certificateSerialNo: merchant.serialNo,
              apiV3Key: SANDBOX_MERCHANT.apiV3Key,
              // No platform certificates given: the SDK downloads them from /v3/certificates, as with WeChat.
            },
            // notify_url is passed with each order: it depends on the port the demo listens on.
          }
        : {},
  };
}

/** WeChat mode: the merchant's options from the environment; nothing is configured unless they are there. */
export function wechatPaymentSetup(mode: Extract<DemoMode, { kind: 'wechat' }>, env: DemoEnv): PaymentSetup {
  const value = (name: PayEnvName) => env[name]?.trim() || undefined;
  const present = (Object.keys(PAY_ENV) as PayEnvName[]).filter((name) => value(name) !== undefined);
  const setup: PaymentSetup = {
    kind: 'wechat',
    v2: false,
    v3: false,
    present,
    publicUrl: mode.publicUrl,
    merchantId: value('WECHAT_PAY_MCH_ID'),
    sandboxOptions: {},
    wechatOptions: () => ({}),
  };
  if (present.length === 0) return setup;
  if (!mode.publicUrl) {
    setup.problem =
      'Set PUBLIC_URL: WeChat Pay sends its notifications to PUBLIC_URL/payment/notify/…, which must be a public ' +
      'https address. 请设置 PUBLIC_URL：支付通知地址必须是公网可访问的 https 地址。';
    return setup;
  }
  const wantV3 = V3_REQUIRED.every((name) => value(name) !== undefined);
  const wantV2 = value('WECHAT_PAY_MCH_ID') !== undefined && value('WECHAT_PAY_KEY') !== undefined;
  if (!wantV3 && !wantV2) return setup;
  let options: Partial<WechatOptions>;
  try {
    const file = (name: PayEnvName) => {
      const file = value(name)!;
      try {
        return readFileSync(path.resolve(file));
      } catch {
        throw new Error(`${name}: cannot read the file ${file}. ${name}：无法读取该文件。`);
      }
    };
    options = {
      merchantId: value('WECHAT_PAY_MCH_ID'),
      ...(wantV2
        ? {
            payment: true,
            paymentKey: value('WECHAT_PAY_KEY'),
            paymentNotifyUrl: `${mode.publicUrl}${NOTIFY_PATHS.v2}`,
            ...(value('WECHAT_PAY_P12_FILE') ? { paymentCertificatePfx: file('WECHAT_PAY_P12_FILE') } : {}),
          }
        : {}),
      ...(wantV3
        ? {
            paymentV3: {
              privateKey: file('WECHAT_PAY_PRIVATE_KEY_FILE'),
              certificateSerialNo: value('WECHAT_PAY_CERT_SERIAL')!,
              apiV3Key: value('WECHAT_PAY_V3_KEY')!,
              notifyUrl: `${mode.publicUrl}${NOTIFY_PATHS.v3}`,
              ...(value('WECHAT_PAY_PUBLIC_KEY_FILE') || value('WECHAT_PAY_PUBLIC_KEY_ID')
                ? {
                    wechatpayPublicKey: value('WECHAT_PAY_PUBLIC_KEY_FILE')
                      ? file('WECHAT_PAY_PUBLIC_KEY_FILE')
                      : undefined,
                    wechatpayPublicKeyId: value('WECHAT_PAY_PUBLIC_KEY_ID'),
                  }
                : {}),
            },
          }
        : {}),
    };
  } catch (err) {
    setup.problem = (err as Error).message;
    return setup;
  }
  setup.wechatOptions = () => options;
  return setup;
}

/**
 * `new Wechat(base + payment options)`. When the SDK refuses a payment option (ConfigError: a key of the wrong
 * length, a PEM that does not parse, a wrong .p12 passphrase), the demo starts without payment and the payment page
 * shows the SDK's message. An error in the base options is not ours to hide: it propagates.
 */
export function createWechat(base: WechatOptions, setup: PaymentSetup, sandbox?: Sandbox): Wechat {
  const payment = setup.wechatOptions(sandbox);
  if (Object.keys(payment).length === 0) return new Wechat(base);
  let wx: Wechat;
  try {
    wx = new Wechat({ ...base, ...payment });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const wechat = new Wechat(base);
    setup.problem = `The SDK refused the payment settings. SDK 拒绝了支付配置：${err.message}`;
    return wechat;
  }
  setup.v2 = wx.payment !== undefined;
  setup.v3 = wx.paymentV3 !== undefined;
  return wx;
}
