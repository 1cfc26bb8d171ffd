/**
 * wx.payment (API v2) against the sandbox's WeChat Pay emulator over HTTPS: every operation, refunds with the
 * merchant client certificate, payment and refund notifications delivered to a real notify_url, forged and
 * tampered notifications, the v2 sandbox key, bad amounts and bad options.
 */
import { ConfigError, WechatError, WechatPayError } from '../../lib/errors';
import { generatePayCertificates, startSandbox, type PayCertificates, type Sandbox } from '../../lib/sandbox';
import type { Wechat, WechatOptions } from '../../lib/Wechat';
import { signPayment } from '../../lib/payment/v2/sign';
import { buildXML, parseXML, XmlError } from '../../lib/payment/v2/xml';
import { encryptReqInfo } from '../../lib/payment/v2/crypto';
import { APP, wechatOn } from '../helpers';
import { MCH_ID, MCH_ID2, PAY_KEY, PAY_KEY2, caught, startNotifyServer } from './helpers';

let certs: PayCertificates;
let sandbox: Sandbox;
let merchant: Awaited<ReturnType<typeof startNotifyServer>>;
let wx: Wechat;
const opened: Wechat[] = [];
/** What the merchant's notify handler made of each notification (or the error it threw). */
const handled: Array<{ path: string; result?: unknown; error?: unknown }> = [];

function payOptions(extra: Partial<WechatOptions> = {}): Partial<WechatOptions> {
  return {
    payment: true,
    merchantId: MCH_ID,
    paymentKey: PAY_KEY,
    paymentCertificatePfx: certs.merchants[MCH_ID].pfx,
    paymentNotifyUrl: `${merchant.url}/pay`,
    paymentApiUrl: sandbox.payUrl,
    paymentCa: certs.ca,
    ...extra,
  };
}

function open(extra: Partial<WechatOptions> = {}): Wechat {
  const instance = wechatOn(sandbox, payOptions(extra));
  opened.push(instance);
  return instance;
}

const openid = () => sandbox.openid(APP.appId, 'alice');

beforeAll(async () => {
  certs = generatePayCertificates([MCH_ID, MCH_ID2]);
  merchant = await startNotifyServer(async (n) => {
    // The merchant's notify_url: verify, then acknowledge (FAIL makes WeChat retry).
    const target = n.path.startsWith('/sbx') ? sandboxWx : wx;
    try {
      const result = n.path.endsWith('/refund')
        ? await target.payment!.decryptRefundNotifyResult(n.body)
        : await target.payment!.parseNotifyResult(n.body);
      handled.push({ path: n.path, result });
      return { body: await target.payment!.replyData(true) };
    } catch (error) {
      handled.push({ path: n.path, error });
      return { body: await target.payment!.replyData(false, 'verification failed') };
    }
  });
  sandbox = await startSandbox({
    apps: [APP],
    merchants: [
      { mchId: MCH_ID, key: PAY_KEY },
      { mchId: MCH_ID2, key: PAY_KEY2 },
    ],
    payCertificates: certs,
  });
  wx = open();
  sandboxWx = open({ paymentSandBox: true, paymentNotifyUrl: `${merchant.url}/sbx/pay` });
});

let sandboxWx: Wechat;

afterAll(async () => {
  for (const instance of opened) await instance.close();
  await sandbox?.close();
  await merchant?.close();
});

async function newOrder(instance: Wechat, totalFee: number, extra: Record<string, unknown> = {}) {
  const { responseData } = await instance.payment!.unifiedOrder({
    body: 'sandbox test',
    total_fee: totalFee,
    spbill_create_ip: '127.0.0.1',
    openid: openid(),
    ...extra,
  });
  return responseData;
}

