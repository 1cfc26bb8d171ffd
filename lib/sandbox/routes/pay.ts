/**
 * WeChat Pay merchant API emulator (v2 here, v3 in payV3.ts), on its own listener `sandbox.payUrl`:
 * HTTPS with `startSandbox({ payCertificates })` (so refunds can require the merchant client certificate, as the
 * real /secapi/ endpoints do), plain HTTP otherwise. Paths follow https://api.mch.weixin.qq.com, so the SDK only
 * needs `paymentApiUrl: sandbox.payUrl` (and `paymentCa` for the sandbox's private CA).
 *
 * v2: every request's `sign` is checked with the merchant key (the sandbox key under /sandboxnew), answers are
 * signed with the request's sign_type, business failures use WeChat's err_code values. /secapi/pay/refund,
 * /pay/downloadfundflow and /billcommentsp/batchquerycomment need a client certificate issued to the mch_id.
 *
 * The user's side is played by `sandbox.payOrder(outTradeNo)` (pays the order and POSTs the payment
 * notification to its notify_url) and `sandbox.completeRefund(outRefundNo)` (settles a refund and POSTs the
 * refund notification); both resolve the merchant's reply. Control routes: POST /__sandbox/pay/order
 * `{ out_trade_no }`, POST /__sandbox/pay/refund `{ out_refund_no }`, GET /__sandbox/pay/orders.
 */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomInt,
  type KeyObject,
} from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { closeServer, listenOn, ok, readBody, type SandboxCore } from '../core';
import { nonceStr } from '../../crypto';
import { formatFen } from '../../payment/amounts';
import { SIGN_TYPE, signPayment, verifyPayment, type SignType } from '../../payment/v2/sign';
import { buildXML, parseXML } from '../../payment/v2/xml';
import { encryptReqInfo } from '../../payment/v2/crypto';
import type { PayCertificates } from './payCerts';
import { payV3Routes, sendV3Notification } from './payV3';

export interface SandboxMerchant {
  mchId: string;
  /** v2 API key (32 characters). */
  key: string;
  /** v3: the APIv3 key (32 characters). */
  apiV3Key?: string;
  /** v3: the merchant API certificate (PEM); its key verifies Authorization and its serial is serial_no. */
  certificate?: string;
  /** v3, without a certificate: the merchant's public key (PEM) and the serial to expect. */
  publicKey?: string;
  serialNo?: string;
}

export interface SandboxOrder {
  version: 'v2' | 'v3';
  mchId: string;
  appid: string;
  outTradeNo: string;
  transactionId?: string;
  prepayId: string;
  tradeType: string;
  total: number;
  description: string;
  notifyUrl: string;
  openid?: string;
  attach?: string;
  state: 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND';
  paidAt?: number;
  createdAt: number;
  /** v2: the key and sign type the order was made with (the sandbox key under /sandboxnew). */
  signKey?: string;
  signType?: SignType;
  /** The request fields, to answer an identical repeat with the same prepay_id. */
  fingerprint: string;
}

export interface SandboxRefund {
  version: 'v2' | 'v3';
  mchId: string;
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  amount: number;
  status: 'PROCESSING' | 'SUCCESS';
  notifyUrl?: string;
  createdAt: number;
  succeededAt?: number;
  reason?: string;
}

/** What the merchant's notify_url answered. */
export interface NotificationDelivery {
  url: string;
  status: number;
  body: string;
  /** The merchant acknowledged (v2: return_code SUCCESS; v3: HTTP 2xx). */
  delivered: boolean;
  /** What was sent, for tests that replay or tamper with it. */
  sent: { headers: Record<string, string>; body: string };
}

export interface PayRequest {
  method: string;
  /** Path without query. */
  path: string;
  /** Path and query exactly as received (what v3 signs). */
  rawUrl: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client certificate's CN when one was presented and chains to the sandbox CA. */
  clientCn?: string;
}

export interface PayResponse {
  status?: number;
  body: string | Buffer;
  headers?: Record<string, string>;
}

type PayHandler = (req: PayRequest, match: RegExpMatchArray) => PayResponse | Promise<PayResponse>;

export const PAY_SANDBOX_PREFIX = '/sandboxnew';
const BEIJING_OFFSET_MS = 8 * 60 * 60_000;

/** `YYYY-MM-DDTHH:mm:ss` in Beijing time (UTC+8, no daylight saving). */
function beijingIso(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19);
}

