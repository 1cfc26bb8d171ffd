/**
 * Payment options of `new Wechat(...)`: validated here (a ConfigError names the option), turned into Payment and
 * PaymentV3 instances, and listed in PAYMENT_SECRET_OPTIONS so the facade strips every key from `wx.options`.
 */
import https from 'node:https';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors';
import { validateBaseUrl, type HttpClient } from '../http/HttpClient';
import type { Store } from '../store/Store';
import { Payment, DEFAULT_PAYMENT_API_URL } from './v2/Payment';
import { PaymentV3, loadPrivateKey } from './v3/PaymentV3';
import { loadCertificate, type PlatformCertificate } from './v3/certificates';
import { PUBLIC_KEY_ID_PREFIX } from './v3/sign';

type Pem = string | Buffer;

export interface PaymentV3Options {
  /** Default: the top-level merchantId. */
  merchantId?: string;
  /** The merchant API private key (apiclient_key.pem), PEM. */
  privateKey: Pem | KeyObject;
  /** Serial number of the merchant API certificate (apiclient_cert.pem). */
  certificateSerialNo: string;
  /** The 32-character APIv3 key: decrypts callbacks and downloaded platform certificates. */
  apiV3Key: string;
  /** WeChat Pay public key (pub_key.pem) and its id `PUB_KEY_ID_...` (merchants on the public-key scheme). */
  wechatpayPublicKey?: Pem;
  wechatpayPublicKeyId?: string;
  /** Platform certificates you already hold (PEM); others are downloaded from /v3/certificates. */
  platformCertificates?: Pem[];
  /** Default notify_url of v3 orders and refunds (default: paymentNotifyUrl). */
  notifyUrl?: string;
  /** appid of miniProgram() orders (default: appId). */
  miniProgramAppId?: string;
}

/** The payment part of WechatOptions. */
export interface PaymentOptions {
  /** Enable `wx.payment` (WeChat Pay API v2). */
  payment?: boolean;
  merchantId?: string;
  /** The v2 merchant API key (secret). */
  paymentKey?: string;
  /** apiclient_cert.p12 (client certificate for refunds); its passphrase defaults to the merchant id. */
  paymentCertificatePfx?: Buffer | string;
  paymentPassphrase?: string;
  /** Or the PEM pair apiclient_cert.pem + apiclient_key.pem. */
  paymentCertificate?: Pem;
  paymentPrivateKey?: Pem;
  paymentNotifyUrl?: string;
  /** v2 sandbox (/sandboxnew with a sandbox sign key). */
  paymentSandBox?: boolean;
  /** Replaces https://api.mch.weixin.qq.com (the SDK's sandbox, a proxy). */
  paymentApiUrl?: string;
  /** Extra CA to trust for the payment host: only for private test servers such as the SDK's sandbox. */
  paymentCa?: Pem;
  /** Enable `wx.paymentV3` (WeChat Pay API v3). */
  paymentV3?: PaymentV3Options;
}

/** Option paths holding secrets; the facade removes them (lodash omit) before exposing `wx.options`. */
export const PAYMENT_SECRET_OPTIONS = [
  'paymentKey',
  'paymentCertificatePfx',
  'paymentPassphrase',
  'paymentPrivateKey',
  'paymentV3.privateKey',
  'paymentV3.apiV3Key',
] as const;

export interface PaymentContext {
  appId: string;
  http: HttpClient;
  store: Store;
  now: () => number;
  onError: (err: unknown) => void;
}

function text(options: Record<string, unknown>, name: string, label = name): string {
  const value = options[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(label, `${label} is required for WeChat Pay (from the merchant platform, pay.weixin.qq.com)`);
  }
  return value;
}

function isPem(value: unknown): value is Pem {
  return (typeof value === 'string' && value !== '') || Buffer.isBuffer(value);
}