describe('orders and the payment notification', () => {
  it('unified order, JSAPI pay parameters, the user pays, a verified notification, queryOrder', async () => {
    const order = await newOrder(wx, 1);
    expect(order.prepay_id).toMatch(/^wx/);
    expect(order.trade_type).toBe('JSAPI');
    const outTradeNo = order.out_trade_no;
    expect(outTradeNo).toHaveLength(30);

    // wx.chooseWXPay parameters: the v2 paySign covers appId, timeStamp, nonceStr, package and signType.
    const choose = await wx.payment!.generateChooseWXPayInfo(order.prepay_id);
    expect(choose.package).toBe(`prepay_id=${order.prepay_id}`);
    expect(choose.paySign).toBe(
      signPayment(
        {
          appId: APP.appId,
          timeStamp: choose.timestamp,
          nonceStr: choose.nonceStr,
          package: choose.package,
          signType: 'MD5',
        },
        PAY_KEY,
      ),
    );
    const bridge = await wx.payment!.jsapiPayParams(order.prepay_id, 'HMAC-SHA256');
    const { paySign, ...signed } = bridge;
    expect(paySign).toBe(signPayment(signed, PAY_KEY, 'HMAC-SHA256'));

    expect((await wx.payment!.queryOrder({ out_trade_no: outTradeNo })).responseData.trade_state).toBe('NOTPAY');

    const delivery = await sandbox.payOrder(outTradeNo);
    expect(delivery.delivered).toBe(true);
    const notification = handled.at(-1)!;
    expect(notification.error).toBeUndefined();
    const fields = notification.result as Record<string, string>;
    expect(fields).toMatchObject({
      out_trade_no: outTradeNo,
      total_fee: '1',
      result_code: 'SUCCESS',
      openid: openid(),
    });

    const paid = (await wx.payment!.queryOrder({ transaction_id: fields.transaction_id })).responseData;
    expect(paid).toMatchObject({ trade_state: 'SUCCESS', out_trade_no: outTradeNo, total_fee: '1' });
  });

  it('signs with HMAC-SHA256 when the order asks for it, and notifies with the same sign type', async () => {
    const order = await newOrder(wx, 2, { sign_type: 'HMAC-SHA256' });
    await sandbox.payOrder(order.out_trade_no);
    const result = handled.at(-1)!.result as Record<string, string>;
    expect(result).toMatchObject({ out_trade_no: order.out_trade_no, sign_type: 'HMAC-SHA256' });
  });

  it('NATIVE and MWEB orders return code_url and mweb_url', async () => {
    expect((await newOrder(wx, 3, { trade_type: 'NATIVE', openid: undefined, product_id: 'p1' })).code_url).toMatch(
      /^weixin:\/\/wxpay/,
    );
    expect((await newOrder(wx, 3, { trade_type: 'MWEB', openid: undefined })).mweb_url).toMatch(/^https:\/\//);
  });

  it('closes an unpaid order and refuses to close a paid one (kind order_paid)', async () => {
    const order = await newOrder(wx, 5);
    await wx.payment!.closeOrder(order.out_trade_no);
    expect((await wx.payment!.queryOrder({ out_trade_no: order.out_trade_no })).responseData.trade_state).toBe(
      'CLOSED',
    );

    const paid = await newOrder(wx, 5);
    await sandbox.payOrder(paid.out_trade_no);
    const err = await caught(wx.payment!.closeOrder(paid.out_trade_no));
    expect(err).toBeInstanceOf(WechatPayError);
    expect(err).toMatchObject({ payCode: 'ORDERPAID', kind: 'order_paid', version: 'v2' });
  });

  it('a typed error for an unknown order', async () => {
    const err = await caught(wx.payment!.queryOrder({ out_trade_no: 'NOPE' }));
    expect(err).toMatchObject({ payCode: 'ORDERNOTEXIST', kind: 'not_found' });
  });
});

describe('refunds with the merchant client certificate', () => {
  it('refunds (p12), queries, and decrypts the refund notification', async () => {
    const order = await newOrder(wx, 100);
    await sandbox.payOrder(order.out_trade_no);
    const refund = await wx.payment!.refund({
      out_trade_no: order.out_trade_no,
      out_refund_no: `R${order.out_trade_no}`,
      total_fee: 100,
      refund_fee: 30,
      notify_url: `${merchant.url}/refund`,
    });
    expect(refund).toMatchObject({ result_code: 'SUCCESS', refund_fee: '30', out_refund_no: `R${order.out_trade_no}` });

    const query = (await wx.payment!.queryRefund({ out_refund_no: refund.out_refund_no })).responseData;
    expect(query).toMatchObject({ refund_count: '1', refund_status_0: 'PROCESSING', refund_fee_0: '30' });

    const delivery = await sandbox.completeRefund(refund.out_refund_no);
    expect(delivery?.delivered).toBe(true);
    const { decryptedData, parsedXMLData } = handled.at(-1)!.result as {
      decryptedData: Record<string, string>;
      parsedXMLData: Record<string, string>;
    };
    expect(parsedXMLData.mch_id).toBe(MCH_ID);
    expect(decryptedData).toMatchObject({
      out_refund_no: refund.out_refund_no,
      refund_status: 'SUCCESS',
      refund_fee: '30',
      total_fee: '100',
    });
    expect((await wx.payment!.queryRefund({ out_trade_no: order.out_trade_no })).responseData.refund_status_0).toBe(
      'SUCCESS',
    );

    const tooMuch = await caught(
      wx.payment!.refund({
        out_trade_no: order.out_trade_no,
        out_refund_no: `X${order.out_trade_no}`,
        total_fee: 100,
        refund_fee: 71,
      }),
    );
    expect(tooMuch).toMatchObject({ payCode: 'INVALID_REQUEST' });
  });

  it('refunds with the PEM certificate and key', async () => {
    const pem = open({
      paymentCertificatePfx: undefined,
      paymentCertificate: certs.merchants[MCH_ID].cert,
      paymentPrivateKey: certs.merchants[MCH_ID].key,
    });
    const order = await newOrder(pem, 10);
    await sandbox.payOrder(order.out_trade_no);
    const refund = await pem.payment!.refund({
      transaction_id: undefined,
      out_trade_no: order.out_trade_no,
      out_refund_no: `P${order.out_trade_no}`,
      total_fee: 10,
      refund_fee: 10,
    });
    expect(refund.refund_fee).toBe('10');
  });

  it("without a client certificate: ConfigError before any request; with another merchant's: refused", async () => {
    const noCert = open({ paymentCertificatePfx: undefined });
    const before = sandbox.calls('/secapi/pay/refund');
    const err = await caught(
      noCert.payment!.refund({ out_trade_no: 'X', out_refund_no: 'Y', total_fee: 1, refund_fee: 1 }),
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('paymentCertificatePfx');
    expect(sandbox.calls('/secapi/pay/refund')).toBe(before);

    const wrongCert = open({ paymentCertificatePfx: certs.merchants[MCH_ID2].pfx, paymentPassphrase: MCH_ID2 });
    const order = await newOrder(wx, 7);
    await sandbox.payOrder(order.out_trade_no);
    const refused = await caught(
      wrongCert.payment!.refund({
        out_trade_no: order.out_trade_no,
        out_refund_no: `W${order.out_trade_no}`,
        total_fee: 7,
        refund_fee: 7,
      }),
    );
    expect(refused).toBeInstanceOf(WechatPayError);
    expect((refused as Error).message).toMatch(/证书错误/);
    expect(sandbox.calls('/secapi/pay/refund')).toBe(before + 1);
  });
});

describe('bills, comments, settlement and exchange rate', () => {
  it("downloads the day's bill (gzip and plain), the fund flow and the comments", async () => {
    const order = await newOrder(wx, 1234);
    await sandbox.payOrder(order.out_trade_no);
    const day = wx.payment!.getDownloadBillDate();
    const gz = await wx.payment!.downloadBill(day);
    expect(gz.data[0]).toBe(0x1f);
    expect(gz.body).toContain(`\`${order.out_trade_no}`);
    expect(gz.body).toContain('`12.34');
    const plain = await wx.payment!.downloadBill(day, 'ALL', true);
    expect(plain.data.toString('utf8')).toBe(plain.body);
    expect(plain.body.split('\r\n')[0]).toMatch(/^交易时间,/);

    const flow = await wx.payment!.downloadFundFlow(day, 'Basic', true);
    expect(flow.body).toContain(`\`${order.out_trade_no}`);

    const comments = await wx.payment!.queryComments(`${day}000000`, `${day}235959`, 0, 100);
    expect(comments.split('\r\n').length).toBeGreaterThan(1);

    const noBill = await caught(wx.payment!.downloadBill('20000101'));
    expect(noBill).toMatchObject({ payCode: 'FAIL' });
    expect((noBill as Error).message).toMatch(/No Bill Exist/);
  });

  it('queries settlements and the exchange rate', async () => {
    const settlement = await wx.payment!.querySettlement({
      usetag: 1,
      offset: 0,
      limit: 10,
      date_start: '20240101',
      date_end: '20240131',
    });
    expect(settlement.responseData.record_num).toBe('0');
    const rate = await wx.payment!.queryExchangeRate({ fee_type: 'USD', date: '20240101' });
    expect(rate.responseData).toMatchObject({ fee_type: 'USD', rate: '698000000' });
    expect(rate.requestData.nonce_str).toBeUndefined();
    expect(rate.requestData.sign_type).toBeUndefined();
  });
});

describe('the v2 sandbox key (paymentSandBox)', () => {
  it('fetches the sandbox key, signs with it, and refetches it once when WeChat refuses it', async () => {
    const keyCalls = () => sandbox.calls('/sandboxnew/pay/getsignkey');
    const before = keyCalls();
    const order = await newOrder(sandboxWx, 101);
    expect(keyCalls()).toBe(before + 1);
    expect(sandbox.calls('/sandboxnew/pay/unifiedorder')).toBeGreaterThan(0);

    const delivery = await sandbox.payOrder(order.out_trade_no);
    expect(delivery.delivered).toBe(true);
    expect(handled.at(-1)).toMatchObject({ path: '/sbx/pay' });
    expect(handled.at(-1)!.error).toBeUndefined();

    sandbox.payState.sandboxKeys.set(MCH_ID, 'replaced'.padEnd(32, '0'));
    const query = await sandboxWx.payment!.queryOrder({ out_trade_no: order.out_trade_no });
    expect(query.responseData.trade_state).toBe('SUCCESS');
    expect(keyCalls()).toBe(before + 2);
  });
});

describe('untrusted notifications are refused', () => {
  async function paidNotification(): Promise<Record<string, string>> {
    const order = await newOrder(wx, 9);
    const delivery = await sandbox.payOrder(order.out_trade_no);
    return parseXML(delivery.sent.body);
  }

  it("refuses an unsigned, a tampered, a re-signed with the wrong key, and another merchant's notification", async () => {
    const fields = await paidNotification();
    await expect(wx.payment!.parseNotifyResult(buildXML(fields))).resolves.toMatchObject({ total_fee: '9' });

    const { sign: _sign, ...unsigned } = fields;
    const cases = [
      buildXML(unsigned),
      buildXML({ ...fields, total_fee: '1' }),
      buildXML({ ...unsigned, sign: signPayment(unsigned, PAY_KEY2) }),
      buildXML({ ...fields, mch_id: MCH_ID2, sign: signPayment({ ...unsigned, mch_id: MCH_ID2 }, PAY_KEY2) }),
    ];
    for (const xml of cases) {
      const err = await caught(wx.payment!.parseNotifyResult(xml));
      expect(err).toBeInstanceOf(WechatPayError);
      expect((err as WechatPayError).kind).toBe('untrusted');
    }
  });

  it('refuses a notification with a DOCTYPE (XXE) before reading it', async () => {
    const fields = await paidNotification();
    const xxe = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>${buildXML({ ...fields, attach: '&x;' }).replace('<![CDATA[&x;]]>', '&x;')}`;
    const err = await caught(wx.payment!.parseNotifyResult(xxe));
    expect(err).toBeInstanceOf(XmlError);
    expect((err as WechatError).code).toBe('BAD_XML');
    expect((err as Error).message).toMatch(/DOCTYPE/);
  });

  it('refuses a refund notification whose req_info was not encrypted with our key', async () => {
    const forged = buildXML({
      return_code: 'SUCCESS',
      appid: APP.appId,
      mch_id: MCH_ID,
      nonce_str: 'n',
      req_info: encryptReqInfo(buildXML({ out_refund_no: 'R', refund_status: 'SUCCESS' }, 'root'), PAY_KEY2),
    });
    const err = await caught(wx.payment!.decryptRefundNotifyResult(forged));
    expect(err).toMatchObject({ kind: 'untrusted' });
  });

  it('the sandbox records a FAIL reply when the merchant refuses a notification', async () => {
    const order = await newOrder(wx, 11);
    merchant.setHandler(async () => ({ body: await wx.payment!.replyData(false, 'busy') }));
    try {
      const delivery = await sandbox.payOrder(order.out_trade_no);
      expect(delivery.delivered).toBe(false);
      expect(parseXML(delivery.body)).toEqual({ return_code: 'FAIL', return_msg: 'busy' });
    } finally {
      merchant.setHandler(async (n) => {
        const result = await wx.payment!.parseNotifyResult(n.body);
        handled.push({ path: n.path, result });
        return { body: await wx.payment!.replyData(true) };
      });
    }
  });
});

describe('bad input is refused before any request', () => {
  it('refuses amounts that are not a positive integer number of fen; the sandbox sees no call', async () => {
    sandbox.resetCalls();
    for (const totalFee of [0, -1, 1.5, '1.5', '', undefined, Number.NaN]) {
      const err = await caught(newOrder(wx, totalFee as number));
      expect(err).toBeInstanceOf(WechatError);
      expect((err as WechatError).code).toBe('BAD_AMOUNT');
      expect((err as Error).message).toMatch(/^total_fee must be a positive integer number of fen/);
    }
    const refundErr = await caught(
      wx.payment!.refund({ out_trade_no: 'A', out_refund_no: 'B', total_fee: 100, refund_fee: 0 }),
    );
    expect((refundErr as Error).message).toMatch(/^refund_fee must be/);
    expect(sandbox.calls('/pay/unifiedorder')).toBe(0);
    expect(sandbox.calls('/secapi/pay/refund')).toBe(0);
  });

  it('a wrong paymentKey is reported as sign_error without revealing the key', async () => {
    const wrongKey = 'w'.repeat(32);
    const bad = open({ paymentKey: wrongKey });
    const err = await caught(bad.payment!.queryOrder({ out_trade_no: 'X' }));
    expect(err).toMatchObject({ kind: 'sign_error', payCode: 'SIGNERROR' });
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain(wrongKey);
  });
});

describe('options', () => {
  const base = () => ({ appId: APP.appId, appSecret: APP.appSecret, apiUrl: sandbox.url });

  it.each([
    ['merchantId', { payment: true, paymentKey: PAY_KEY }],
    ['paymentKey', { payment: true, merchantId: MCH_ID }],
    ['paymentPrivateKey', { payment: true, merchantId: MCH_ID, paymentKey: PAY_KEY, paymentCertificate: 'x' }],
    [
      'paymentCertificatePfx',
      { payment: true, merchantId: MCH_ID, paymentKey: PAY_KEY, paymentCertificatePfx: Buffer.from('not a p12') },
    ],
    ['paymentApiUrl', { payment: true, merchantId: MCH_ID, paymentKey: PAY_KEY, paymentApiUrl: 'ftp://x' }],
    ['paymentV3.merchantId', { paymentV3: { privateKey: 'x', certificateSerialNo: 'S', apiV3Key: 'k'.repeat(32) } }],
    [
      'paymentV3.apiV3Key',
      { merchantId: MCH_ID, paymentV3: { privateKey: 'x', certificateSerialNo: 'S', apiV3Key: 'short' } },
    ],
    [
      'paymentV3.privateKey',
      {
        merchantId: MCH_ID,
        paymentV3: { privateKey: 'not a key', certificateSerialNo: 'S', apiV3Key: 'k'.repeat(32) },
      },
    ],
    ['paymentV3.certificateSerialNo', { merchantId: MCH_ID, paymentV3: { privateKey: 'x', apiV3Key: 'k'.repeat(32) } }],
  ])('missing or bad %s is a ConfigError naming it', (option, extra) => {
    let err: unknown;
    try {
      opened.push(wechatOn(sandbox, { ...base(), ...(extra as Partial<WechatOptions>) }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe(option);
    expect((err as Error).message).not.toContain(PAY_KEY);
  });

  it('a wrong p12 passphrase is reported at startup', () => {
    expect(() => wechatOn(sandbox, payOptions({ paymentPassphrase: 'nope' }))).toThrow(/passphrase is wrong/);
  });

  it('wx.options keeps no payment secret', () => {
    const text = JSON.stringify(wx.options);
    expect(text).toContain(MCH_ID);
    expect(text).not.toContain(PAY_KEY);
    expect(wx.options).not.toHaveProperty('paymentKey');
    expect(wx.options).not.toHaveProperty('paymentCertificatePfx');
  });
});
