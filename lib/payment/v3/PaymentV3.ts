/**
 * WeChat Pay API v3 (`wx.paymentV3`): JSON over HTTPS, every request signed with the merchant's private key
 * (Authorization: WECHATPAY2-SHA256-RSA2048), every successful response verified with WeChat Pay's key before it
 * is used, callbacks verified and their resource decrypted with the APIv3 key. Amounts are integers in fen and
 * are checked before anything is sent.
 */
import type https from 'node:https';
import { KeyObject, createPrivateKey } from 'node:crypto';
import createDebug from 'debug';
import { WechatPayError, WechatTransportError } from '../../errors';
import { nonceStr } from '../../crypto';
import type { HttpClient } from '../../http/HttpClient';
import type { Store } from '../../store/Store';
import { assertFen } from '../amounts';
import { DEFAULT_PAYMENT_API_URL } from '../v2/Payment';
import { PlatformKeys, type PlatformCertificate } from './certificates';
import { decryptResource, type EncryptedResource } from './crypto';
import { buildAuthorization, jsapiPaySign, signedMessageOf, verifySignedMessage } from './sign';

const log = createDebug('wechat:pay');

const USER_AGENT = 'wechat-jssdk-ts (WeChat Pay v3)';

export interface PaymentV3Config {
  http: HttpClient;
  store: Store;
  now: () => number;
  /** The official account / app appid put in orders (`appid`). */
  appId: string;
  /** appid used by miniProgram() orders and pay parameters (default: appId). */
  miniProgramAppId?: string;
  merchantId: string;
  privateKey: KeyObject;
  certificateSerialNo: string;
  apiV3Key: string;
  wechatpayPublicKey?: KeyObject;
  wechatpayPublicKeyId?: string;
  platformCertificates?: PlatformCertificate[];
  notifyUrl?: string;
  apiUrl?: string;
  /** Agent for the payment host (only set when a private CA is trusted, e.g. the sandbox). */
  httpsAgent?: https.Agent;
  onError?: (err: unknown) => void;
}

export interface V3Amount {
  total: number;
  currency?: string;
  [field: string]: unknown;
}

/** Order fields as WeChat Pay v3 names them; appid, mchid and notify_url are filled in. */
export interface V3Order {
  description: string;
  out_trade_no: string;
  amount: V3Amount;
  notify_url?: string;
  attach?: string;
  time_expire?: string;
  [field: string]: unknown;
}

export interface V3JsapiOrder extends V3Order {
  payer: { openid: string; [field: string]: unknown };
}

export interface V3H5Order extends V3Order {
  scene_info: {
    payer_client_ip: string;
    h5_info: { type: string; [field: string]: unknown };
    [field: string]: unknown;
  };
}

export interface V3RefundRequest {
  transaction_id?: string;
  out_trade_no?: string;
  out_refund_no: string;
  reason?: string;
  notify_url?: string;
  amount: { refund: number; total: number; currency?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** What WeixinJSBridge.invoke('getBrandWCPayRequest') and wx.requestPayment take. */
export interface V3PayParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'RSA';
  paySign: string;
}

export interface V3Notification<T = Record<string, unknown>> {
  id: string;
  create_time: string;
  event_type: string;
  resource_type: string;
  summary?: string;
  /** The decrypted resource (a transaction for TRANSACTION.*, a refund for REFUND.*). */
  resource: T;
  /** The encrypted resource as received. */
  rawResource: EncryptedResource;
}

export class PaymentV3 {
  readonly merchantId: string;
  readonly appId: string;
  readonly keys: PlatformKeys;
  private readonly apiUrl: string;

  constructor(private readonly config: PaymentV3Config) {
    this.merchantId = config.merchantId;
    this.appId = config.appId;
    this.apiUrl = (config.apiUrl ?? DEFAULT_PAYMENT_API_URL).replace(/\/+$/, '');
    this.keys = new PlatformKeys({
      merchantId: config.merchantId,
      apiV3Key: config.apiV3Key,
      publicKey: config.wechatpayPublicKey,
      publicKeyId: config.wechatpayPublicKeyId,
      certificates: config.platformCertificates,
      store: config.store,
      now: config.now,
      onError: config.onError,
      download: async () => {
        const raw = await this.send('GET', '/v3/certificates', undefined, { verify: false, idempotent: true });
        return { headers: raw.headers, body: raw.body };
      },
    });
  }

  // ---- orders ---------------------------------------------------------------------------------------------------

  /** JSAPI order (official account pages): resolves `{ prepay_id }`; then jsapiPayParams(prepay_id). */
  jsapi(order: V3JsapiOrder): Promise<{ prepay_id: string }> {
    return this.placeOrder('/v3/pay/transactions/jsapi', this.config.appId, order);
  }

  /** Mini-program order: JSAPI with the mini program's appid; then miniProgramPayParams(prepay_id). */
  miniProgram(order: V3JsapiOrder): Promise<{ prepay_id: string }> {
    return this.placeOrder('/v3/pay/transactions/jsapi', this.miniProgramAppId, order);
  }

