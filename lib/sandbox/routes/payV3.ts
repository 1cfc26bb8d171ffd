/**
 * WeChat Pay API v3 emulator (see pay.ts for the listener and the user's side):
 * - every request's Authorization (WECHATPAY2-SHA256-RSA2048) is checked with the merchant certificate's public
 *   key: mchid known, serial_no = the certificate serial, timestamp within 5 minutes of the sandbox clock,
 *   signature over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n; otherwise 401 SIGN_ERROR;
 * - every answer (errors included) is signed over TIMESTAMP\nNONCE\nBODY\n with the platform certificate key, or
 *   with the WeChat Pay public key when the request carried `Wechatpay-Serial: PUB_KEY_ID_...`;
 * - GET /v3/certificates returns the platform certificate encrypted with the merchant's APIv3 key;
 * - callbacks (payment, refund) carry an AES-256-GCM resource and the Wechatpay-* signature headers.
 */
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { nonceStr } from '../../crypto';
import { encryptResource } from '../../payment/v3/crypto';
import {
  PUBLIC_KEY_ID_PREFIX,
  SIGNATURE_WINDOW_MS,
  parseAuthorization,
  requestSignString,
  responseSignString,
  rsaSign,
  rsaVerify,
} from '../../payment/v3/sign';
import {
  beijingRfc3339,
  type NotificationDelivery,
  type PayRequest,
  type PayResponse,
  type PayState,
  type SandboxMerchant,
  type SandboxOrder,
  type SandboxRefund,
} from './pay';

type Merchant = SandboxMerchant & { v3Key?: KeyObject; v3Serial?: string };

/** The key that signs answers and callbacks for this merchant now, with its Wechatpay-Serial. */
function signer(state: PayState, mchId: string | undefined): { key: KeyObject; serial: string } {
  const mode = mchId ? state.verifyMode.get(mchId) : undefined;
  if (state.platform && mode !== 'publicKey') return { key: state.platform.key, serial: state.platform.serialNo };
  return { key: state.publicKey.privateKey, serial: state.publicKey.id };
}

/** Headers of a signed message from WeChat Pay. */
export function signedHeaders(state: PayState, mchId: string | undefined, body: string): Record<string, string> {
  const { key, serial } = signer(state, mchId);
  const timestamp = String(Math.floor(state.core.now() / 1000));
  const nonce = nonceStr(32);
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': serial,
    'Wechatpay-Signature': rsaSign(key, responseSignString(timestamp, nonce, body)),
    'Request-ID': randomUUID(),
  };
}