/** `YYYYMMDDHHmmss` in Beijing time (v2 time_end). */
export function beijingCompact(ms: number): string {
  return beijingIso(ms).replace(/\D/g, '');
}

/** RFC 3339 with +08:00 (v3 times). */
export function beijingRfc3339(ms: number): string {
  return `${beijingIso(ms)}+08:00`;
}

/** `YYYY-MM-DD HH:mm:ss` in Beijing time (v2 refund times, bill rows). */
function beijingDateTime(ms: number): string {
  return beijingIso(ms).replace('T', ' ');
}

function digits(n: number): string {
  let out = '';
  while (out.length < n) out += String(randomInt(0, 10));
  return out;
}

export class PayState {
  readonly merchants = new Map<string, SandboxMerchant & { v3Key?: KeyObject; v3Serial?: string }>();
  readonly orders = new Map<string, SandboxOrder>();
  readonly refunds = new Map<string, SandboxRefund>();
  /** Sandbox sign keys issued by /sandboxnew/pay/getsignkey (the latest per merchant). */
  readonly sandboxKeys = new Map<string, string>();
  readonly deliveries: NotificationDelivery[] = [];
  /** The platform certificate (with payCertificates) and the WeChat Pay public key, which sign v3 answers. */
  platform?: { key: KeyObject; serialNo: string; cert: string; notBefore: number; notAfter: number };
  private wechatpayKey?: { id: string; privateKey: KeyObject; pem: string };
  /** Per merchant: 'publicKey' once it sent Wechatpay-Serial: PUB_KEY_ID_... (callbacks then use that key). */
  readonly verifyMode = new Map<string, 'publicKey' | 'certificate'>();
  url = '';
  private server?: http.Server | https.Server;
  private readonly exact = new Map<string, PayHandler>();
  private readonly patterns: Array<{ method: string; re: RegExp; handler: PayHandler }> = [];

  constructor(readonly core: SandboxCore) {}

