/**
 * WeChat Pay API v2 (`wx.payment`), with wechat-jssdk's method names: XML bodies signed with the merchant API key
 * (MD5 or HMAC-SHA256), responses and notifications verified before use, refund / fund flow / comments over the
 * merchant client certificate, and the v2 sandbox ("仿真测试": /sandboxnew/... with a sandbox sign key).
 *
 * Differences from the reference, on purpose: failures reject with WechatPayError (not the raw parsed XML);
 * responses and notifications with a missing or wrong `sign` are refused; amounts must be integers in fen and are
 * checked before sending; yuanToFen refuses more than two decimals instead of rounding.
 */
import type https from 'node:https';
import { gunzipSync } from 'node:zlib';
import createDebug from 'debug';
import { ConfigError, WechatPayError, WechatTransportError, type WechatPayErrorKind } from '../../errors';
import { nonceStr } from '../../crypto';
import type { HttpClient } from '../../http/HttpClient';
import { assertFen, fenToYuan, formatCurrency, yuanToFen } from '../amounts';
import { decryptReqInfo } from './crypto';
import { SIGN_TYPE, normalizeParams, signPayment, verifyPayment, type PaymentParams, type SignType } from './sign';
import { buildXML, parseXML } from './xml';

const log = createDebug('wechat:pay');

export const DEFAULT_PAYMENT_API_URL = 'https://api.mch.weixin.qq.com';
/** The v2 sandbox lives under this prefix of the same host. */
export const SANDBOX_PREFIX = '/sandboxnew';
/** return_msg of the v2 sandbox when the sandbox key is wrong or expired: fetch a new one and retry once. */
export const SANDBOX_SIGN_KEY_ERROR_MSG = '沙箱验证签名失败';

export const PAYMENT_PATHS = {
  UNIFIED_ORDER: '/pay/unifiedorder',
  QUERY_ORDER: '/pay/orderquery',
  CLOSE_ORDER: '/pay/closeorder',
  REFUND: '/secapi/pay/refund',
  QUERY_REFUND: '/pay/refundquery',
  DOWNLOAD_BILL: '/pay/downloadbill',
  DOWNLOAD_FUND_FLOW: '/pay/downloadfundflow',
  BATCH_QUERY_COMMENT: '/billcommentsp/batchquerycomment',
  QUERY_SETTLEMENT: '/pay/settlementquery',
  // sic: WeChat's path really is "exchagerate"
  QUERY_EXCHANGE_RATE: '/pay/queryexchagerate',
  SIGN_KEY: '/pay/getsignkey',
} as const;

const RESULT_CODE = { SUCCESS: 'SUCCESS', FAIL: 'FAIL' } as const;
const PAYMENT_TYPE = { JSAPI: 'JSAPI', NATIVE: 'NATIVE', APP: 'APP', MWEB: 'MWEB', MICROPAY: 'MICROPAY' } as const;
const TRADE_STATE = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '未支付',
  CLOSED: '已关闭',
  REVOKED: '已撤销（刷卡支付）',
  USERPAYING: '用户支付中',
  PAYERROR: '支付失败',
} as const;
const BILL_TYPE = { ALL: 'ALL', SUCCESS: 'SUCCESS', REFUND: 'REFUND', RECHARGE_REFUND: 'RECHARGE_REFUND' } as const;
const REFUND_STATUS = {
  SUCCESS: 'SUCCESS',
  REFUNDCLOSE: 'REFUNDCLOSE',
  PROCESSING: 'PROCESSING',
  CHANGE: 'CHANGE',
} as const;
const FUND_ACCOUNT_TYPE = { BASIC: 'Basic', OPERATION: 'Operation', FEES: 'Fees' } as const;
const COUPON_TYPE = { CASH: 'CASH', NO_CASH: 'NO_CASH' } as const;

const BEIJING_OFFSET_MS = 8 * 60 * 60_000;