function answer(state: PayState, mchId: string | undefined, status: number, json?: unknown): PayResponse {
  const body = json === undefined ? '' : JSON.stringify(json);
  return {
    status,
    body,
    headers: {
      ...(body ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      ...signedHeaders(state, mchId, body),
    },
  };
}

function error(
  state: PayState,
  mchId: string | undefined,
  status: number,
  code: string,
  message: string,
  detail?: unknown,
) {
  return answer(state, mchId, status, { code, message, ...(detail ? { detail } : {}) });
}

function paramError(state: PayState, mchId: string, field: string, issue: string): PayResponse {
  return error(state, mchId, 400, 'PARAM_ERROR', `参数错误: ${field}`, { field, issue, location: 'body' });
}

/** Check Authorization; the merchant, or the 401 to send. */
function authenticate(state: PayState, req: PayRequest): Merchant | PayResponse {
  const auth = parseAuthorization(String(req.headers.authorization ?? ''));
  const deny = (why: string) => error(state, undefined, 401, 'SIGN_ERROR', `签名错误: ${why}`);
  if (!auth) return deny('missing or malformed Authorization');
  const merchant = state.merchants.get(auth.mchid) as Merchant | undefined;
  if (!merchant?.v3Key) return deny('mchid unknown or without a v3 certificate');
  if (auth.serial_no.toUpperCase() !== merchant.v3Serial)
    return deny('serial_no is not the merchant certificate serial');
  if (
    !/^\d+$/.test(auth.timestamp) ||
    Math.abs(state.core.now() - Number(auth.timestamp) * 1000) > SIGNATURE_WINDOW_MS
  ) {
    return deny('timestamp expired');
  }
  const message = requestSignString(req.method, req.rawUrl, auth.timestamp, auth.nonce_str, req.body);
  if (!rsaVerify(merchant.v3Key, message, auth.signature)) return deny('signature mismatch');
  const serialHeader = req.headers['wechatpay-serial'];
  if (typeof serialHeader === 'string' && serialHeader.startsWith(PUBLIC_KEY_ID_PREFIX)) {
    if (serialHeader !== state.publicKey.id) {
      return error(state, undefined, 400, 'INVALID_REQUEST', 'Wechatpay-Serial 不是商户的微信支付公钥ID');
    }
    state.verifyMode.set(merchant.mchId, 'publicKey');
  }
  return merchant;
}

function transactionOf(order: SandboxOrder): Record<string, unknown> {
  const paid = order.state === 'SUCCESS' || order.state === 'REFUND';
  return {
    appid: order.appid,
    mchid: order.mchId,
    out_trade_no: order.outTradeNo,
    trade_type: order.tradeType,
    trade_state: order.state,
    trade_state_desc: { NOTPAY: '未支付', SUCCESS: '支付成功', CLOSED: '已关闭', REFUND: '转入退款' }[order.state],
    ...(order.attach ? { attach: order.attach } : {}),
    ...(paid
      ? {
          transaction_id: order.transactionId,
          bank_type: 'OTHERS',
          success_time: beijingRfc3339(order.paidAt!),
          payer: { openid: order.openid },
          amount: { total: order.total, payer_total: order.total, currency: 'CNY', payer_currency: 'CNY' },
        }
      : {
          ...(order.openid ? { payer: { openid: order.openid } } : {}),
          amount: { total: order.total, currency: 'CNY' },
        }),
  };
}

function refundOf(state: PayState, refund: SandboxRefund): Record<string, unknown> {
  const order = state.order(refund.mchId, refund.outTradeNo)!;
  return {
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: order.transactionId,
    out_trade_no: order.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    create_time: beijingRfc3339(refund.createdAt),
    ...(refund.succeededAt ? { success_time: beijingRfc3339(refund.succeededAt) } : {}),
    status: refund.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: order.total,
      refund: refund.amount,
      payer_total: order.total,
      payer_refund: refund.amount,
      currency: 'CNY',
    },
  };
}

function positiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