  /** H5 order (mobile browsers outside WeChat): resolves `{ h5_url }`. */
  h5(order: V3H5Order): Promise<{ h5_url: string }> {
    return this.placeOrder('/v3/pay/transactions/h5', this.config.appId, order);
  }

  /** Native order (QR code): resolves `{ code_url }`. */
  native(order: V3Order): Promise<{ code_url: string }> {
    return this.placeOrder('/v3/pay/transactions/native', this.config.appId, order);
  }

  /** Query by `transaction_id` (WeChat's id) or `out_trade_no` (yours). */
  async queryOrder(by: { transaction_id: string } | { out_trade_no: string }): Promise<Record<string, unknown>> {
    const mchid = encodeURIComponent(this.merchantId);
    if ('transaction_id' in by && by.transaction_id) {
      return this.call('GET', `/v3/pay/transactions/id/${segment(by.transaction_id, 'transaction_id')}?mchid=${mchid}`);
    }
    const outTradeNo = (by as { out_trade_no?: string }).out_trade_no;
    return this.call('GET', `/v3/pay/transactions/out-trade-no/${segment(outTradeNo, 'out_trade_no')}?mchid=${mchid}`);
  }

  queryOrderByTransactionId(transactionId: string): Promise<Record<string, unknown>> {
    return this.queryOrder({ transaction_id: transactionId });
  }

  queryOrderByOutTradeNo(outTradeNo: string): Promise<Record<string, unknown>> {
    return this.queryOrder({ out_trade_no: outTradeNo });
  }

  /** Close an unpaid order (WeChat answers 204). */
  async closeOrder(outTradeNo: string): Promise<void> {
    await this.call('POST', `/v3/pay/transactions/out-trade-no/${segment(outTradeNo, 'out_trade_no')}/close`, {
      mchid: this.merchantId,
    });
  }

  /** Refund (no client certificate in v3). Amounts are checked before sending. */
  async refund(request: V3RefundRequest): Promise<Record<string, unknown>> {
    assertFen(request?.amount?.refund, 'amount.refund', false);
    assertFen(request?.amount?.total, 'amount.total', false);
    if (!request.transaction_id && !request.out_trade_no) {
      throw new WechatPayError({
        version: 'v3',
        payCode: 'PARAM_ERROR',
        path: '/v3/refund/domestic/refunds',
        message: 'transaction_id or out_trade_no is required',
        kind: 'param',
      });
    }
    const notify = request.notify_url ?? this.config.notifyUrl;
    return this.call('POST', '/v3/refund/domestic/refunds', {
      ...request,
      ...(notify ? { notify_url: notify } : {}),
      amount: { currency: 'CNY', ...request.amount },
    });
  }