/** Validate and build `wx.payment` / `wx.paymentV3`. Throws ConfigError; never puts a secret in a message. */
export function createPayments(
  options: PaymentOptions,
  ctx: PaymentContext,
): { payment?: Payment; paymentV3?: PaymentV3 } {
  const o = options as Record<string, unknown>;
  if (options.payment === undefined && options.paymentV3 === undefined) return {};
  if (options.payment !== undefined && typeof options.payment !== 'boolean') {
    throw new ConfigError('payment', 'must be true or false');
  }
  const apiUrl = validateBaseUrl('paymentApiUrl', options.paymentApiUrl ?? DEFAULT_PAYMENT_API_URL);
  if (options.paymentNotifyUrl !== undefined) validateBaseUrl('paymentNotifyUrl', options.paymentNotifyUrl);
  if (options.paymentCa !== undefined && !isPem(options.paymentCa)) {
    throw new ConfigError('paymentCa', 'must be a PEM string or Buffer');
  }
  const ca = options.paymentCa;
  // A private CA needs its own agent; otherwise the HttpClient's shared keep-alive agent is used.
  const makeAgent = (extra: https.AgentOptions = {}) =>
    new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}), ...extra });

  let payment: Payment | undefined;
  if (options.payment) {
    const merchantId = text(o, 'merchantId');
    const paymentKey = text(o, 'paymentKey');
    const certAgent = clientCertificateAgent(options, merchantId, makeAgent);
    payment = new Payment({
      http: ctx.http,
      now: ctx.now,
      appId: ctx.appId,
      merchantId,
      paymentKey,
      notifyUrl: options.paymentNotifyUrl,
      sandbox: options.paymentSandBox === true,
      apiUrl,
      certAgent,
      httpsAgent: ca ? makeAgent() : undefined,
    });
  }

  let paymentV3: PaymentV3 | undefined;
  if (options.paymentV3 !== undefined) {
    const v3 = options.paymentV3 as unknown as Record<string, unknown>;
    if (!v3 || typeof v3 !== 'object')
      throw new ConfigError('paymentV3', 'must be an object { privateKey, certificateSerialNo, apiV3Key, ... }');
    const merchantId =
      typeof v3.merchantId === 'string' && v3.merchantId !== ''
        ? v3.merchantId
        : text(o, 'merchantId', 'paymentV3.merchantId');
    const serial = text(v3, 'certificateSerialNo', 'paymentV3.certificateSerialNo');
    const apiV3Key = text(v3, 'apiV3Key', 'paymentV3.apiV3Key');
    if (Buffer.byteLength(apiV3Key, 'utf8') !== 32) {
      throw new ConfigError('paymentV3.apiV3Key', 'must be the 32-character APIv3 key of the merchant platform');
    }
    if (v3.privateKey === undefined || v3.privateKey === '') {
      throw new ConfigError('paymentV3.privateKey', 'the merchant API private key (apiclient_key.pem) is required');
    }
    let privateKey: KeyObject;
    try {
      privateKey = loadPrivateKey(v3.privateKey as Pem | KeyObject);
    } catch {
      throw new ConfigError('paymentV3.privateKey', 'is not a PEM private key (apiclient_key.pem)');
    }
    const publicKeyId = v3.wechatpayPublicKeyId as string | undefined;
    let publicKey: KeyObject | undefined;
    if ((v3.wechatpayPublicKey === undefined) !== (publicKeyId === undefined)) {
      throw new ConfigError(
        'paymentV3.wechatpayPublicKeyId',
        'wechatpayPublicKey and wechatpayPublicKeyId go together',
      );
    }
    if (publicKeyId !== undefined) {
      if (typeof publicKeyId !== 'string' || !publicKeyId.startsWith(PUBLIC_KEY_ID_PREFIX)) {
        throw new ConfigError('paymentV3.wechatpayPublicKeyId', `must start with ${PUBLIC_KEY_ID_PREFIX}`);
      }
      try {
        publicKey = createPublicKey(v3.wechatpayPublicKey as Pem);
      } catch {
        throw new ConfigError('paymentV3.wechatpayPublicKey', 'is not a PEM public key (pub_key.pem)');
      }
    }
    let platformCertificates: PlatformCertificate[] = [];
    if (v3.platformCertificates !== undefined) {
      if (!Array.isArray(v3.platformCertificates))
        throw new ConfigError('paymentV3.platformCertificates', 'must be an array of PEM certificates');
      platformCertificates = v3.platformCertificates.map((pem, i) => {
        try {
          return loadCertificate(String(pem));
        } catch {
          throw new ConfigError(`paymentV3.platformCertificates[${i}]`, 'is not a PEM certificate');
        }
      });
    }
    const notifyUrl = (v3.notifyUrl as string | undefined) ?? options.paymentNotifyUrl;
    if (notifyUrl !== undefined) validateBaseUrl('paymentV3.notifyUrl', notifyUrl);
    paymentV3 = new PaymentV3({
      http: ctx.http,
      store: ctx.store,
      now: ctx.now,
      appId: ctx.appId,
      miniProgramAppId: v3.miniProgramAppId as string | undefined,
      merchantId,
      privateKey,
      certificateSerialNo: serial.toUpperCase(),
      apiV3Key,
      wechatpayPublicKey: publicKey,
      wechatpayPublicKeyId: publicKeyId,
      platformCertificates,
      notifyUrl,
      apiUrl,
      httpsAgent: ca ? makeAgent() : undefined,
      onError: ctx.onError,
    });
  }
  return { payment, paymentV3 };
}

/** The agent presenting the merchant client certificate, or undefined when none is configured. */
function clientCertificateAgent(
  options: PaymentOptions,
  merchantId: string,
  makeAgent: (extra: https.AgentOptions) => https.Agent,
): https.Agent | undefined {
  let tlsOptions: https.AgentOptions;
  let option: string;
  if (options.paymentCertificatePfx !== undefined) {
    option = 'paymentCertificatePfx';
    if (!isPem(options.paymentCertificatePfx))
      throw new ConfigError(option, 'must be the apiclient_cert.p12 file as a Buffer');
    // WeChat's p12 files use the merchant id as passphrase.
    tlsOptions = { pfx: options.paymentCertificatePfx, passphrase: options.paymentPassphrase ?? merchantId };
  } else if (options.paymentCertificate !== undefined || options.paymentPrivateKey !== undefined) {
    if (!isPem(options.paymentCertificate))
      throw new ConfigError('paymentCertificate', 'apiclient_cert.pem is required with paymentPrivateKey');
    if (!isPem(options.paymentPrivateKey))
      throw new ConfigError('paymentPrivateKey', 'apiclient_key.pem is required with paymentCertificate');
    option = 'paymentCertificate';
    tlsOptions = { cert: options.paymentCertificate, key: options.paymentPrivateKey };
  } else {
    return undefined;
  }
  try {
    // Parse now so a wrong passphrase or a mismatched pair fails at startup, not at the first refund.
    createSecureContext(tlsOptions);
  } catch (err) {
    const reason = /mac verify|password|passphrase/i.test(String((err as Error).message))
      ? 'the passphrase is wrong (paymentPassphrase, default: the merchant id)'
      : 'is not a usable certificate/key';
    throw new ConfigError(option, reason);
  }
  return makeAgent(tlsOptions);
}