export interface PaymentConfig {
  http: HttpClient;
  now: () => number;
  appId: string;
  merchantId: string;
  paymentKey: string;
  notifyUrl?: string;
  sandbox?: boolean;
  apiUrl?: string;
  /** Agent presenting the merchant client certificate (refund, fund flow, comments). */
  certAgent?: https.Agent;
  /** Agent for the other calls; only set when a private CA is trusted (the sandbox). */
  httpsAgent?: https.Agent;
}

export interface PaymentResult {
  /** What was sent, signed (no key). */
  requestData: Record<string, string>;
  /** WeChat's answer, verified. */
  responseData: Record<string, string>;
}

export interface DownloadResult {
  /** The raw body (gzip when requested). */
  data: Buffer;
  /** The bill text (decompressed). */
  body: string;
  /** WeChat's Digest header, when sent. */
  digest?: string;
}

interface CallOptions {
  signType?: SignType;
  cert?: boolean;
  idempotent?: boolean;
  /** Some answers carry no sign (sandbox key, exchange rate). */
  unsigned?: boolean;
  /** Sign with the real key even in sandbox mode (getsignkey). */
  realKey?: boolean;
  /** Fields merged by default (appid, mch_id, nonce_str, sign_type); false for getsignkey. */
  merge?: boolean;
}

export class Payment {
  static readonly SIGN_TYPE = SIGN_TYPE;
  static readonly PAYMENT_TYPE = PAYMENT_TYPE;
  static readonly TRADE_TYPE = PAYMENT_TYPE;
  static readonly TRADE_STATE = TRADE_STATE;
  static readonly DOWNLOAD_BILL_TYPE = BILL_TYPE;
  static readonly REFUND_STATUS = REFUND_STATUS;
  static readonly FUND_ACCOUNT_TYPE = FUND_ACCOUNT_TYPE;
  static readonly COUPON_TYPE = COUPON_TYPE;
  static readonly fenToYuan = fenToYuan;
  static readonly yuanToFen = yuanToFen;
  static readonly formatCurrency = formatCurrency;

  readonly merchantId: string;
  readonly appId: string;
  readonly notifyUrl?: string;
  readonly sandbox: boolean;
  private readonly apiUrl: string;
  private sandboxKey?: string;
  private sandboxKeyInflight?: Promise<string>;

  constructor(private readonly config: PaymentConfig) {
    this.merchantId = config.merchantId;
    this.appId = config.appId;
    this.notifyUrl = config.notifyUrl;
    this.sandbox = config.sandbox === true;
    this.apiUrl = (config.apiUrl ?? DEFAULT_PAYMENT_API_URL).replace(/\/+$/, '');
  }

  // ---- signatures ---------------------------------------------------------------------------------------------

  /** `params` plus their `sign` (with the current key: the sandbox key in sandbox mode, once fetched). */
  generateSignature(params: PaymentParams, signType: SignType = SIGN_TYPE.MD5): Record<string, string> {
    const normalized = normalizeParams(params);
    return { ...normalized, sign: signPayment(normalized, this.currentKey(), signType) };
  }

  /** wechat-jssdk's shape: `{ params, paySign }`. */
  generateGeneralPaymentSignature(params: PaymentParams, signType: SignType = SIGN_TYPE.MD5) {
    const normalized = normalizeParams(params);
    return { params: normalized, paySign: signPayment(normalized, this.currentKey(), signType) };
  }

  /** True when `params.sign` is valid for the current key. */
  verifySignature(params: PaymentParams, signType?: SignType): boolean {
    return verifyPayment(params, this.currentKey(), signType);
  }

  /**
   * Parameters for the JS-SDK's `wx.chooseWXPay` (note `timestamp`, lower case), as wechat-jssdk returns them.
   * The signature covers appId, timeStamp, nonceStr, package and signType.
   */
  async generateChooseWXPayInfo(prepayId: string, signType: SignType = SIGN_TYPE.MD5) {
    const p = await this.jsapiPayParams(prepayId, signType);
    return {
      timestamp: p.timeStamp,
      nonceStr: p.nonceStr,
      package: p.package,
      signType: p.signType,
      paySign: p.paySign,
    };
  }

