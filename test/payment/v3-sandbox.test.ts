/**
 * wx.paymentV3 against the sandbox's WeChat Pay v3 emulator: signed requests, verified responses (platform
 * certificate downloaded, decrypted and cached in the store; or the WeChat Pay public key), every order kind,
 * query, close, refund, both callbacks, typed errors and refused callbacks.
 */
import { generateKeyPairSync } from 'node:crypto';
import { WechatError, WechatPayError } from '../../lib/errors';
import { generatePayCertificates, startSandbox, type PayCertificates, type Sandbox } from '../../lib/sandbox';
import { signedHeaders } from '../../lib/sandbox/routes/payV3';
import { Store } from '../../lib/store/Store';
import type { Wechat, WechatOptions } from '../../lib/Wechat';
import { encryptResource } from '../../lib/payment/v3/crypto';
import { rsaVerify } from '../../lib/payment/v3/sign';
import { platformCertsField } from '../../lib/payment/v3/certificates';
import type { V3Notification } from '../../lib/payment/v3/PaymentV3';
import { APP, APP2, wechatOn } from '../helpers';
import { API_V3_KEY, MCH_ID, MCH_ID2, PAY_KEY, PAY_KEY2, caught, startNotifyServer } from './helpers';

let certs: PayCertificates;
let sandbox: Sandbox;
let merchant: Awaited<ReturnType<typeof startNotifyServer>>;
let wx: Wechat;
const opened: Wechat[] = [];
const handled: Array<{ path: string; result?: V3Notification; error?: unknown }> = [];
/** Which Wechat verifies callbacks arriving on a path prefix. */
const receivers = new Map<string, () => Wechat>();

function v3Options(
  mchId = MCH_ID,
  extra: Partial<NonNullable<WechatOptions['paymentV3']>> = {},
  top: Partial<WechatOptions> = {},
) {
  return {
    merchantId: mchId,
    paymentApiUrl: sandbox.payUrl,
    paymentCa: certs.ca,
    ...top,
    paymentV3: {
      privateKey: certs.merchants[mchId].key,
      certificateSerialNo: certs.merchants[mchId].serialNo,
      apiV3Key: API_V3_KEY,
      notifyUrl: `${merchant.url}/${mchId}/pay`,
      miniProgramAppId: APP2.appId,
      ...extra,
    },
  } as Partial<WechatOptions>;
}

function open(options: Partial<WechatOptions>): Wechat {
  const instance = wechatOn(sandbox, options);
  opened.push(instance);
  return instance;
}

const openid = () => sandbox.openid(APP.appId, 'alice');
let seq = 0;
const tradeNo = () => `T${Date.now()}${seq++}`;

beforeAll(async () => {
  certs = generatePayCertificates([MCH_ID, MCH_ID2]);
  merchant = await startNotifyServer(async (n) => {
    const instance = receivers.get(n.path.split('/')[1])!();
    try {
      const result = await instance.paymentV3!.parseNotification(n.headers as Record<string, string>, n.body);
      handled.push({ path: n.path, result });
      const reply = instance.paymentV3!.notifyReply(true);
      return { status: reply.status, body: reply.body };
    } catch (error) {
      handled.push({ path: n.path, error });
      const reply = instance.paymentV3!.notifyReply(false, 'verification failed');
      return { status: reply.status, body: reply.body };
    }
  });
  sandbox = await startSandbox({
    apps: [APP, APP2],
    merchants: [
      { mchId: MCH_ID, key: PAY_KEY, apiV3Key: API_V3_KEY, certificate: certs.merchants[MCH_ID].cert },
      { mchId: MCH_ID2, key: PAY_KEY2, apiV3Key: API_V3_KEY, certificate: certs.merchants[MCH_ID2].cert },
    ],
    payCertificates: certs,
  });
  wx = open(v3Options());
  receivers.set(MCH_ID, () => wx);
});

afterAll(async () => {
  for (const instance of opened) await instance.close();
  await sandbox?.close();
  await merchant?.close();
});