export function payV3Routes(state: PayState): void {
  const v3 = (
    method: 'GET' | 'POST',
    path: string | RegExp,
    handler: (req: PayRequest, merchant: Merchant, match: RegExpMatchArray, json: any) => PayResponse,
  ) => {
    state.route(method, path, (req, match) => {
      const merchant = authenticate(state, req);
      if (!('mchId' in merchant)) return merchant;
      let json: any;
      if (req.body !== '') {
        try {
          json = JSON.parse(req.body);
        } catch {
          return error(state, merchant.mchId, 400, 'PARAM_ERROR', '请求体不是合法的JSON');
        }
      }
      return handler(req, merchant, match, json);
    });
  };

  const placeOrder =
    (tradeType: 'JSAPI' | 'MWEB' | 'NATIVE') =>
    (_req: PayRequest, merchant: Merchant, _m: RegExpMatchArray, body: any) => {
      const mchId = merchant.mchId;
      if (!body || typeof body !== 'object') return paramError(state, mchId, 'body', 'missing');
      if (body.mchid !== mchId) return error(state, mchId, 400, 'INVALID_REQUEST', 'mchid与请求头中的商户号不一致');
      if (typeof body.appid !== 'string' || !state.core.apps.has(body.appid))
        return error(state, mchId, 400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
      for (const field of ['description', 'out_trade_no', 'notify_url']) {
        if (typeof body[field] !== 'string' || body[field] === '') return paramError(state, mchId, field, 'required');
      }
      if (!positiveInt(body.amount?.total))
        return paramError(state, mchId, 'amount.total', 'must be a positive integer (fen)');
      if (tradeType === 'JSAPI' && typeof body.payer?.openid !== 'string')
        return paramError(state, mchId, 'payer.openid', 'required for JSAPI');
      if (tradeType === 'MWEB' && (!body.scene_info?.payer_client_ip || !body.scene_info?.h5_info?.type)) {
        return paramError(state, mchId, 'scene_info', 'payer_client_ip and h5_info.type are required for H5');
      }
      const fingerprint = JSON.stringify([
        body.appid,
        body.description,
        body.amount.total,
        tradeType,
        body.payer?.openid ?? '',
      ]);
      const existing = state.order(mchId, body.out_trade_no);
      if (existing?.state === 'SUCCESS' || existing?.state === 'REFUND')
        return error(state, mchId, 400, 'ORDERPAID', '该订单已支付');
      if (existing?.state === 'CLOSED') return error(state, mchId, 400, 'ORDER_CLOSED', '订单已关闭');
      if (existing && existing.fingerprint !== fingerprint)
        return error(state, mchId, 400, 'OUT_TRADE_NO_USED', '商户订单号重复');
      const order =
        existing ??
        state.newOrder({
          version: 'v3',
          mchId,
          appid: body.appid,
          outTradeNo: body.out_trade_no,
          tradeType,
          total: body.amount.total,
          description: body.description,
          notifyUrl: body.notify_url,
          openid: body.payer?.openid,
          attach: body.attach,
          fingerprint,
        });
      if (tradeType === 'NATIVE')
        return answer(state, mchId, 200, { code_url: `weixin://wxpay/bizpayurl?pr=${order.prepayId.slice(-10)}` });
      if (tradeType === 'MWEB') {
        return answer(state, mchId, 200, {
          h5_url: `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${order.prepayId}&package=${randomBytes(5).toString('hex')}`,
        });
      }
      return answer(state, mchId, 200, { prepay_id: order.prepayId });
    };

  v3('POST', '/v3/pay/transactions/jsapi', placeOrder('JSAPI'));
  v3('POST', '/v3/pay/transactions/h5', placeOrder('MWEB'));
  v3('POST', '/v3/pay/transactions/native', placeOrder('NATIVE'));

  const query = (by: 'id' | 'out-trade-no') => (req: PayRequest, merchant: Merchant, match: RegExpMatchArray) => {
    if (req.query.mchid !== merchant.mchId) return error(state, merchant.mchId, 400, 'PARAM_ERROR', 'mchid 参数错误');
    const key = decodeURIComponent(match[1]);
    const order = by === 'id' ? state.orderByTransaction(merchant.mchId, key) : state.order(merchant.mchId, key);
    if (!order || order.version !== 'v3') return error(state, merchant.mchId, 404, 'ORDER_NOT_EXIST', '订单不存在');
    return answer(state, merchant.mchId, 200, transactionOf(order));
  };
  v3('GET', /^\/v3\/pay\/transactions\/id\/([^/]+)$/, query('id'));
  v3('GET', /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/, query('out-trade-no'));

  v3('POST', /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/, (_req, merchant, match, body) => {
    if (body?.mchid !== merchant.mchId)
      return paramError(state, merchant.mchId, 'mchid', 'must be the requesting merchant');
    const order = state.order(merchant.mchId, decodeURIComponent(match[1]));
    if (!order || order.version !== 'v3') return error(state, merchant.mchId, 404, 'ORDER_NOT_EXIST', '订单不存在');
    if (order.state === 'SUCCESS' || order.state === 'REFUND')
      return error(state, merchant.mchId, 400, 'ORDERPAID', '订单已支付');
    order.state = 'CLOSED';
    return answer(state, merchant.mchId, 204);
  });

  v3('POST', '/v3/refund/domestic/refunds', (_req, merchant, _m, body) => {
    const mchId = merchant.mchId;
    if (!body || typeof body !== 'object') return paramError(state, mchId, 'body', 'missing');
    const order = body.transaction_id
      ? state.orderByTransaction(mchId, body.transaction_id)
      : state.order(mchId, String(body.out_trade_no ?? ''));
    if (!order) return error(state, mchId, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (typeof body.out_refund_no !== 'string' || body.out_refund_no === '')
      return paramError(state, mchId, 'out_refund_no', 'required');
    if (!positiveInt(body.amount?.refund) || !positiveInt(body.amount?.total))
      return paramError(state, mchId, 'amount', 'refund and total must be positive integers (fen)');
    if (body.amount.currency !== 'CNY') return paramError(state, mchId, 'amount.currency', 'must be CNY');
    if (order.state !== 'SUCCESS' && order.state !== 'REFUND')
      return error(state, mchId, 400, 'INVALID_REQUEST', '订单未支付，不能退款');
    if (body.amount.total !== order.total) return error(state, mchId, 400, 'PARAM_ERROR', '订单金额与原订单不一致');
    const existing = state.refunds.get(`${mchId}:${body.out_refund_no}`);
    if (existing && existing.amount !== body.amount.refund)
      return error(state, mchId, 400, 'INVALID_REQUEST', '退款单号重复，金额不一致');
    if (!existing && body.amount.refund > order.total - state.refunded(order)) {
      return error(state, mchId, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
    }
    const refund =
      existing ??
      state.newRefund(order, {
        outRefundNo: body.out_refund_no,
        amount: body.amount.refund,
        notifyUrl: body.notify_url,
        reason: body.reason,
        version: 'v3',
      });
    return answer(state, mchId, 200, refundOf(state, refund));
  });

  v3('GET', /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/, (_req, merchant, match) => {
    const refund = state.refunds.get(`${merchant.mchId}:${decodeURIComponent(match[1])}`);
    if (!refund) return error(state, merchant.mchId, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return answer(state, merchant.mchId, 200, refundOf(state, refund));
  });

  v3('GET', '/v3/certificates', (_req, merchant) => {
    if (!merchant.apiV3Key) return error(state, merchant.mchId, 400, 'INVALID_REQUEST', '商户未设置APIv3密钥');
    const platform = state.platform;
    const data = platform
      ? [
          {
            serial_no: platform.serialNo,
            effective_time: beijingRfc3339(platform.notBefore),
            expire_time: beijingRfc3339(platform.notAfter),
            encrypt_certificate: encryptResource(platform.cert, merchant.apiV3Key, 'certificate'),
          },
        ]
      : [];
    return answer(state, merchant.mchId, 200, { data });
  });
}

/** A v3 callback: the resource encrypted with the merchant's APIv3 key, the message signed by WeChat Pay. */
export function sendV3Notification(
  state: PayState,
  order: SandboxOrder,
  eventType: 'TRANSACTION.SUCCESS' | 'REFUND.SUCCESS',
  refund?: SandboxRefund,
): Promise<NotificationDelivery> {
  const merchant = state.merchants.get(order.mchId)!;
  if (!merchant.apiV3Key) throw new Error(`sandbox: merchant ${order.mchId} has no apiV3Key`);
  const isRefund = eventType === 'REFUND.SUCCESS';
  const originalType = isRefund ? 'refund' : 'transaction';
  const resource = isRefund
    ? {
        mchid: order.mchId,
        out_trade_no: order.outTradeNo,
        transaction_id: order.transactionId,
        out_refund_no: refund!.outRefundNo,
        refund_id: refund!.refundId,
        refund_status: refund!.status,
        success_time: beijingRfc3339(refund!.succeededAt!),
        user_received_account: '支付用户零钱',
        amount: { total: order.total, refund: refund!.amount, payer_total: order.total, payer_refund: refund!.amount },
      }
    : transactionOf(order);
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: beijingRfc3339(state.core.now()),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: isRefund ? '退款成功' : '支付成功',
    resource: {
      ...encryptResource(JSON.stringify(resource), merchant.apiV3Key, originalType),
      original_type: originalType,
    },
  });
  const headers = { 'Content-Type': 'application/json', ...signedHeaders(state, order.mchId, body) };
  return state.deliver(
    isRefund ? refund!.notifyUrl! : order.notifyUrl,
    body,
    headers,
    (status) => status >= 200 && status < 300,
  );
}