  /** Parameters for WeixinJSBridge getBrandWCPayRequest / wx.requestPayment (v2). */
  async jsapiPayParams(prepayId: string, signType: SignType = SIGN_TYPE.MD5) {
    if (typeof prepayId !== 'string' || prepayId === '') {
      throw v2Error('PARAM_ERROR', 'jsapiPayParams', 'prepayId is required', 'param');
    }
    const params = {
      appId: this.appId,
      timeStamp: String(Math.floor(this.config.now() / 1000)),
      nonceStr: nonceStr(32),
      package: `prepay_id=${prepayId}`,
      signType,
    };
    return { ...params, paySign: signPayment(params, await this.signKey(), signType) };
  }

  /** `YYYYMMDDHHmmss` (Beijing time) + 16 random characters: 30 characters, within out_trade_no's 32. */
  simpleTradeNo(): string {
    return beijing(this.config.now()).replace(/\D/g, '').slice(0, 14) + nonceStr(16).toUpperCase();
  }

  /** `YYYYMMDD` in Beijing time (WeChat's bill days), from a Date, a time in ms, or now. */
  getDownloadBillDate(date?: Date | number | string): string {
    const ms = date === undefined ? this.config.now() : new Date(date).getTime();
    if (!Number.isFinite(ms)) throw v2Error('PARAM_ERROR', 'getDownloadBillDate', 'not a date', 'param');
    return beijing(ms).slice(0, 10).replace(/-/g, '');
  }

  /** The common fields of every request, then `custom`. */
  mergeParams(custom: PaymentParams, signType: SignType = SIGN_TYPE.MD5): PaymentParams {
    return { appid: this.appId, mch_id: this.merchantId, nonce_str: nonceStr(32), sign_type: signType, ...custom };
  }

  // ---- orders -------------------------------------------------------------------------------------------------

  /**
   * Unified order. `total_fee` (fen) is checked before sending; `out_trade_no` defaults to simpleTradeNo(),
   * `notify_url` to paymentNotifyUrl, `trade_type` to JSAPI.
   */
  async unifiedOrder(orderInfo: PaymentParams): Promise<PaymentResult> {
    assertFen(orderInfo?.total_fee, 'total_fee');
    const data = {
      out_trade_no: this.simpleTradeNo(),
      notify_url: this.notifyUrl,
      trade_type: PAYMENT_TYPE.JSAPI,
      device_info: 'WEB',
      ...orderInfo,
    };
    if (!data.notify_url) {
      throw new ConfigError(
        'paymentNotifyUrl',
        'unifiedOrder needs a notify_url: set paymentNotifyUrl or pass notify_url',
      );
    }
    const result = await this.call(PAYMENT_PATHS.UNIFIED_ORDER, data);
    if (!result.responseData.out_trade_no) result.responseData.out_trade_no = String(data.out_trade_no);
    return result;
  }

  /** `{ transaction_id }` or `{ out_trade_no }`. */
  queryOrder(queryInfo: PaymentParams): Promise<PaymentResult> {
    return this.call(PAYMENT_PATHS.QUERY_ORDER, queryInfo, { idempotent: true });
  }

  closeOrder(outTradeNo: string): Promise<PaymentResult> {
    return this.call(PAYMENT_PATHS.CLOSE_ORDER, { out_trade_no: outTradeNo });
  }

  /**
   * Refund over the merchant client certificate. `total_fee` and `refund_fee` (fen) are checked before sending.
   * Resolves the verified response fields, as wechat-jssdk did.
   */
  async refund(info: PaymentParams): Promise<Record<string, string>> {
    assertFen(info?.total_fee, 'total_fee');
    assertFen(info?.refund_fee, 'refund_fee');
    if (!info.out_refund_no) {
      throw v2Error('PARAM_ERROR', PAYMENT_PATHS.REFUND, 'out_refund_no is required', 'param');
    }
    return (await this.call(PAYMENT_PATHS.REFUND, info, { cert: true })).responseData;
  }