function jsapiOrder(total = 1, outTradeNo = tradeNo()) {
  return { description: 'v3 sandbox', out_trade_no: outTradeNo, amount: { total }, payer: { openid: openid() } };
}

describe('orders, pay parameters and the payment callback (platform certificate)', () => {
  it('JSAPI order, RSA pay parameters, the user pays, a verified and decrypted callback, queries', async () => {
    const before = sandbox.calls('/v3/certificates');
    const order = jsapiOrder(88);
    const { prepay_id } = await wx.paymentV3!.jsapi(order);
    expect(prepay_id).toMatch(/^wx/);
    // The first verified answer needed the platform certificate: downloaded once, decrypted, cached in the store.
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
    const stored = (await wx.store.getGlobalToken())[platformCertsField(MCH_ID)] as string;
    expect(JSON.parse(stored)[0].serialNo).toBe(certs.platform.serialNo);

    const params = wx.paymentV3!.jsapiPayParams(prepay_id);
    expect(params).toMatchObject({ appId: APP.appId, package: `prepay_id=${prepay_id}`, signType: 'RSA' });
    const signed = `${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
    expect(rsaVerify(certs.merchants[MCH_ID].cert, signed, params.paySign)).toBe(true);

    expect(await wx.paymentV3!.queryOrder({ out_trade_no: order.out_trade_no })).toMatchObject({
      trade_state: 'NOTPAY',
    });

    const delivery = await sandbox.payOrder(order.out_trade_no);
    expect(delivery.status).toBe(204);
    expect(delivery.delivered).toBe(true);
    expect(delivery.sent.headers['Wechatpay-Serial']).toBe(certs.platform.serialNo);
    const callback = handled.at(-1)!;
    expect(callback.error).toBeUndefined();
    expect(callback.result).toMatchObject({
      event_type: 'TRANSACTION.SUCCESS',
      resource_type: 'encrypt-resource',
      resource: {
        out_trade_no: order.out_trade_no,
        trade_state: 'SUCCESS',
        amount: { total: 88 },
        payer: { openid: openid() },
      },
    });
    const transactionId = (callback.result!.resource as { transaction_id: string }).transaction_id;
    expect(await wx.paymentV3!.queryOrderByTransactionId(transactionId)).toMatchObject({
      trade_state: 'SUCCESS',
      out_trade_no: order.out_trade_no,
    });
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
  });

  it('mini-program, H5 and Native orders', async () => {
    const mp = await wx.paymentV3!.miniProgram(jsapiOrder());
    expect(wx.paymentV3!.miniProgramPayParams(mp.prepay_id).appId).toBe(APP2.appId);
    const h5 = await wx.paymentV3!.h5({
      description: 'h5',
      out_trade_no: tradeNo(),
      amount: { total: 5 },
      scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'Wap' } },
    });
    expect(h5.h5_url).toMatch(/^https:\/\/wx\.tenpay\.com\//);
    const native = await wx.paymentV3!.native({ description: 'qr', out_trade_no: tradeNo(), amount: { total: 5 } });
    expect(native.code_url).toMatch(/^weixin:\/\/wxpay\//);
  });

  it('closes an unpaid order (204) and gives typed errors from v3 error bodies', async () => {
    const order = jsapiOrder(3);
    await wx.paymentV3!.jsapi(order);
    await expect(wx.paymentV3!.closeOrder(order.out_trade_no)).resolves.toBeUndefined();
    expect(await wx.paymentV3!.queryOrderByOutTradeNo(order.out_trade_no)).toMatchObject({ trade_state: 'CLOSED' });

    const missing = await caught(wx.paymentV3!.queryOrder({ out_trade_no: 'NO-SUCH-ORDER' }));
    expect(missing).toBeInstanceOf(WechatPayError);
    expect(missing).toMatchObject({ version: 'v3', payCode: 'ORDER_NOT_EXIST', status: 404, kind: 'not_found' });

    const reused = await caught(wx.paymentV3!.jsapi({ ...jsapiOrder(4), out_trade_no: order.out_trade_no }));
    expect(reused).toMatchObject({ payCode: 'ORDER_CLOSED', kind: 'order_closed', status: 400 });
  });
});

describe('refunds and the refund callback', () => {
  it('refunds, queries the refund, and verifies the REFUND.SUCCESS callback', async () => {
    const order = jsapiOrder(500);
    await wx.paymentV3!.jsapi(order);
    await sandbox.payOrder(order.out_trade_no);
    const outRefundNo = `R${order.out_trade_no}`;
    const refund = await wx.paymentV3!.refund({
      out_trade_no: order.out_trade_no,
      out_refund_no: outRefundNo,
      reason: 'test',
      amount: { refund: 200, total: 500 },
    });
    expect(refund).toMatchObject({
      status: 'PROCESSING',
      out_refund_no: outRefundNo,
      amount: { refund: 200, total: 500, currency: 'CNY' },
    });
    expect(await wx.paymentV3!.queryRefund(outRefundNo)).toMatchObject({ status: 'PROCESSING' });

    const delivery = await sandbox.completeRefund(outRefundNo);
    expect(delivery?.delivered).toBe(true);
    expect(handled.at(-1)!.result).toMatchObject({
      event_type: 'REFUND.SUCCESS',
      resource: { out_refund_no: outRefundNo, refund_status: 'SUCCESS', amount: { refund: 200, total: 500 } },
    });
    expect(await wx.paymentV3!.queryRefund(outRefundNo)).toMatchObject({ status: 'SUCCESS' });

    const tooMuch = await caught(
      wx.paymentV3!.refund({
        out_trade_no: order.out_trade_no,
        out_refund_no: `X${order.out_trade_no}`,
        amount: { refund: 301, total: 500 },
      }),
    );
    expect(tooMuch).toMatchObject({ payCode: 'INVALID_REQUEST', status: 400 });
  });
});

describe('bad input and bad keys', () => {
  it('refuses amounts that are not a positive integer number of fen before any request', async () => {
    sandbox.resetCalls();
    for (const total of [0, -5, 1.5, '100', undefined]) {
      const err = await caught(wx.paymentV3!.jsapi({ ...jsapiOrder(), amount: { total: total as number } }));
      expect(err).toBeInstanceOf(WechatError);
      expect((err as WechatError).code).toBe('BAD_AMOUNT');
      expect((err as Error).message).toMatch(/^amount\.total must be a positive integer number of fen/);
    }
    const refund = await caught(
      wx.paymentV3!.refund({ out_trade_no: 'A', out_refund_no: 'B', amount: { refund: 0.5, total: 1 } }),
    );
    expect((refund as Error).message).toMatch(/^amount\.refund must be/);
    expect(sandbox.calls()).toEqual({});
  });

  it('WeChat Pay refuses a request signed with the wrong private key (401 SIGN_ERROR)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const bad = open(v3Options(MCH_ID, { privateKey: other.toString() }));
    const err = await caught(bad.paymentV3!.queryOrder({ out_trade_no: 'X' }));
    expect(err).toMatchObject({ payCode: 'SIGN_ERROR', kind: 'sign_error', status: 401 });
  });
});

describe('callbacks that are not proven to come from WeChat Pay are refused', () => {
  async function deliveredCallback() {
    const order = jsapiOrder(7);
    await wx.paymentV3!.jsapi(order);
    const delivery = await sandbox.payOrder(order.out_trade_no);
    expect(delivery.delivered).toBe(true);
    return delivery.sent;
  }

  const untrusted = async (headers: Record<string, string>, body: string, reason: RegExp) => {
    const err = await caught(wx.paymentV3!.parseNotification(headers, body));
    expect(err).toBeInstanceOf(WechatPayError);
    expect((err as WechatPayError).kind).toBe('untrusted');
    expect((err as Error).message).toMatch(reason);
  };

  it('refuses a tampered body, missing signature headers, and a replay after 5 minutes', async () => {
    const sent = await deliveredCallback();
    await expect(wx.paymentV3!.parseNotification(sent.headers, sent.body)).resolves.toMatchObject({
      event_type: 'TRANSACTION.SUCCESS',
    });
    await untrusted(sent.headers, sent.body.replace('支付成功', '支付失败'), /does not match/);
    const { 'Wechatpay-Signature': _s, ...unsigned } = sent.headers;
    await untrusted(unsigned, sent.body, /headers are required/);
    sandbox.advance(6 * 60_000);
    try {
      await untrusted(sent.headers, sent.body, /stale or replayed/);
    } finally {
      sandbox.advance(-6 * 60_000);
    }
  });

  it('refuses a resource that does not decrypt with our APIv3 key, even when the message is signed', async () => {
    const sent = await deliveredCallback();
    const body = JSON.parse(sent.body);
    body.resource = encryptResource(
      JSON.stringify({ out_trade_no: 'X', trade_state: 'SUCCESS' }),
      'o'.repeat(32),
      'transaction',
    );
    const text = JSON.stringify(body);
    await untrusted(signedHeaders(sandbox.payState, MCH_ID, text), text, /authentication failed/);
  });

  it('an unknown serial triggers one certificate refresh, not one per message', async () => {
    const sent = await deliveredCallback();
    const before = sandbox.calls('/v3/certificates');
    const forged = { ...sent.headers, 'Wechatpay-Serial': 'ABCDEF0123456789' };
    await untrusted(forged, sent.body, /no platform certificate or public key/);
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
    await untrusted(forged, sent.body, /no platform certificate or public key/);
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
  });
});

describe('platform certificates in the store, and the WeChat Pay public key', () => {
  it('a second process sharing the store uses the cached certificates without downloading', async () => {
    const store = new Store({ noInterval: true, now: () => sandbox.now() });
    const first = open({ ...v3Options(), store });
    const before = sandbox.calls('/v3/certificates');
    await first.paymentV3!.native({ description: 'a', out_trade_no: tradeNo(), amount: { total: 1 } });
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
    const second = open({ ...v3Options(), store });
    await second.paymentV3!.native({ description: 'b', out_trade_no: tradeNo(), amount: { total: 1 } });
    expect(sandbox.calls('/v3/certificates')).toBe(before + 1);
    expect((await second.paymentV3!.certificates()).map((c) => c.serialNo)).toEqual([certs.platform.serialNo]);
  });

  it('public-key merchants verify answers and callbacks with PUB_KEY_ID_ keys and never download certificates', async () => {
    const key = sandbox.payState.publicKey;
    const pub = open(v3Options(MCH_ID2, { wechatpayPublicKey: key.pem, wechatpayPublicKeyId: key.id }));
    receivers.set(MCH_ID2, () => pub);
    const before = sandbox.calls('/v3/certificates');
    const order = jsapiOrder(9);
    await pub.paymentV3!.jsapi(order);
    const delivery = await sandbox.payOrder(order.out_trade_no, { mchId: MCH_ID2 });
    expect(delivery.sent.headers['Wechatpay-Serial']).toBe(key.id);
    expect(delivery.delivered).toBe(true);
    expect(handled.at(-1)!.result).toMatchObject({ resource: { out_trade_no: order.out_trade_no, mchid: MCH_ID2 } });
    expect(sandbox.calls('/v3/certificates')).toBe(before);

    // With the right id but the wrong public key, every answer is refused as untrusted.
    const wrong = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const fooled = open(v3Options(MCH_ID2, { wechatpayPublicKey: wrong, wechatpayPublicKeyId: key.id }));
    const err = await caught(fooled.paymentV3!.queryOrder({ out_trade_no: order.out_trade_no }));
    expect(err).toMatchObject({ kind: 'untrusted' });
  });

  it('wx.options keeps neither the private key nor the APIv3 key', () => {
    const text = JSON.stringify(wx.options);
    expect(text).not.toContain(API_V3_KEY);
    expect(text).not.toContain('PRIVATE KEY');
    expect(wx.options.paymentV3?.certificateSerialNo).toBe(certs.merchants[MCH_ID].serialNo);
  });
});