  /** The WeChat Pay public key (id `PUB_KEY_ID_...`, PEM) and its private half; made on first use. */
  get publicKey(): { id: string; privateKey: KeyObject; pem: string } {
    if (!this.wechatpayKey) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.wechatpayKey = {
        id: `PUB_KEY_ID_0${digits(31)}`,
        privateKey: pair.privateKey,
        pem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      };
    }
    return this.wechatpayKey;
  }

  // ---- setup ------------------------------------------------------------------------------------------------

  addMerchant(merchant: SandboxMerchant): void {
    if (!merchant?.mchId || !merchant.key) throw new Error('sandbox merchant needs mchId and key');
    let v3Key: KeyObject | undefined;
    let v3Serial: string | undefined;
    if (merchant.certificate) {
      const cert = new X509Certificate(merchant.certificate);
      v3Key = cert.publicKey;
      v3Serial = cert.serialNumber.toUpperCase();
    } else if (merchant.publicKey) {
      v3Key = createPublicKey(merchant.publicKey);
      v3Serial = merchant.serialNo?.toUpperCase();
    }
    this.merchants.set(merchant.mchId, { ...merchant, v3Key, v3Serial });
  }

  route(method: 'GET' | 'POST', path: string | RegExp, handler: PayHandler): void {
    if (typeof path === 'string') this.exact.set(`${method} ${path}`, handler);
    else this.patterns.push({ method, re: path, handler });
  }

  /** Start the payment listener: HTTPS when certificates are given, else HTTP. */
  async listen(options: { host?: string; port?: number; certificates?: PayCertificates }): Promise<void> {
    const host = options.host ?? '127.0.0.1';
    const certs = options.certificates;
    if (certs) {
      const platform = new X509Certificate(certs.platform.cert);
      this.platform = {
        key: createPrivateKey(certs.platform.key),
        serialNo: platform.serialNumber.toUpperCase(),
        cert: certs.platform.cert,
        notBefore: Date.parse(platform.validFrom),
        notAfter: Date.parse(platform.validTo),
      };
      // requestCert without rejectUnauthorized: every route is reachable, the /secapi ones check the certificate
      // themselves and answer in WeChat's format instead of failing the handshake.
      this.server = https.createServer(
        { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true, rejectUnauthorized: false },
        (req, res) => void this.handle(req, res),
      );
    } else {
      this.server = http.createServer((req, res) => void this.handle(req, res));
    }
    this.url = `${certs ? 'https' : 'http'}://${host}:${await listenOn(this.server, options.port ?? 0, host)}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  // ---- lookups ----------------------------------------------------------------------------------------------

  order(mchId: string, outTradeNo: string): SandboxOrder | undefined {
    return this.orders.get(`${mchId}:${outTradeNo}`);
  }

  orderByTransaction(mchId: string, transactionId: string): SandboxOrder | undefined {
    for (const order of this.orders.values()) {
      if (order.mchId === mchId && order.transactionId === transactionId) return order;
    }
    return undefined;
  }

  findOrder(outTradeNo: string, mchId?: string): SandboxOrder {
    for (const order of this.orders.values()) {
      if (order.outTradeNo === outTradeNo && (mchId === undefined || order.mchId === mchId)) return order;
    }
    throw new Error(`sandbox: no order ${outTradeNo}`);
  }

  refundsOf(order: SandboxOrder): SandboxRefund[] {
    return [...this.refunds.values()].filter((r) => r.mchId === order.mchId && r.outTradeNo === order.outTradeNo);
  }

  refunded(order: SandboxOrder): number {
    return this.refundsOf(order).reduce((sum, r) => sum + r.amount, 0);
  }

  newOrder(init: Omit<SandboxOrder, 'prepayId' | 'state' | 'createdAt'>): SandboxOrder {
    const order: SandboxOrder = {
      ...init,
      prepayId: `wx${beijingCompact(this.core.now())}${randomBytes(9).toString('hex')}`,
      state: 'NOTPAY',
      createdAt: this.core.now(),
    };
    this.orders.set(`${order.mchId}:${order.outTradeNo}`, order);
    return order;
  }

  newRefund(
    order: SandboxOrder,
    init: { outRefundNo: string; amount: number; notifyUrl?: string; reason?: string; version: 'v2' | 'v3' },
  ): SandboxRefund {
    const refund: SandboxRefund = {
      ...init,
      mchId: order.mchId,
      outTradeNo: order.outTradeNo,
      refundId: `50${digits(27)}`,
      status: 'PROCESSING',
      createdAt: this.core.now(),
    };
    this.refunds.set(`${order.mchId}:${init.outRefundNo}`, refund);
    order.state = 'REFUND';
    return refund;
  }

  // ---- the user's side --------------------------------------------------------------------------------------

  /** The user pays `outTradeNo` (as `userId` when the order has no openid); WeChat notifies the merchant. */
  async payOrder(outTradeNo: string, options: { mchId?: string; userId?: string } = {}): Promise<NotificationDelivery> {
    const order = this.findOrder(outTradeNo, options.mchId);
    if (order.state !== 'NOTPAY') throw new Error(`sandbox: order ${outTradeNo} is ${order.state}, not payable`);
    order.state = 'SUCCESS';
    order.paidAt = this.core.now();
    order.transactionId = `42${digits(26)}`;
    order.openid ??= this.core.openid(order.appid, options.userId ?? this.core.users[0]?.id ?? 'alice');
    return order.version === 'v3'
      ? sendV3Notification(this, order, 'TRANSACTION.SUCCESS')
      : this.sendV2PayNotification(order);
  }

  /** WeChat finishes a refund; notifies its notify_url when it had one (else resolves undefined). */
  async completeRefund(outRefundNo: string, mchId?: string): Promise<NotificationDelivery | undefined> {
    const refund = [...this.refunds.values()].find(
      (r) => r.outRefundNo === outRefundNo && (mchId === undefined || r.mchId === mchId),
    );
    if (!refund) throw new Error(`sandbox: no refund ${outRefundNo}`);
    refund.status = 'SUCCESS';
    refund.succeededAt = this.core.now();
    if (!refund.notifyUrl) return undefined;
    const order = this.order(refund.mchId, refund.outTradeNo)!;
    return refund.version === 'v3'
      ? sendV3Notification(this, order, 'REFUND.SUCCESS', refund)
      : this.sendV2RefundNotification(order, refund);
  }

  /** POST to a merchant's notify_url and record the answer. */
  async deliver(
    url: string,
    body: string,
    headers: Record<string, string>,
    acknowledged: (status: number, text: string) => boolean,
  ) {
    let status = 0;
    let text = '';
    try {
      const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(5000) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      text = `sandbox: delivery failed: ${(err as Error).message}`;
    }
    let delivered = false;
    try {
      delivered = status > 0 && acknowledged(status, text);
    } catch {
      delivered = false;
    }
    const delivery: NotificationDelivery = { url, status, body: text, delivered, sent: { headers, body } };
    this.deliveries.push(delivery);
    return delivery;
  }

  private sendV2PayNotification(order: SandboxOrder): Promise<NotificationDelivery> {
    const merchant = this.merchants.get(order.mchId)!;
    const signType = order.signType ?? SIGN_TYPE.MD5;
    const fields: Record<string, string> = {
      appid: order.appid,
      mch_id: order.mchId,
      nonce_str: nonceStr(32),
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      openid: order.openid!,
      is_subscribe: 'N',
      trade_type: order.tradeType,
      bank_type: 'OTHERS',
      total_fee: String(order.total),
      fee_type: 'CNY',
      cash_fee: String(order.total),
      transaction_id: order.transactionId!,
      out_trade_no: order.outTradeNo,
      time_end: beijingCompact(order.paidAt!),
      ...(order.attach ? { attach: order.attach } : {}),
      ...(signType === SIGN_TYPE.HMAC_SHA256 ? { sign_type: signType } : {}),
    };
    fields.sign = signPayment(fields, order.signKey ?? merchant.key, signType);
    return this.deliverV2(order.notifyUrl, buildXML(fields));
  }

  private sendV2RefundNotification(order: SandboxOrder, refund: SandboxRefund): Promise<NotificationDelivery> {
    const merchant = this.merchants.get(order.mchId)!;
    const inner = buildXML(
      {
        out_refund_no: refund.outRefundNo,
        out_trade_no: order.outTradeNo,
        refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
        refund_fee: refund.amount,
        refund_id: refund.refundId,
        refund_recv_accout: '支付用户零钱',
        refund_request_source: 'API',
        refund_status: 'SUCCESS',
        settlement_refund_fee: refund.amount,
        settlement_total_fee: order.total,
        success_time: beijingDateTime(refund.succeededAt!),
        total_fee: order.total,
        transaction_id: order.transactionId,
      },
      'root',
    );
    const outer = buildXML({
      return_code: 'SUCCESS',
      appid: order.appid,
      mch_id: order.mchId,
      nonce_str: nonceStr(32),
      req_info: encryptReqInfo(inner, order.signKey ?? merchant.key),
    });
    return this.deliverV2(refund.notifyUrl!, outer);
  }

  /** v2 notifications are XML; the merchant acknowledges with return_code SUCCESS. */
  private deliverV2(url: string, xml: string): Promise<NotificationDelivery> {
    return this.deliver(
      url,
      xml,
      { 'Content-Type': 'text/xml' },
      (_s, text) => parseXML(text).return_code === 'SUCCESS',
    );
  }

  // ---- HTTP -------------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let response: PayResponse;
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      // Merchant requests are small XML or JSON bodies.
      const body = await readBody(req, 1024 * 1024);
      this.core.count(url.pathname);
      const socket = req.socket as TLSSocket;
      const peer = socket.encrypted && socket.authorized ? socket.getPeerCertificate() : undefined;
      const payReq: PayRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        rawUrl: req.url ?? '/',
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: body.toString('utf8'),
        clientCn: peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
      };
      const exact = this.exact.get(`${payReq.method} ${payReq.path}`);
      if (exact) {
        response = await exact(payReq, [payReq.path] as unknown as RegExpMatchArray);
      } else {
        const found = this.patterns.find((p) => p.method === payReq.method && p.re.test(payReq.path));
        response = found
          ? await found.handler(payReq, payReq.path.match(found.re)!)
          : {
              status: 404,
              body: JSON.stringify({ code: 'NOT_FOUND', message: `sandbox: no such payment API ${payReq.path}` }),
              headers: { 'Content-Type': 'application/json' },
            };
      }
    } catch (err) {
      response = {
        status: 500,
        body: JSON.stringify({ code: 'SYSTEM_ERROR', message: `sandbox error: ${(err as Error).message}` }),
        headers: { 'Content-Type': 'application/json' },
      };
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.status ?? 200, response.headers ?? { 'Content-Type': 'text/xml; charset=utf-8' });
    res.end(response.body);
  }
}

// ---- v2 routes ----------------------------------------------------------------------------------------------

interface V2Context {
  req: PayRequest;
  fields: Record<string, string>;
  merchant: SandboxMerchant;
  key: string;
  signType: SignType;
  sandboxMode: boolean;
}

const xmlHeaders = { 'Content-Type': 'text/xml; charset=utf-8' };

function v2Fail(returnMsg: string): PayResponse {
  return { body: buildXML({ return_code: 'FAIL', return_msg: returnMsg }), headers: xmlHeaders };
}

/** A signed answer; `error` makes result_code FAIL with WeChat's err_code. */
function v2Answer(ctx: V2Context, fields: Record<string, unknown>, error?: [string, string]): PayResponse {
  const answer: Record<string, unknown> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: ctx.fields.appid,
    mch_id: ctx.merchant.mchId,
    nonce_str: nonceStr(32),
    result_code: error ? 'FAIL' : 'SUCCESS',
    ...(error ? { err_code: error[0], err_code_des: error[1] } : {}),
    ...fields,
  };
  const clean = Object.fromEntries(Object.entries(answer).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  return { body: buildXML({ ...clean, sign: signPayment(clean, ctx.key, ctx.signType) }), headers: xmlHeaders };
}

/** The fields and merchant of a v2 request, or the failure to answer (bad XML, unknown mch_id). */
function v2Request(
  state: PayState,
  req: PayRequest,
): { fields: Record<string, string>; merchant: SandboxMerchant } | PayResponse {
  let fields: Record<string, string>;
  try {
    fields = parseXML(req.body);
  } catch (err) {
    return v2Fail(`XML格式错误: ${(err as Error).message}`);
  }
  const merchant = state.merchants.get(fields.mch_id ?? '');
  return merchant ? { fields, merchant } : v2Fail('mch_id参数格式错误或商户号不存在');
}

function positiveFen(value: string | undefined): number | undefined {
  return value !== undefined && /^[1-9]\d*$/.test(value) && Number.isSafeInteger(Number(value))
    ? Number(value)
    : undefined;
}

function billRow(values: Array<string | number>): string {
  return values.map((v) => `\`${v}`).join(',');
}