  /** By `transaction_id`, `out_trade_no`, `out_refund_no` or `refund_id` (and `offset`). */
  queryRefund(info: PaymentParams): Promise<PaymentResult> {
    return this.call(PAYMENT_PATHS.QUERY_REFUND, info, { idempotent: true });
  }

  /** A day's bill (`billDate` YYYYMMDD). Gzip is requested unless `noGzip`, and decompressed into `body`. */
  downloadBill(billDate: string, billType: string = BILL_TYPE.ALL, noGzip = false): Promise<DownloadResult> {
    return this.download(
      PAYMENT_PATHS.DOWNLOAD_BILL,
      { bill_date: billDate, bill_type: billType, tar_type: noGzip ? undefined : 'GZIP' },
      { idempotent: true },
    );
  }

  /** A day's fund flow of `accountType` (Basic, Operation, Fees); HMAC-SHA256 and client certificate. */
  downloadFundFlow(
    billDate: string,
    accountType: string = FUND_ACCOUNT_TYPE.BASIC,
    noGzip = false,
  ): Promise<DownloadResult> {
    return this.download(
      PAYMENT_PATHS.DOWNLOAD_FUND_FLOW,
      { bill_date: billDate, account_type: accountType, tar_type: noGzip ? undefined : 'GZIP' },
      { signType: SIGN_TYPE.HMAC_SHA256, cert: true, idempotent: true },
    );
  }

  /** User comments between `beginTime` and `endTime` (YYYYMMDDHHmmss): the text WeChat returns. */
  async queryComments(beginTime: string, endTime: string, offset = 0, limit?: number): Promise<string> {
    const result = await this.download(
      PAYMENT_PATHS.BATCH_QUERY_COMMENT,
      { begin_time: beginTime, end_time: endTime, offset, limit },
      { signType: SIGN_TYPE.HMAC_SHA256, cert: true, idempotent: true },
    );
    return result.body;
  }

  /** International merchants: foreign currency settlements. */
  querySettlement(query: PaymentParams): Promise<PaymentResult> {
    return this.call(PAYMENT_PATHS.QUERY_SETTLEMENT, query, { idempotent: true });
  }

  /** International merchants: the exchange rate of `fee_type` on `date` (no nonce_str / sign_type, as WeChat wants). */
  queryExchangeRate(query: PaymentParams): Promise<PaymentResult> {
    return this.call(
      PAYMENT_PATHS.QUERY_EXCHANGE_RATE,
      { ...query, nonce_str: null, sign_type: null },
      { idempotent: true, unsigned: true },
    );
  }

  /**
   * v2 sandbox: POST /sandboxnew/pay/getsignkey signed with the real key; the returned key then signs every
   * sandbox request (and verifies answers and notifications). Called automatically in sandbox mode.
   */
  async getSandboxSignKey(): Promise<Record<string, string>> {
    const { responseData } = await this.call(
      PAYMENT_PATHS.SIGN_KEY,
      { mch_id: this.merchantId, nonce_str: nonceStr(32) },
      { realKey: true, merge: false, unsigned: true },
    );
    if (!responseData.sandbox_signkey) {
      throw v2Error('BAD_RESPONSE', PAYMENT_PATHS.SIGN_KEY, 'no sandbox_signkey in the answer');
    }
    this.sandboxKey = responseData.sandbox_signkey;
    return responseData;
  }

  // ---- notifications ------------------------------------------------------------------------------------------