  async queryRefund(outRefundNo: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/v3/refund/domestic/refunds/${segment(outRefundNo, 'out_refund_no')}`);
  }

  // ---- pay parameters ---------------------------------------------------------------------------------------------

  /** Parameters for WeixinJSBridge getBrandWCPayRequest (official account pages), RSA-signed. */
  jsapiPayParams(prepayId: string, appId = this.config.appId): V3PayParams {
    const timeStamp = String(Math.floor(this.config.now() / 1000));
    const nonce = nonceStr(32);
    const pkg = `prepay_id=${prepayId}`;
    return {
      appId,
      timeStamp,
      nonceStr: nonce,
      package: pkg,
      signType: 'RSA',
      paySign: jsapiPaySign(this.config.privateKey, appId, timeStamp, nonce, pkg),
    };
  }

  /** Parameters for the mini program's wx.requestPayment (pass all but appId). */
  miniProgramPayParams(prepayId: string): V3PayParams {
    return this.jsapiPayParams(prepayId, this.miniProgramAppId);
  }

  // ---- callbacks ----------------------------------------------------------------------------------------------

  /**
   * Verify a payment or refund callback (Wechatpay-* headers + the RAW body text, before any JSON parsing by a
   * framework) and decrypt its resource. Throws WechatPayError (kind `untrusted`) for anything not proven to come
   * from WeChat Pay: missing headers, a stale timestamp, an unknown serial, a signature or GCM tag mismatch.
   */
  async parseNotification<T = Record<string, unknown>>(
    headers: Record<string, string | string[] | undefined>,
    rawBody: string | Buffer,
  ): Promise<V3Notification<T>> {
    const body = Buffer.isBuffer(rawBody) ? rawBody.toString('utf8') : String(rawBody ?? '');
    await verifySignedMessage(signedMessageOf(headers, body), {
      what: 'notification',
      now: this.config.now(),
      resolveKey: (serial) => this.keys.resolve(serial),
    });
    let parsed: Omit<V3Notification<T>, 'resource' | 'rawResource'> & { resource: EncryptedResource };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new WechatPayError({
        version: 'v3',
        payCode: 'BAD_NOTIFICATION',
        path: 'notification',
        message: 'the body is not JSON',
      });
    }
    return { ...parsed, rawResource: parsed.resource, resource: this.decryptResource<T>(parsed.resource) };
  }

  /** Decrypt a `resource` object (AES-256-GCM with the APIv3 key). */
  decryptResource<T = Record<string, unknown>>(resource: EncryptedResource): T {
    return JSON.parse(decryptResource(resource, this.config.apiV3Key)) as T;
  }

  /** The HTTP answer to give WeChat Pay: 204 when handled, else 500 with `{ code: 'FAIL', message }` (retried). */
  notifyReply(success: boolean, message = 'failed'): { status: number; body: string } {
    return success ? { status: 204, body: '' } : { status: 500, body: JSON.stringify({ code: 'FAIL', message }) };
  }

  /** The platform certificates known now (downloads /v3/certificates when none are cached). */
  certificates(): Promise<PlatformCertificate[]> {
    return this.keys.list();
  }

  close(): void {
    this.keys.close();
    this.config.httpsAgent?.destroy();
  }

  // ---- transport ------------------------------------------------------------------------------------------------

  /** Any v3 API: signed request, verified response, typed errors. `path` includes the query string. */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const raw = await this.send(method, path, body, { verify: true, idempotent: method === 'GET' });
    if (raw.body === '') return undefined as T;
    try {
      return JSON.parse(raw.body) as T;
    } catch {
      throw new WechatTransportError(
        `WeChat Pay ${label(path)}: HTTP ${raw.status} returned a body that is not JSON`,
        label(path),
        raw.status,
      );
    }
  }

  private get miniProgramAppId(): string {
    return this.config.miniProgramAppId ?? this.config.appId;
  }

  private async placeOrder<T>(path: string, appid: string, order: V3Order): Promise<T> {
    assertFen(order?.amount?.total, 'amount.total', false);
    const notify = order.notify_url ?? this.config.notifyUrl;
    if (!notify) {
      throw new WechatPayError({
        version: 'v3',
        payCode: 'PARAM_ERROR',
        path,
        kind: 'param',
        message: 'notify_url is required: pass it or set paymentV3.notifyUrl / paymentNotifyUrl',
      });
    }
    return this.call<T>('POST', path, {
      appid,
      mchid: this.merchantId,
      ...order,
      notify_url: notify,
      amount: { currency: 'CNY', ...order.amount },
    });
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    options: { verify: boolean; idempotent: boolean },
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const authorization = buildAuthorization({
      mchid: this.merchantId,
      serialNo: this.config.certificateSerialNo,
      privateKey: this.config.privateKey,
      method,
      url: path,
      body: text,
      timestamp: Math.floor(this.config.now() / 1000),
      nonce: nonceStr(32),
    });
    const raw = await this.config.http.requestRaw<string>({
      method,
      path: `${this.apiUrl}${path}`,
      body: text === '' ? undefined : text,
      headers: {
        Authorization: authorization,
        Accept: 'application/json',
        'User-Agent': USER_AGENT,
        ...(text === '' ? {} : { 'Content-Type': 'application/json' }),
        // Public-key merchants name the key they hold, so WeChat Pay signs the answer with it.
        ...(this.config.wechatpayPublicKeyId ? { 'Wechatpay-Serial': this.config.wechatpayPublicKeyId } : {}),
      },
      responseType: 'text',
      idempotent: options.idempotent,
      httpsAgent: this.config.httpsAgent,
      label: label(path),
    });
    if (raw.status >= 400) throw this.errorOf(path, raw.status, raw.data);
    if (raw.status < 200 || raw.status >= 300) {
      throw new WechatTransportError(`WeChat Pay ${label(path)}: HTTP ${raw.status}`, label(path), raw.status);
    }
    if (options.verify) {
      // WeChat Pay: "a successful answer without a signature must be treated as forged or altered".
      await verifySignedMessage(signedMessageOf(raw.headers, raw.data), {
        what: label(path),
        now: this.config.now(),
        resolveKey: (serial) => this.keys.resolve(serial),
      });
    }
    log('%s %s -> %d', method, label(path), raw.status);
    return { status: raw.status, headers: raw.headers, body: raw.data };
  }

  private errorOf(path: string, status: number, text: string): Error {
    let parsed: { code?: unknown; message?: unknown; detail?: unknown } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed.code !== 'string') {
      return new WechatTransportError(`WeChat Pay ${label(path)}: HTTP ${status}`, label(path), status);
    }
    return new WechatPayError({
      version: 'v3',
      payCode: parsed.code,
      path: label(path),
      message: typeof parsed.message === 'string' ? parsed.message : '',
      status,
      detail: parsed.detail,
    });
  }
}

/** The path without query, for logs and errors. */
function label(path: string): string {
  return path.replace(/\?.*$/, '');
}

function segment(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new WechatPayError({
      version: 'v3',
      payCode: 'PARAM_ERROR',
      path: field,
      kind: 'param',
      message: `${field} is required`,
    });
  }
  return encodeURIComponent(value);
}

/** Parse a PEM/DER private key option; throws the original error for the caller to wrap. */
export function loadPrivateKey(value: string | Buffer | KeyObject): KeyObject {
  return value instanceof KeyObject ? value : createPrivateKey(value);
}