export function payRoutes(core: SandboxCore, state: PayState): void {
  /** Register a v2 API under its path and (for the v2 sandbox) under /sandboxnew. */
  const v2 = (
    path: string,
    handler: (ctx: V2Context) => PayResponse,
    options: { cert?: boolean; hmacOnly?: boolean } = {},
  ) => {
    const wrapped =
      (sandboxMode: boolean): PayHandler =>
      (req) => {
        const parsed = v2Request(state, req);
        if ('body' in parsed) return parsed;
        const { fields, merchant } = parsed;
        if (options.cert && req.clientCn !== merchant.mchId) {
          return v2Fail(
            '证书错误: this API needs the merchant API certificate (client certificate) issued to this mch_id',
          );
        }
        const signType = (fields.sign_type as SignType | undefined) ?? SIGN_TYPE.MD5;
        if (signType !== SIGN_TYPE.MD5 && signType !== SIGN_TYPE.HMAC_SHA256) return v2Fail('sign_type参数错误');
        if (options.hmacOnly && signType !== SIGN_TYPE.HMAC_SHA256) return v2Fail('sign_type必须为HMAC-SHA256');
        const key = sandboxMode ? state.sandboxKeys.get(merchant.mchId) : merchant.key;
        if (!key || !verifyPayment(fields, key, signType)) return v2Fail(sandboxMode ? '沙箱验证签名失败' : '签名错误');
        return handler({ req, fields, merchant, key, signType, sandboxMode });
      };
    state.route('POST', path, wrapped(false));
    state.route('POST', `${PAY_SANDBOX_PREFIX}${path}`, wrapped(true));
  };

  const findOrder = (ctx: V2Context) =>
    ctx.fields.transaction_id
      ? state.orderByTransaction(ctx.merchant.mchId, ctx.fields.transaction_id)
      : state.order(ctx.merchant.mchId, ctx.fields.out_trade_no ?? '');

  v2('/pay/unifiedorder', (ctx) => {
    const f = ctx.fields;
    const total = positiveFen(f.total_fee);
    const missing = ['appid', 'body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type'].find(
      (k) => !f[k],
    );
    if (missing) return v2Answer(ctx, {}, ['PARAM_ERROR', `缺少参数 ${missing}`]);
    if (!core.apps.has(f.appid)) return v2Answer(ctx, {}, ['APPID_NOT_EXIST', 'APPID不存在']);
    if (total === undefined) return v2Answer(ctx, {}, ['PARAM_ERROR', 'total_fee 必须为正整数（分）']);
    if (!['JSAPI', 'NATIVE', 'APP', 'MWEB'].includes(f.trade_type))
      return v2Answer(ctx, {}, ['PARAM_ERROR', 'trade_type 错误']);
    if (f.trade_type === 'JSAPI' && !f.openid) return v2Answer(ctx, {}, ['PARAM_ERROR', 'JSAPI支付必须传openid']);
    const fingerprint = JSON.stringify([f.appid, f.body, total, f.trade_type, f.openid ?? '']);
    const existing = state.order(ctx.merchant.mchId, f.out_trade_no);
    if (existing && existing.state === 'SUCCESS') return v2Answer(ctx, {}, ['ORDERPAID', '该订单已支付']);
    if (existing && existing.state === 'CLOSED') return v2Answer(ctx, {}, ['ORDERCLOSED', '该订单已关闭']);
    if (existing && existing.fingerprint !== fingerprint)
      return v2Answer(ctx, {}, ['INVALID_REQUEST', '商户订单号重复']);
    const order =
      existing ??
      state.newOrder({
        version: 'v2',
        mchId: ctx.merchant.mchId,
        appid: f.appid,
        outTradeNo: f.out_trade_no,
        tradeType: f.trade_type,
        total,
        description: f.body,
        notifyUrl: f.notify_url,
        openid: f.openid,
        attach: f.attach,
        signKey: ctx.key,
        signType: ctx.signType,
        fingerprint,
      });
    return v2Answer(ctx, {
      trade_type: order.tradeType,
      prepay_id: order.prepayId,
      device_info: f.device_info,
      ...(order.tradeType === 'NATIVE' ? { code_url: `weixin://wxpay/bizpayurl?pr=${order.prepayId.slice(-10)}` } : {}),
      ...(order.tradeType === 'MWEB'
        ? { mweb_url: `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${order.prepayId}` }
        : {}),
    });
  });

  v2('/pay/orderquery', (ctx) => {
    const order = findOrder(ctx);
    if (!order) return v2Answer(ctx, {}, ['ORDERNOTEXIST', '此交易订单号不存在']);
    const paid = order.state === 'SUCCESS' || order.state === 'REFUND';
    return v2Answer(ctx, {
      appid: order.appid,
      out_trade_no: order.outTradeNo,
      trade_type: order.tradeType,
      trade_state: order.state,
      trade_state_desc: { NOTPAY: '订单未支付', SUCCESS: '支付成功', CLOSED: '订单已关闭', REFUND: '订单发生过退款' }[
        order.state
      ],
      total_fee: order.total,
      fee_type: 'CNY',
      openid: order.openid,
      attach: order.attach,
      ...(paid
        ? {
            transaction_id: order.transactionId,
            cash_fee: order.total,
            bank_type: 'OTHERS',
            time_end: beijingCompact(order.paidAt!),
          }
        : {}),
    });
  });

  v2('/pay/closeorder', (ctx) => {
    const order = state.order(ctx.merchant.mchId, ctx.fields.out_trade_no ?? '');
    if (!order) return v2Answer(ctx, {}, ['ORDERNOTEXIST', '订单不存在']);
    if (order.state === 'SUCCESS' || order.state === 'REFUND')
      return v2Answer(ctx, {}, ['ORDERPAID', '订单已支付，不能发起关单']);
    order.state = 'CLOSED';
    return v2Answer(ctx, {});
  });

  v2(
    '/secapi/pay/refund',
    (ctx) => {
      const f = ctx.fields;
      const order = findOrder(ctx);
      if (!order) return v2Answer(ctx, {}, ['ORDERNOTEXIST', '订单不存在']);
      if (order.state !== 'SUCCESS' && order.state !== 'REFUND')
        return v2Answer(ctx, {}, ['TRADE_STATE_ERROR', '订单状态错误']);
      const total = positiveFen(f.total_fee);
      const amount = positiveFen(f.refund_fee);
      if (!f.out_refund_no) return v2Answer(ctx, {}, ['PARAM_ERROR', '缺少参数 out_refund_no']);
      if (total !== order.total || amount === undefined)
        return v2Answer(ctx, {}, ['PARAM_ERROR', '订单金额或退款金额与之前请求不一致']);
      const existing = state.refunds.get(`${order.mchId}:${f.out_refund_no}`);
      if (existing && existing.amount !== amount) return v2Answer(ctx, {}, ['PARAM_ERROR', '退款单号重复，金额不一致']);
      if (!existing && amount > order.total - state.refunded(order))
        return v2Answer(ctx, {}, ['INVALID_REQUEST', '申请退款金额超过订单可退金额']);
      const refund =
        existing ??
        state.newRefund(order, {
          outRefundNo: f.out_refund_no,
          amount,
          notifyUrl: f.notify_url,
          reason: f.refund_desc,
          version: 'v2',
        });
      return v2Answer(ctx, {
        transaction_id: order.transactionId,
        out_trade_no: order.outTradeNo,
        out_refund_no: refund.outRefundNo,
        refund_id: refund.refundId,
        refund_fee: refund.amount,
        settlement_refund_fee: refund.amount,
        total_fee: order.total,
        settlement_total_fee: order.total,
        fee_type: 'CNY',
        cash_fee: order.total,
        cash_refund_fee: refund.amount,
      });
    },
    { cert: true },
  );

  v2('/pay/refundquery', (ctx) => {
    const f = ctx.fields;
    let order: SandboxOrder | undefined;
    const byRefund = [...state.refunds.values()].find(
      (r) =>
        r.mchId === ctx.merchant.mchId &&
        ((f.out_refund_no && r.outRefundNo === f.out_refund_no) || (f.refund_id && r.refundId === f.refund_id)),
    );
    if (byRefund) order = state.order(byRefund.mchId, byRefund.outTradeNo);
    else if (!f.out_refund_no && !f.refund_id) order = findOrder(ctx);
    const refunds = order ? state.refundsOf(order).filter((r) => !byRefund || r === byRefund) : [];
    if (!order || refunds.length === 0) return v2Answer(ctx, {}, ['REFUNDNOTEXIST', '退款订单查询失败']);
    const fields: Record<string, unknown> = {
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      total_fee: order.total,
      cash_fee: order.total,
      refund_count: refunds.length,
    };
    refunds.forEach((r, n) => {
      Object.assign(fields, {
        [`out_refund_no_${n}`]: r.outRefundNo,
        [`refund_id_${n}`]: r.refundId,
        [`refund_fee_${n}`]: r.amount,
        [`refund_status_${n}`]: r.status,
        [`refund_recv_accout_${n}`]: '支付用户零钱',
        ...(r.succeededAt
          ? {
              [`refund_success_time_${n}`]: beijingDateTime(r.succeededAt),
            }
          : {}),
      });
    });
    return v2Answer(ctx, fields);
  });

  /** Bill and fund-flow files are plain text (gzip on request), not XML; failures are XML. */
  const file = (ctx: V2Context, text: string): PayResponse =>
    ctx.fields.tar_type === 'GZIP'
      ? { body: gzipSync(Buffer.from(text, 'utf8')), headers: { 'Content-Type': 'application/x-gzip' } }
      : { body: text, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
  const paidOn = (mchId: string, day: string) =>
    [...state.orders.values()].filter(
      (o) => o.mchId === mchId && o.paidAt !== undefined && beijingCompact(o.paidAt).slice(0, 8) === day,
    );

  v2('/pay/downloadbill', (ctx) => {
    const day = ctx.fields.bill_date ?? '';
    if (!/^\d{8}$/.test(day)) return v2Fail('invalid bill_date');
    const orders = paidOn(ctx.merchant.mchId, day);
    if (orders.length === 0) return v2Fail('No Bill Exist');
    const lines = [
      '交易时间,公众账号ID,商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,商品名称',
      ...orders.map((o) =>
        billRow([
          beijingDateTime(o.paidAt!),
          o.appid,
          o.mchId,
          'WEB',
          o.transactionId!,
          o.outTradeNo,
          o.openid ?? '',
          o.tradeType,
          'SUCCESS',
          'OTHERS',
          'CNY',
          formatFen(o.total),
          o.description,
        ]),
      ),
      '总交易单数,应结订单总金额',
      billRow([orders.length, formatFen(orders.reduce((s, o) => s + o.total, 0))]),
    ];
    return file(ctx, `${lines.join('\r\n')}\r\n`);
  });

  v2(
    '/pay/downloadfundflow',
    (ctx) => {
      const day = ctx.fields.bill_date ?? '';
      if (!/^\d{8}$/.test(day)) return v2Fail('invalid bill_date');
      const orders = paidOn(ctx.merchant.mchId, day);
      let balance = 0;
      const rows = orders.map((o) => {
        balance += o.total;
        return billRow([
          beijingDateTime(o.paidAt!),
          o.transactionId!,
          `${o.transactionId}01`,
          '交易',
          '交易',
          '收入',
          formatFen(o.total),
          formatFen(balance),
          'system',
          '',
          o.outTradeNo,
        ]);
      });
      const lines = [
        '记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号',
        ...rows,
        '资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额',
        billRow([rows.length, rows.length, formatFen(balance), 0, '0.00']),
      ];
      return file(ctx, `${lines.join('\r\n')}\r\n`);
    },
    { cert: true, hmacOnly: true },
  );

  v2(
    '/billcommentsp/batchquerycomment',
    (ctx) => {
      const { begin_time: begin = '', end_time: end = '' } = ctx.fields;
      if (!/^\d{14}$/.test(begin) || !/^\d{14}$/.test(end)) return v2Fail('invalid begin_time/end_time');
      const offset = Number(ctx.fields.offset ?? 0) || 0;
      const paid = [...state.orders.values()].filter((o) => {
        if (o.mchId !== ctx.merchant.mchId || o.paidAt === undefined) return false;
        const t = beijingCompact(o.paidAt);
        return t >= begin && t <= end;
      });
      const limit = Number(ctx.fields.limit ?? 100) || 100;
      const page = paid.slice(offset, offset + limit);
      const lines = [
        String(offset + page.length),
        ...page.map((o) => billRow([beijingDateTime(o.paidAt!), o.transactionId!, 5, 'sandbox: 好评'])),
      ];
      return { body: lines.join('\r\n'), headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    },
    { cert: true, hmacOnly: true },
  );

  v2('/pay/settlementquery', (ctx) => {
    const f = ctx.fields;
    if (!f.usetag || !f.offset || !f.limit) return v2Answer(ctx, {}, ['PARAM_ERROR', '缺少参数 usetag/offset/limit']);
    return v2Answer(ctx, { record_num: 0 });
  });

  v2('/pay/queryexchagerate', (ctx) => {
    const f = ctx.fields;
    const rates: Record<string, string> = { USD: '698000000', HKD: '89000000', EUR: '760000000', JPY: '4800000' };
    if (!f.fee_type || !f.date) return v2Answer(ctx, {}, ['PARAM_ERROR', '缺少参数 fee_type/date']);
    if (!rates[f.fee_type]) return v2Answer(ctx, {}, ['PARAM_ERROR', '不支持的币种']);
    return v2Answer(ctx, { fee_type: f.fee_type, rate_time: f.date, rate: rates[f.fee_type] });
  });

  // Only under /sandboxnew, signed with the REAL key; the answer is not signed.
  state.route('POST', `${PAY_SANDBOX_PREFIX}/pay/getsignkey`, (req) => {
    const parsed = v2Request(state, req);
    if ('body' in parsed) return parsed;
    const { fields, merchant } = parsed;
    if (!verifyPayment(fields, merchant.key, SIGN_TYPE.MD5)) return v2Fail('签名错误');
    const key = randomBytes(16).toString('hex');
    state.sandboxKeys.set(merchant.mchId, key);
    return {
      body: buildXML({ return_code: 'SUCCESS', return_msg: 'ok', mch_id: merchant.mchId, sandbox_signkey: key }),
      headers: xmlHeaders,
    };
  });

  payV3Routes(state);

  // Control routes on the main sandbox server, for demos and other processes.
  core.route('POST', '/__sandbox/pay/order', async ({ json }) => {
    const delivery = await state.payOrder(String(json?.out_trade_no), { mchId: json?.mch_id, userId: json?.user_id });
    return ok({ delivered: delivery.delivered, status: delivery.status });
  });
  core.route('POST', '/__sandbox/pay/refund', async ({ json }) => {
    const delivery = await state.completeRefund(String(json?.out_refund_no), json?.mch_id);
    return ok({ delivered: delivery?.delivered ?? false, status: delivery?.status ?? 0 });
  });
  core.route('GET', '/__sandbox/pay/orders', () =>
    ok({ orders: [...state.orders.values()].map(({ signKey: _key, fingerprint: _f, ...order }) => order) }),
  );
}