  /**
   * Parse and VERIFY a payment notification (the raw XML body). Throws XmlError for bad XML (including any
   * DOCTYPE), WechatPayError kind `untrusted` when the sign is missing or wrong or the mch_id is not ours.
   */
  async parseNotifyResult(xml: string | Buffer): Promise<Record<string, string>> {
    const data = parseXML(xml);
    const untrusted = (message: string) => v2Error('UNTRUSTED', 'notification', message, 'untrusted');
    if (!data.sign) throw untrusted('the notification has no sign');
    if (data.mch_id !== this.merchantId) throw untrusted('the notification is for another mch_id');
    if (!verifyPayment(data, await this.signKey()))
      throw untrusted('the sign does not match the fields (forged or altered)');
    return data;
  }

  /** wechat-jssdk's name; verifies too (the reference only parsed). */
  parseNotifyData(xml: string | Buffer): Promise<Record<string, string>> {
    return this.parseNotifyResult(xml);
  }

  /**
   * A refund notification: `req_info` decrypted with md5(key). A req_info that does not decrypt with our key is
   * refused (kind `untrusted`): that is what authenticates refund notifications, which carry no sign.
   */
  async decryptRefundNotifyResult(
    xml: string | Buffer,
  ): Promise<{ parsedXMLData: Record<string, string>; decryptedData: Record<string, string> }> {
    const data = parseXML(xml);
    const untrusted = (message: string, cause?: unknown) =>
      v2Error('UNTRUSTED', 'refund notification', message, 'untrusted', cause);
    if (data.return_code !== RESULT_CODE.SUCCESS || !data.req_info)
      throw untrusted('no req_info (return_code is not SUCCESS)');
    if (data.mch_id !== this.merchantId) throw untrusted('the notification is for another mch_id');
    let plain: string;
    try {
      plain = decryptReqInfo(data.req_info, await this.signKey());
    } catch (err) {
      throw untrusted('req_info does not decrypt with the merchant key (forged or altered)', err);
    }
    return { parsedXMLData: data, decryptedData: parseXML(plain) };
  }

  /** The XML to answer a notification with; FAIL makes WeChat retry later. */
  async replyData(isSuccess: boolean, message?: string): Promise<string> {
    return isSuccess
      ? buildXML({ return_code: RESULT_CODE.SUCCESS, return_msg: message ?? 'OK' })
      : buildXML({ return_code: RESULT_CODE.FAIL, return_msg: message ?? 'FAIL' });
  }

  close(): void {
    this.config.certAgent?.destroy();
    this.config.httpsAgent?.destroy();
  }

  // ---- transport ------------------------------------------------------------------------------------------------

  private currentKey(): string {
    if (!this.sandbox) return this.config.paymentKey;
    if (!this.sandboxKey) throw v2Error('NO_SANDBOX_KEY', 'sign', 'sandbox mode: await getSandboxSignKey() first');
    return this.sandboxKey;
  }

  /** The key that signs requests now: the sandbox key (fetched once, single flight) in sandbox mode. */
  private async signKey(): Promise<string> {
    if (!this.sandbox) return this.config.paymentKey;
    if (this.sandboxKey) return this.sandboxKey;
    this.sandboxKeyInflight ??= this.getSandboxSignKey()
      .then(() => this.sandboxKey as string)
      .finally(() => {
        this.sandboxKeyInflight = undefined;
      });
    return this.sandboxKeyInflight;
  }

  private url(path: string): string {
    return `${this.apiUrl}${this.sandbox ? SANDBOX_PREFIX : ''}${path}`;
  }

  private agentFor(path: string, cert: boolean | undefined): https.Agent | undefined {
    if (!cert) return this.config.httpsAgent;
    if (!this.config.certAgent) {
      throw new ConfigError(
        'paymentCertificatePfx',
        `${path} needs the merchant API certificate: set paymentCertificatePfx (apiclient_cert.p12) or paymentCertificate + paymentPrivateKey`,
      );
    }
    return this.config.certAgent;
  }

  /** Sign and send; resolves the raw answer. */
  private async send(path: string, fields: PaymentParams, options: CallOptions, responseType: 'text' | 'buffer') {
    const httpsAgent = this.agentFor(path, options.cert);
    const key = options.realKey ? this.config.paymentKey : await this.signKey();
    const params = normalizeParams(options.merge === false ? fields : this.mergeParams(fields, options.signType));
    // A caller may choose HMAC-SHA256 through the sign_type field itself: sign with what the message says.
    const signType = (params.sign_type as SignType | undefined) ?? options.signType ?? SIGN_TYPE.MD5;
    const requestData = { ...params, sign: signPayment(params, key, signType) };
    const raw = await this.config.http.requestRaw<string | Buffer>({
      method: 'POST',
      path: this.url(path),
      body: buildXML(requestData),
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      responseType,
      idempotent: options.idempotent,
      httpsAgent,
      label: path,
    });
    if (raw.status !== 200) throw new WechatTransportError(`WeChat Pay ${path}: HTTP ${raw.status}`, path, raw.status);
    return { requestData, raw, key, signType };
  }

  private async call(
    path: string,
    fields: PaymentParams,
    options: CallOptions = {},
    attempt = 1,
  ): Promise<PaymentResult> {
    const { requestData, raw, key, signType } = await this.send(path, fields, options, 'text');
    const responseData = parseXML(raw.data as string);
    if (responseData.return_code !== RESULT_CODE.SUCCESS) {
      const message = responseData.return_msg ?? '';
      // The sandbox key expired or was replaced: fetch a new one and try once more (as wechat-jssdk did).
      if (this.sandbox && !options.realKey && attempt === 1 && message.includes(SANDBOX_SIGN_KEY_ERROR_MSG)) {
        log('sandbox sign key refused: fetching a new one');
        this.sandboxKey = undefined;
        return this.call(path, fields, options, attempt + 1);
      }
      throw this.failure(path, responseData);
    }
    if (!options.unsigned || responseData.sign) {
      if (!verifyPayment(responseData, key, signType)) {
        const why = responseData.sign ? 'the answer sign does not match (forged or altered)' : 'the answer has no sign';
        throw v2Error('UNTRUSTED', path, why, 'untrusted');
      }
    }
    if (responseData.result_code === RESULT_CODE.FAIL) throw this.failure(path, responseData);
    return { requestData, responseData };
  }

  private async download(path: string, fields: PaymentParams, options: CallOptions): Promise<DownloadResult> {
    const { raw } = await this.send(path, fields, options, 'buffer');
    const data = raw.data as Buffer;
    // A failure comes back as v2 XML instead of the file.
    if (/^\s*<xml>/.test(data.subarray(0, 64).toString('utf8'))) throw this.failure(path, parseXML(data));
    const isGzip = data.length > 2 && data[0] === 0x1f && data[1] === 0x8b;
    let body: string;
    try {
      body = (isGzip ? gunzipSync(data) : data).toString('utf8');
    } catch (err) {
      throw new WechatTransportError(`WeChat Pay ${path}: the gzip body is corrupt`, path, raw.status, { cause: err });
    }
    return { data, body, digest: raw.headers.digest };
  }

  private failure(path: string, data: Record<string, string>): WechatPayError {
    if (data.return_code !== RESULT_CODE.SUCCESS) {
      const message = data.return_msg ?? '';
      const signError = /签名|sign/i.test(message);
      return v2Error(signError ? 'SIGNERROR' : (data.err_code ?? 'FAIL'), path, message);
    }
    return v2Error(data.err_code ?? 'FAIL', path, data.err_code_des ?? data.return_msg);
  }
}

/** A v2 failure; `kind` defaults to the one WechatPayError derives from `payCode`. */
function v2Error(
  payCode: string,
  path: string,
  message: string | undefined,
  kind?: WechatPayErrorKind,
  cause?: unknown,
): WechatPayError {
  return new WechatPayError({ version: 'v2', payCode, path, message, kind, cause });
}

/** `YYYY-MM-DDTHH:mm:ss` in Beijing time (UTC+8, no daylight saving). */
function beijing(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19);
}
