/**
 * The WeChat Pay page: an amount in yuan becomes an order (API v3 JSAPI, or v2 unifiedOrder), the page shows the
 * signed parameters it would hand to WeixinJSBridge / wx.chooseWXPay, the payment is simulated by the sandbox (or
 * made in WeChat), and the notification WeChat Pay sends to the notify routes below is verified by the SDK and
 * shown. Refund, order query and a forged notification complete the tour. Element ids are what the e2e test reads.
 *
 * The notify routes read the RAW body: both notification kinds are signed over the exact bytes, so no JSON or XML
 * body parser may touch them first.
 */
import { randomBytes } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import omit from 'lodash/omit';
import { WechatError, WechatPayError } from '../../lib/errors';
import { formatFen, yuanToFen } from '../../lib/payment/amounts';
import { buildXML, parseXML, XmlError } from '../../lib/payment/v2/xml';
import type { Payment } from '../../lib/payment/v2/Payment';
import type { V3Notification, V3PayParams } from '../../lib/payment/v3/PaymentV3';
import { sessionIdOf, type DemoContext } from '../context';
import { escapeHtml, explain, jsonForScript, page } from '../layout';
import { NOTIFY_PATHS, PAY_ENV, type PayEnvName, type PaymentSetup } from '../payment-setup';

type Api = 'v2' | 'v3';

/** The fields of a decrypted v3 resource the page uses (a transaction, or a refund). */
interface V3Resource {
  out_trade_no?: string;
  transaction_id?: string;
  trade_state?: string;
  out_refund_no?: string;
  refund_status?: string;
  success_time?: string;
  amount?: { total?: number; refund?: number };
  payer?: { openid?: string };
}

/** One notification as the page shows it (fields chosen from the verified message; never keys). */
export interface PayEvent {
  at: string;
  kind: 'payment' | 'refund' | 'forged';
  api: Api;
  verified: boolean;
  /** How it was checked, or why it was refused. */
  check: string;
  fields: Record<string, string | number | undefined>;
}

export interface DemoOrder {
  outTradeNo: string;
  api: Api;
  /** Fen. */
  total: number;
  description: string;
  openid: string;
  payer: string;
  notifyUrl: string;
  prepayId: string;
  createdAt: string;
  state: 'NOTPAY' | 'PAID' | 'REFUNDED';
  transactionId?: string;
  outRefundNo?: string;
  events: PayEvent[];
  /** The last verified payment notification as received (sandbox mode: the forgery demo replays it altered). */
  lastNotification?: { headers: Record<string, string>; body: string };
}

/** Orders made on this page, newest last; bounded, since it is memory only. */
class Ledger {
  private readonly orders = new Map<string, DemoOrder>();
  constructor(private readonly max = 200) {}

  add(order: DemoOrder): void {
    this.orders.set(order.outTradeNo, order);
    while (this.orders.size > this.max) this.orders.delete(this.orders.keys().next().value as string);
  }

  get(outTradeNo: unknown): DemoOrder | undefined {
    return typeof outTradeNo === 'string' ? this.orders.get(outTradeNo) : undefined;
  }

  record(order: DemoOrder, event: Omit<PayEvent, 'at'>): void {
    order.events.push({ at: new Date().toISOString(), ...event });
    if (order.events.length > 50) order.events.shift();
  }
}

/** A refusal of the demo itself (not logged in, no such order, ...), with its HTTP status. */
class DemoProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendError(res: Response, err: unknown): void {
  if (err instanceof DemoProblem) {
    res.status(err.status).json({ error: err.message });
  } else if (err instanceof WechatError) {
    // The SDK's messages name the problem and never carry a key: show them as they are.
    const status = err.code === 'BAD_AMOUNT' || err.code === 'CONFIG' ? 400 : 502;
    res.status(status).json({ error: err.message, code: err.code });
  } else {
    console.error('payment demo:', err);
    res.status(500).json({ error: 'Internal error (see the server log) 内部错误' });
  }
}

/** The address this request came in on, as seen from this machine: where the in-process sandbox can notify us. */
function loopbackBase(req: Request): string {
  let host = req.socket.localAddress ?? '127.0.0.1';
  if (host.startsWith('::ffff:')) host = host.slice('::ffff:'.length);
  if (host === '::' || host === '0.0.0.0') host = '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${req.socket.localPort}`;
}

/** The payer's IPv4 address for v2's spbill_create_ip. */
function clientIp(req: Request): string {
  const ip = (req.ip ?? '').replace(/^::ffff:/, '');
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : '127.0.0.1';
}

function text(req: Request): string {
  return typeof req.body === 'string' ? req.body : '';
}

/** The v2 and v3 notification answers say why a notification was refused; that text is what the page shows. */
function refusal(api: Api, status: number, body: string): { accepted: boolean; reason: string } {
  if (api === 'v2') {
    try {
      const reply = parseXML(body);
      return { accepted: reply.return_code === 'SUCCESS', reason: reply.return_msg ?? '' };
    } catch {
      return { accepted: false, reason: `HTTP ${status}` };
    }
  }
  let reason = `HTTP ${status}`;
  try {
    reason = `HTTP ${status}: ${(JSON.parse(body) as { message?: string }).message ?? ''}`;
  } catch {
    // An empty 204 is the success answer.
  }
  return { accepted: status >= 200 && status < 300, reason };
}

/** POST to a sandbox control route; its refusals (an order already paid...) become a 409 with its reason. */
async function sandboxControl(
  sandboxUrl: string,
  path: string,
  body: Record<string, unknown>,
): Promise<{ delivered: boolean; status: number }> {
  const res = await fetch(`${sandboxUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await res.json().catch(() => ({}))) as { delivered?: boolean; status?: number; errmsg?: string };
  if (!res.ok) throw new DemoProblem(409, `sandbox ${path}: ${answer.errmsg ?? `HTTP ${res.status}`}`);
  return { delivered: answer.delivered === true, status: Number(answer.status ?? 0) };
}

export function paymentPage(app: Express, demo: DemoContext, setup: PaymentSetup): void {
  const ledger = new Ledger();
  const sandbox = demo.sandbox;
  // Any content type, as text: the signatures cover the exact bytes.
  const raw = express.text({ type: () => true, limit: '64kb' });
  const json = express.json({ limit: '4kb' });

  const ready = (api: Api) => !setup.problem && (api === 'v2' ? setup.v2 : setup.v3);
  const requireApi = (api: Api) => {
    if (ready(api)) return;
    throw new DemoProblem(
      503,
      setup.problem ??
        (setup.kind === 'sandbox'
          ? `WeChat Pay API ${api} is not set up in the sandbox.`
          : `WeChat Pay API ${api} is not configured: see the settings on this page (.env). 未配置微信支付 API ${api}，见本页说明。`),
    );
  };
  const notifyBase = (req: Request) => (setup.kind === 'wechat' ? setup.publicUrl! : loopbackBase(req));
  const order = (req: Request) => {
    const found = ledger.get(req.body?.outTradeNo);
    if (!found) throw new DemoProblem(404, 'No such order on this demo (it keeps orders in memory). 没有这个订单。');
    return found;
  };
  const payer = (req: Request): { openid: string; who: string } => {
    const sid = sessionIdOf(req);
    const login = sid ? demo.logins.get(sid) : undefined;
    if (login) {
      const nickname = login.profile?.nickname;
      return { openid: login.openid, who: typeof nickname === 'string' ? nickname : 'you (logged in) 当前登录用户' };
    }
    if (sandbox?.users[0]) {
      const user = sandbox.users[0];
      return {
        openid: sandbox.openid(demo.wx.appId, user.id),
        who: `${user.nickname} (sandbox test user 沙盒测试用户)`,
      };
    }
    throw new DemoProblem(
      403,
      "Log in with WeChat first (Login page): a JSAPI order needs the payer's openid. 请先在「登录」页授权：JSAPI 下单需要用户的 openid。",
    );
  };

  // ---- notify routes: what WeChat Pay (or the sandbox) calls ----------------------------------------------

  app.post(NOTIFY_PATHS.v2, raw, async (req, res) => {
    const pay = demo.wx.payment;
    if (!pay) return void res.status(404).end();
    let n: Record<string, string>;
    try {
      n = await pay.parseNotifyResult(text(req)); // sign and mch_id checked; DOCTYPE refused
    } catch (err) {
      const status = err instanceof XmlError ? 400 : 200;
      return void res
        .status(status)
        .type('text/xml')
        .send(await pay.replyData(false, (err as Error).message));
    }
    const found = ledger.get(n.out_trade_no);
    if (found && Number(n.total_fee) !== found.total) {
      // Signed by WeChat Pay but not what we asked for: never mark such an order paid.
      return void res.type('text/xml').send(await pay.replyData(false, 'total_fee does not match the order'));
    }
    if (found) {
      ledger.record(found, {
        kind: 'payment',
        api: 'v2',
        verified: true,
        check: `sign (${n.sign_type ?? 'MD5'}) matches the API key; mch_id is ours 签名正确`,
        fields: {
          result_code: n.result_code,
          out_trade_no: n.out_trade_no,
          transaction_id: n.transaction_id,
          total: Number(n.total_fee),
          openid: n.openid,
          time: n.time_end,
        },
      });
      if (n.result_code === 'SUCCESS' && found.state === 'NOTPAY') {
        found.state = 'PAID';
        found.transactionId = n.transaction_id;
      }
      if (sandbox) found.lastNotification = { headers: { 'Content-Type': 'text/xml' }, body: text(req) };
    }
    res.type('text/xml').send(await pay.replyData(true));
  });

  app.post(NOTIFY_PATHS.v2Refund, raw, async (req, res) => {
    const pay = demo.wx.payment;
    if (!pay) return void res.status(404).end();
    let refund: Record<string, string>;
    try {
      // Refund notifications carry no sign: req_info decrypting with our key is what proves them.
      refund = (await pay.decryptRefundNotifyResult(text(req))).decryptedData;
    } catch (err) {
      return void res
        .status(err instanceof XmlError ? 400 : 200)
        .type('text/xml')
        .send(await pay.replyData(false, (err as Error).message));
    }
    const found = ledger.get(refund.out_trade_no);
    if (found) {
      ledger.record(found, {
        kind: 'refund',
        api: 'v2',
        verified: true,
        check: 'req_info decrypted with the API key (AES-256-ECB) 用 API 密钥解密成功',
        fields: {
          refund_status: refund.refund_status,
          out_trade_no: refund.out_trade_no,
          out_refund_no: refund.out_refund_no,
          transaction_id: refund.transaction_id,
          total: Number(refund.refund_fee),
          time: refund.success_time,
        },
      });
      if (refund.refund_status === 'SUCCESS') found.state = 'REFUNDED';
    }
    res.type('text/xml').send(await pay.replyData(true));
  });

  app.post(NOTIFY_PATHS.v3, raw, async (req, res) => {
    const v3 = demo.wx.paymentV3;
    if (!v3) return void res.status(404).end();
    let n: V3Notification<V3Resource>;
    try {
      // Signature (Wechatpay-* headers, 5-minute window, serial lookup), then AES-256-GCM decryption.
      n = await v3.parseNotification<V3Resource>(req.headers, text(req));
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof WechatPayError && err.kind === 'untrusted') {
        return void res.status(401).json({ code: 'FAIL', message });
      }
      const reply = v3.notifyReply(false, message);
      return void res.status(reply.status).type('application/json').send(reply.body);
    }
    const r = n.resource;
    const found = ledger.get(r.out_trade_no);
    const isRefund = n.event_type.startsWith('REFUND.');
    if (found && !isRefund && r.amount?.total !== found.total) {
      const reply = v3.notifyReply(false, 'amount.total does not match the order');
      return void res.status(reply.status).type('application/json').send(reply.body);
    }
    if (found) {
      ledger.record(found, {
        kind: isRefund ? 'refund' : 'payment',
        api: 'v3',
        verified: true,
        check: `RSA signature of Wechatpay-Serial ${String(req.headers['wechatpay-serial'] ?? '')}, resource decrypted (AES-256-GCM) 验签并解密成功`,
        fields: {
          event_type: n.event_type,
          out_trade_no: r.out_trade_no,
          transaction_id: r.transaction_id,
          ...(isRefund
            ? { out_refund_no: r.out_refund_no, refund_status: r.refund_status, total: r.amount?.refund }
            : { trade_state: r.trade_state, total: r.amount?.total, openid: r.payer?.openid }),
          time: r.success_time,
        },
      });
      if (!isRefund && r.trade_state === 'SUCCESS' && found.state === 'NOTPAY') {
        found.state = 'PAID';
        found.transactionId = r.transaction_id;
        if (sandbox) {
          const headers = Object.fromEntries(
            Object.entries(req.headers).filter(([k]) => k.startsWith('wechatpay-') || k === 'content-type'),
          ) as Record<string, string>;
          found.lastNotification = { headers, body: text(req) };
        }
      }
      if (isRefund && r.refund_status === 'SUCCESS') found.state = 'REFUNDED';
    }
    const reply = v3.notifyReply(true);
    res.status(reply.status).send(reply.body);
  });

  // ---- the page's own API ---------------------------------------------------------------------------------

  app.post('/payment/api/order', json, async (req, res) => {
    try {
      const api: Api = req.body?.api === 'v2' ? 'v2' : 'v3';
      requireApi(api);
      // The SDK's converter: exact decimal arithmetic, and a clear BAD_AMOUNT error for "abc", "1.234", ...
      const total = yuanToFen(req.body?.yuan as string);
      const { openid, who } = payer(req);
      const outTradeNo = `DEMO${Date.now()}${randomBytes(4).toString('hex').toUpperCase()}`;
      const description = 'wechat-jssdk-ts demo 演示商品';
      let bridge: V3PayParams | Awaited<ReturnType<Payment['jsapiPayParams']>>;
      let prepayId: string;
      let notifyUrl: string;
      if (api === 'v3') {
        const v3 = demo.wx.paymentV3!;
        notifyUrl = `${notifyBase(req)}${NOTIFY_PATHS.v3}`;
        // amount.total is checked by the SDK before anything is sent (0 or negative: BAD_AMOUNT).
        ({ prepay_id: prepayId } = await v3.jsapi({
          description,
          out_trade_no: outTradeNo,
          amount: { total },
          payer: { openid },
          notify_url: notifyUrl,
        }));
        bridge = v3.jsapiPayParams(prepayId); // signType RSA: signed with the merchant private key
      } else {
        const pay = demo.wx.payment!;
        notifyUrl = `${notifyBase(req)}${NOTIFY_PATHS.v2}`;
        const { responseData } = await pay.unifiedOrder({
          body: description,
          out_trade_no: outTradeNo,
          total_fee: total,
          spbill_create_ip: clientIp(req),
          openid,
          trade_type: 'JSAPI',
          notify_url: notifyUrl,
        });
        prepayId = responseData.prepay_id;
        bridge = await pay.jsapiPayParams(prepayId); // MD5 with the API key
      }
      // wx.chooseWXPay takes the same signed values with `timestamp` in lower case, and its appId from wx.config.
      // (v2's generateChooseWXPayInfo(prepayId) returns exactly this shape.)
      const chooseWXPay = {
        timestamp: bridge.timeStamp,
        nonceStr: bridge.nonceStr,
        package: bridge.package,
        signType: bridge.signType,
        paySign: bridge.paySign,
      };
      const created: DemoOrder = {
        outTradeNo,
        api,
        total,
        description,
        openid,
        payer: who,
        notifyUrl,
        prepayId,
        createdAt: new Date().toISOString(),
        state: 'NOTPAY',
        events: [],
      };
      ledger.add(created);
      res.json({ order: publicOrder(created), params: { bridge, chooseWXPay } });
    } catch (err) {
      sendError(res, err);
    }
  });

  app.get('/payment/api/orders/:outTradeNo', (req, res) => {
    const found = ledger.get(req.params.outTradeNo);
    if (!found) return void res.status(404).json({ error: 'No such order 没有这个订单' });
    res.set('Cache-Control', 'no-store').json(publicOrder(found));
  });

  // Sandbox: the user "pays"; the sandbox then POSTs the signed notification to the order's notify_url.
  app.post('/payment/api/simulate', json, async (req, res) => {
    try {
      if (!sandbox) throw new DemoProblem(404, 'Only in sandbox mode: in WeChat, the user pays. 仅沙盒模式可用。');
      const found = order(req);
      // Through the sandbox's HTTP control route, as a test harness in another process would ask it.
      const delivery = await sandboxControl(sandbox.url, '/__sandbox/pay/order', {
        out_trade_no: found.outTradeNo,
        mch_id: setup.merchantId,
      });
      res.json({ delivered: delivery.delivered, status: delivery.status, url: found.notifyUrl });
    } catch (err) {
      sendError(res, err);
    }
  });

  app.post('/payment/api/query', json, async (req, res) => {
    try {
      const found = order(req);
      requireApi(found.api);
      const o =
        found.api === 'v3'
          ? await demo.wx.paymentV3!.queryOrder({ out_trade_no: found.outTradeNo })
          : (await demo.wx.payment!.queryOrder({ out_trade_no: found.outTradeNo })).responseData;
      res.json({ trade_state: o.trade_state, trade_state_desc: o.trade_state_desc, transaction_id: o.transaction_id });
    } catch (err) {
      sendError(res, err);
    }
  });

  app.post('/payment/api/refund', json, async (req, res) => {
    try {
      const found = order(req);
      requireApi(found.api);
      if (found.state !== 'PAID') {
        throw new DemoProblem(409, 'Only a paid order can be refunded here. 只有已支付的订单可以退款。');
      }
      const outRefundNo = `R${found.outTradeNo}`;
      let refund: Record<string, unknown>;
      if (found.api === 'v3') {
        refund = await demo.wx.paymentV3!.refund({
          out_trade_no: found.outTradeNo,
          out_refund_no: outRefundNo,
          reason: 'demo refund 演示退款',
          amount: { refund: found.total, total: found.total },
          notify_url: `${notifyBase(req)}${NOTIFY_PATHS.v3}`,
        });
      } else {
        // v2 refunds go over the merchant client certificate (apiclient_cert.p12).
        refund = await demo.wx.payment!.refund({
          out_trade_no: found.outTradeNo,
          out_refund_no: outRefundNo,
          total_fee: found.total,
          refund_fee: found.total,
          notify_url: `${notifyBase(req)}${NOTIFY_PATHS.v2Refund}`,
        });
      }
      found.outRefundNo = outRefundNo;
      // WeChat settles refunds later and then notifies; the sandbox does it now when asked.
      const settled = sandbox
        ? await sandboxControl(sandbox.url, '/__sandbox/pay/refund', {
            out_refund_no: outRefundNo,
            mch_id: setup.merchantId,
          })
        : undefined;
      res.json({
        refund: {
          out_refund_no: outRefundNo,
          refund_id: refund.refund_id,
          status: refund.status ?? 'PROCESSING',
        },
        settled: settled ? { delivered: settled.delivered, status: settled.status } : undefined,
      });
    } catch (err) {
      sendError(res, err);
    }
  });

  // Sandbox: replay the last genuine notification with one detail changed, to this demo's own notify route.
  app.post('/payment/api/forge', json, async (req, res) => {
    try {
      if (!sandbox) throw new DemoProblem(404, 'Only in sandbox mode. 仅沙盒模式可用。');
      const found = order(req);
      const genuine = found.lastNotification;
      if (!genuine) throw new DemoProblem(409, 'Pay the order first. 请先支付。');
      let body: string;
      let change: string;
      if (found.api === 'v2') {
        const fields = parseXML(genuine.body);
        fields.total_fee = '1';
        fields.cash_fee = '1';
        body = buildXML(fields); // same sign as before: no longer matches the fields
        change = `total_fee ${found.total} → 1 (0.01 yuan), sign kept`;
      } else {
        const message = JSON.parse(genuine.body) as { resource: { ciphertext: string } };
        const c = message.resource.ciphertext;
        message.resource.ciphertext = (c[0] === 'A' ? 'B' : 'A') + c.slice(1);
        body = JSON.stringify(message);
        change = 'first character of resource.ciphertext changed, Wechatpay-Signature kept';
      }
      const path = found.api === 'v2' ? NOTIFY_PATHS.v2 : NOTIFY_PATHS.v3;
      const answer = await fetch(`${loopbackBase(req)}${path}`, {
        method: 'POST',
        headers: genuine.headers,
        body,
        signal: AbortSignal.timeout(5000),
      });
      const verdict = refusal(found.api, answer.status, await answer.text());
      ledger.record(found, {
        kind: 'forged',
        api: found.api,
        verified: verdict.accepted,
        check: verdict.reason,
        fields: { out_trade_no: found.outTradeNo, change },
      });
      res.json({ accepted: verdict.accepted, status: answer.status, reason: verdict.reason, change });
    } catch (err) {
      sendError(res, err);
    }
  });

  // ---- the page ------------------------------------------------------------------------------------------------

  app.get('/payment', (req, res) => {
    const inSandbox = setup.kind === 'sandbox';
    const loggedIn = Boolean(sessionIdOf(req) && demo.logins.get(sessionIdOf(req)!));
    const usable = ready('v3') || ready('v2');
    const config = {
      sandbox: inSandbox,
      v2: ready('v2'),
      v3: ready('v3'),
    };
    const body = `
<style>
  pre.code { background: #f6f8fa; border: 1px solid #e3e5e8; border-radius: 6px; padding: .6em .8em; white-space: pre-wrap; word-break: break-all; font: .82em/1.45 ui-monospace, Menlo, Consolas, monospace; margin: .3em 0 .8em; }
  .button:disabled { opacity: .45; cursor: default; }
  .amount { display: flex; flex-wrap: wrap; align-items: center; gap: .4em; margin: .6em 0; }
  .amount input { font-size: 1.1em; width: 8em; padding: .45em .6em; border: 1px solid #c9ccd1; border-radius: 6px; }
  #pay-env th { width: 17.5em; word-break: normal; }
  #pay-env td:last-child { white-space: nowrap; }
  #forge-result.status { font-size: 1em; }
  #forge-result .muted { font-weight: normal; margin-top: .2em; }
  #events li[data-verified="no"] { color: var(--red); }
  #events li[data-verified="yes"] { color: #137333; }
</style>
${explain(
  "WeChat Pay inside a web page: the server creates an order with WeChat Pay and gets a <code>prepay_id</code>, signs the payment parameters, and the page passes them to WeChat's payment sheet. WeChat Pay then calls the merchant's <b>notify URL</b> with a signed notification; only that verified notification proves the payment." +
    (inSandbox ? ' Here the sandbox plays WeChat Pay, so you can go through every step in any browser.' : ''),
  '网页内的微信支付：服务器向微信支付下单并获得 <code>prepay_id</code>，对支付参数签名，页面把参数交给微信收银台。随后微信支付带着签名的通知请求商户的<b>支付通知地址</b>；只有验证通过的通知才能证明已付款。' +
    (inSandbox ? '这里由沙盒扮演微信支付，在任何浏览器中都能走完每一步。' : ''),
)}
${setupHtml(setup, demo)}
${usable ? stepsHtml(setup, inSandbox, loggedIn) : ''}`;
    const scripts = usable
      ? `<script type="application/json" id="demo-config">${jsonForScript(config)}</script>
<script>${PAGE_SCRIPT}</script>`
      : '';
    res.send(page({ title: 'WeChat Pay 微信支付', path: '/payment', body, mode: demo.modeBanner, scripts }));
  });
}

/** What the browser may see of an order: everything but the raw notification kept for the forgery demo. */
function publicOrder(order: DemoOrder) {
  return { ...omit(order, 'lastNotification'), yuan: formatFen(order.total), forgeable: !!order.lastNotification };
}

function setupHtml(setup: PaymentSetup, demo: DemoContext): string {
  const yes = (on: boolean) => (on ? '✓' : '✗');
  const problem = setup.problem
    ? `<div class="status" data-state="failed" id="pay-setup" data-ready="no">✗ WeChat Pay is not available 微信支付不可用</div>
<p id="pay-problem">${escapeHtml(setup.problem)}</p>`
    : '';
  if (setup.kind === 'sandbox') {
    if (problem)
      return `<h2>Setup 配置</h2>${problem}<p class="muted">The other pages of the demo work without it. 演示的其他页面不受影响。</p>`;
    const certs = setup.certificates!;
    const merchant = certs.merchants[setup.merchantId!];
    return `<h2>Setup 配置</h2>
<div class="status" data-state="ok" id="pay-setup" data-ready="yes">✓ Sandbox merchant ${escapeHtml(setup.merchantId)} is ready 沙盒商户已就绪</div>
<table>
  <tr><th>Merchant id 商户号</th><td class="mono">${escapeHtml(setup.merchantId)}</td></tr>
  <tr><th>WeChat Pay API</th><td class="mono">${escapeHtml(demo.sandbox?.payUrl)}</td></tr>
  <tr><th>API v3</th><td>${yes(setup.v3)} merchant certificate 商户证书 <code>${escapeHtml(merchant.serialNo)}</code>; WeChat Pay platform certificate 平台证书 <code>${escapeHtml(certs.platform.serialNo)}</code> (the SDK downloads it from <code>/v3/certificates</code>)</td></tr>
  <tr><th>API v2</th><td>${yes(setup.v2)} MD5 signatures with the API key; refunds with <code>apiclient_cert.p12</code></td></tr>
  <tr><th>Keys 密钥</th><td>The API keys and the private key stay on the server; this page never shows them. 密钥和私钥只在服务器上，页面不会显示。</td></tr>
</table>
<p class="muted">The certificates were made with openssl when the demo started (they last a week and are never reused). 证书在演示启动时用 openssl 生成。</p>`;
  }
  const rows = (Object.keys(PAY_ENV) as PayEnvName[])
    .map(
      (name) =>
        `<tr><th class="mono">${name}</th><td>${escapeHtml(PAY_ENV[name])}</td><td data-env="${name}">${setup.present.includes(name) ? '✓ set 已设置' : '– not set 未设置'}</td></tr>`,
    )
    .join('');
  const base = setup.publicUrl ?? 'PUBLIC_URL';
  const status = problem
    ? problem
    : setup.v2 || setup.v3
      ? `<div class="status" data-state="ok" id="pay-setup" data-ready="yes">✓ Merchant ${escapeHtml(setup.merchantId)}: API v3 ${yes(setup.v3)} · API v2 ${yes(setup.v2)}</div>`
      : `<div class="status" data-state="pending" id="pay-setup" data-ready="no">WeChat Pay is not configured: no payment call is made. 未配置微信支付，不会发起任何支付请求。</div>`;
  return `<h2>What WeChat Pay needs 微信支付需要的配置</h2>
${explain(
  'To take real payments the demo needs your merchant account (pay.weixin.qq.com) in <code>.env</code> (see <code>.env.example</code>): the merchant id; for API v3 the APIv3 key, the merchant API private key file and its certificate serial number, and, for merchants on the public-key scheme, the WeChat Pay public key and its id; for the v2 button the v2 API key (and <code>apiclient_cert.p12</code> for v2 refunds). In the merchant platform, link this app id to the merchant, add <code>' +
    escapeHtml(base) +
    '/payment/</code> as a JSAPI payment directory, and keep <code>PUBLIC_URL</code> a public https address: WeChat Pay sends notifications to <code>' +
    escapeHtml(base) +
    NOTIFY_PATHS.v3 +
    '</code> (v2: <code>' +
    NOTIFY_PATHS.v2 +
    '</code>).',
  '要收真实款项，需要在 <code>.env</code> 中填写商户信息（见 <code>.env.example</code>）：商户号；API v3 需要 APIv3 密钥、商户 API 私钥文件及证书序列号，使用公钥模式的商户还需微信支付公钥及其 ID；v2 按钮需要 v2 API 密钥（v2 退款还需 <code>apiclient_cert.p12</code>）。在商户平台把本公众号 AppID 关联到商户号，把 <code>' +
    escapeHtml(base) +
    '/payment/</code> 加入 JSAPI 支付授权目录，并确保 <code>PUBLIC_URL</code> 是公网 https 地址：支付通知会发送到 <code>' +
    escapeHtml(base) +
    NOTIFY_PATHS.v3 +
    '</code>（v2：<code>' +
    NOTIFY_PATHS.v2 +
    '</code>）。',
)}
${status}
<table id="pay-env">${rows}</table>
<p class="muted">Values are never shown; key files stay on the server. 页面不会显示任何取值，密钥文件只留在服务器上。</p>`;
}

function stepsHtml(setup: PaymentSetup, inSandbox: boolean, loggedIn: boolean): string {
  const who = loggedIn
    ? 'The payer is you (the user logged in on the Login page). 付款人为当前登录用户。'
    : inSandbox
      ? 'The payer is the sandbox test user Alice; log in on the <a href="/oauth">Login page</a> to pay as yourself. 付款人为沙盒测试用户 Alice；在「登录」页登录后则为你自己。'
      : 'Log in first on the <a href="/wechat/oauth?scope=snsapi_base&amp;returnTo=/payment">Login page</a>: a JSAPI order needs your openid. 请先登录：JSAPI 下单需要你的 openid。';
  return `
<h2>1. Create an order 下单</h2>
${explain(
  'Enter an amount in yuan. WeChat Pay counts in <b>fen</b> (1 yuan = 100 fen); the SDK converts with <code>yuanToFen()</code>, exactly, and refuses what is not a whole positive number of fen (try <code>0</code>, <code>-1</code> or <code>1.234</code>) before anything is sent. <b>API v3</b> places a JSAPI order (<code>wx.paymentV3.jsapi</code>, JSON signed with the merchant private key); <b>API v2</b> calls <code>unifiedOrder</code> (XML signed with the API key). ' +
    who,
  '输入金额（元）。微信支付以<b>分</b>为单位（1 元 = 100 分）；SDK 用 <code>yuanToFen()</code> 精确换算，不是正整数分的金额（试试 <code>0</code>、<code>-1</code>、<code>1.234</code>）在发送前就会被拒绝。<b>API v3</b> 调用 JSAPI 下单（<code>wx.paymentV3.jsapi</code>，JSON，商户私钥签名）；<b>API v2</b> 调用统一下单 <code>unifiedOrder</code>（XML，API 密钥签名）。',
)}
<div class="amount">
  <label for="amount">Amount 金额 (yuan 元)</label>
  <input id="amount" value="0.01" inputmode="decimal" autocomplete="off">
  <button class="button" id="create-v3" type="button"${setup.v3 ? '' : ' disabled'}>Create order · API v3 JSAPI 下单</button>
  <button class="button secondary" id="create-v2" type="button"${setup.v2 ? '' : ' disabled'}>API v2 unifiedOrder 统一下单</button>
</div>
<div class="status" data-state="failed" id="order-error" hidden></div>
<table id="order">
  <tr><th>out_trade_no 商户订单号</th><td class="mono" id="o-no">–</td></tr>
  <tr><th>API</th><td id="o-api">–</td></tr>
  <tr><th>Amount 金额</th><td id="o-amount">–</td></tr>
  <tr><th>prepay_id</th><td class="mono" id="o-prepay">–</td></tr>
  <tr><th>Payer 付款人</th><td id="o-payer">–</td></tr>
  <tr><th>notify_url 通知地址</th><td class="mono" id="o-notify">–</td></tr>
</table>

<h2>2. Payment parameters 支付参数</h2>
${explain(
  "The server signs the parameters of WeChat's payment sheet: <code>paySign</code> covers appId, timeStamp, nonceStr and package (<code>prepay_id=…</code>). v3 signs with the merchant's RSA private key (<code>signType: 'RSA'</code>), v2 with the API key (MD5). The page only receives the signed values, never a key.",
  "服务器为微信收银台的参数签名：<code>paySign</code> 覆盖 appId、timeStamp、nonceStr 和 package（<code>prepay_id=…</code>）。v3 用商户 RSA 私钥签名（<code>signType: 'RSA'</code>），v2 用 API 密钥（MD5）。页面只拿到签名后的参数，拿不到密钥。",
)}
<p class="muted">WeixinJSBridge.invoke('getBrandWCPayRequest', …)</p>
<pre class="code" id="params-bridge">–</pre>
<p class="muted">wx.chooseWXPay({ …, success }) (JS-SDK, after wx.config)</p>
<pre class="code" id="params-choose">–</pre>

<h2>3. Pay 支付</h2>
${explain(
  inSandbox
    ? "<b>Simulate paying</b> asks the sandbox to do what WeChat Pay does when the user pays: it marks the order paid and POSTs a signed notification to the order's <code>notify_url</code> on this demo. The page then shows what arrived."
    : 'In WeChat, <b>Pay in WeChat</b> opens the payment sheet with the parameters above. Whatever the page is told, the order is paid only when the verified notification arrives.',
  inSandbox
    ? '<b>模拟支付</b>让沙盒做微信支付在用户付款后做的事：把订单标记为已支付，并向本演示订单的 <code>notify_url</code> 发送签名的支付通知。页面随后显示收到的通知。'
    : '在微信中点<b>微信支付</b>会用上面的参数打开收银台。无论页面收到什么结果，只有收到并验证了支付通知，订单才算已支付。',
)}
<p>${
    inSandbox
      ? '<button class="button" id="simulate" type="button" disabled>Simulate paying 模拟支付</button>'
      : '<button class="button" id="pay-wechat" type="button" disabled>Pay in WeChat 微信支付</button>'
  }</p>
<div class="status" data-state="pending" id="pay-status">No order yet 尚未下单</div>

<h2>4. The notification 支付通知</h2>
${explain(
  'The notify routes of this demo read the raw body and let the SDK verify it: v3 checks the <code>Wechatpay-Signature</code> of the exact body with the platform certificate (or WeChat Pay public key) and a 5-minute timestamp window, then decrypts the resource with the APIv3 key (AES-256-GCM); v2 checks the <code>sign</code> with the API key. The amount is compared with the order before it is marked paid. The page polls <code>/payment/api/orders/…</code> to show it.',
  '本演示的通知路由读取原始请求体，交给 SDK 验证：v3 用平台证书（或微信支付公钥）校验原始报文的 <code>Wechatpay-Signature</code> 和 5 分钟时间窗口，再用 APIv3 密钥解密资源（AES-256-GCM）；v2 用 API 密钥校验 <code>sign</code>。标记已支付前还要核对金额。页面轮询 <code>/payment/api/orders/…</code> 显示结果。',
)}
<table id="notification">
  <tr><th>Event 事件</th><td class="mono" id="n-event">–</td></tr>
  <tr><th>transaction_id 微信订单号</th><td class="mono" id="n-transaction">–</td></tr>
  <tr><th>Amount 金额</th><td id="n-amount">–</td></tr>
  <tr><th>Payer openid</th><td class="mono" id="n-openid">–</td></tr>
  <tr><th>Time 时间</th><td class="mono" id="n-time">–</td></tr>
  <tr><th>Verified 验证</th><td id="n-check">–</td></tr>
</table>
<p class="muted">Notifications received 收到的通知：</p>
<ol class="log" id="events"></ol>
<p><button class="button secondary" id="query" type="button" disabled>Query the order 查询订单</button> <span id="query-result"></span></p>

<h2>5. Refund 退款</h2>
${explain(
  'Refund the whole amount: v3 <code>refund()</code>, or v2 <code>refund()</code> over the merchant client certificate. WeChat Pay settles the refund later and sends a refund notification (v3: signed and encrypted like the payment one; v2: <code>req_info</code> encrypted with the API key).' +
    (inSandbox ? ' The sandbox settles it at once.' : ''),
  '全额退款：v3 <code>refund()</code>，或 v2 通过商户证书调用 <code>refund()</code>。微信支付稍后完成退款并发送退款通知（v3 与支付通知一样签名加密；v2 的 <code>req_info</code> 用 API 密钥加密）。' +
    (inSandbox ? '沙盒会立即完成退款。' : ''),
)}
<p><button class="button secondary" id="refund" type="button" disabled>Refund 退款</button></p>
<div id="refund-result" class="muted"></div>
${
  inSandbox
    ? `
<h2>6. A forged notification 伪造的通知</h2>
${explain(
  'Anyone can POST to a notify URL. This button sends the last genuine notification again with one detail changed (v2: the amount; v3: one character of the encrypted resource) to this demo: the SDK refuses it and the order is not touched.',
  '任何人都能向通知地址发请求。此按钮把最近一条真实通知改动一处（v2 改金额，v3 改加密资源的一个字符）后再发给本演示：SDK 拒绝它，订单不受影响。',
)}
<p><button class="button secondary" id="forge" type="button" disabled>Send a forged notification 发送伪造通知</button></p>
<div id="forge-result"></div>`
    : ''
}
<h2>Log 日志</h2>
<ol class="log" id="log"></ol>`;
}

// Runs in the page (plain ES2017, no build step). Reads its settings from #demo-config.
const PAGE_SCRIPT = `
(function () {
  var cfg = JSON.parse(document.getElementById('demo-config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var current = null;
  var timer = null;
  var pollUntil = 0;

  function log(message) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + '  ' + message;
    $('log').appendChild(li);
  }
  function call(method, url, body) {
    return fetch(url, {
      method: method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || ('HTTP ' + r.status));
        return data;
      });
    });
  }
  function fill(id, value) { $(id).textContent = value === undefined || value === null || value === '' ? '–' : String(value); }
  function yuan(fen) { return Math.floor(fen / 100) + '.' + ('0' + (fen % 100)).slice(-2); }
  function enable(id, on) { var el = $(id); if (el) el.disabled = !on; }
  function setStatus(state, text) { var el = $('pay-status'); el.setAttribute('data-state', state); el.textContent = text; }

  function create(api) {
    $('order-error').hidden = true;
    enable('create-v3', false); enable('create-v2', false);
    call('POST', '/payment/api/order', { yuan: $('amount').value, api: api }).then(function (data) {
      current = data;
      var o = data.order;
      fill('o-no', o.outTradeNo);
      fill('o-api', o.api === 'v3' ? 'v3 · JSAPI (wx.paymentV3.jsapi)' : 'v2 · unifiedOrder (wx.payment.unifiedOrder)');
      fill('o-amount', o.yuan + ' yuan 元 = ' + o.total + ' fen 分');
      fill('o-prepay', o.prepayId);
      fill('o-payer', o.payer + ' · ' + o.openid);
      fill('o-notify', o.notifyUrl);
      $('params-bridge').textContent = JSON.stringify(data.params.bridge, null, 2);
      $('params-choose').textContent = JSON.stringify(data.params.chooseWXPay, null, 2);
      ['n-event', 'n-transaction', 'n-amount', 'n-openid', 'n-time', 'n-check'].forEach(function (id) { fill(id, ''); });
      $('events').innerHTML = '';
      $('refund-result').textContent = '';
      if ($('forge-result')) $('forge-result').textContent = '';
      $('query-result').textContent = '';
      log('order ' + o.outTradeNo + ' created with API ' + o.api + ' for ' + o.yuan + ' yuan; prepay_id ' + o.prepayId);
      render(o);
      pollUntil = Date.now() + 10 * 60 * 1000;
      if (!timer) timer = setInterval(refresh, 1500);
    }, function (err) {
      $('order-error').hidden = false;
      $('order-error').textContent = '✗ ' + err.message;
      log('order refused: ' + err.message);
    }).then(function () { enable('create-v3', cfg.v3); enable('create-v2', cfg.v2); });
  }

  function render(o) {
    if (!current || o.outTradeNo !== current.order.outTradeNo) return;
    current.order = o;
    var payment = o.events.filter(function (e) { return e.kind === 'payment' && e.verified; }).pop();
    var refund = o.events.filter(function (e) { return e.kind === 'refund' && e.verified; }).pop();
    if (o.state === 'NOTPAY') setStatus('pending', 'Waiting for the payment notification… 等待支付通知…');
    else if (o.state === 'PAID') setStatus('ok', '✓ Paid: the notification arrived and the SDK verified it 已支付：支付通知已收到并通过验证');
    else setStatus('ok', '✓ Refunded: the refund notification arrived and was verified 已退款：退款通知已收到并通过验证');
    if (payment) {
      var f = payment.fields;
      fill('n-event', f.event_type || ('v2 result_code ' + f.result_code));
      fill('n-transaction', f.transaction_id);
      fill('n-amount', typeof f.total === 'number' ? yuan(f.total) + ' yuan 元 (' + f.total + ' fen 分)' : '');
      fill('n-openid', f.openid);
      fill('n-time', f.time);
      fill('n-check', '✓ ' + payment.check);
    }
    var list = $('events');
    list.innerHTML = '';
    o.events.forEach(function (e) {
      var li = document.createElement('li');
      li.setAttribute('data-kind', e.kind);
      li.setAttribute('data-verified', e.verified ? 'yes' : 'no');
      var what = e.kind === 'forged' ? 'forged notification 伪造通知' : e.kind === 'refund' ? 'refund notification 退款通知' : 'payment notification 支付通知';
      var detail = e.kind === 'forged' ? e.fields.change : (e.fields.event_type || e.fields.result_code || e.fields.refund_status || '');
      li.textContent = e.at.slice(11, 19) + '  ' + (e.verified ? '✓ accepted ' : '✗ refused ') + e.api + ' ' + what + ' · ' + detail + ' · ' + e.check;
      list.appendChild(li);
    });
    enable('simulate', o.state === 'NOTPAY');
    enable('pay-wechat', o.state === 'NOTPAY');
    enable('query', true);
    enable('refund', o.state === 'PAID');
    enable('forge', o.forgeable);
    if (refund && !$('refund-result').getAttribute('data-done')) {
      $('refund-result').setAttribute('data-done', 'yes');
      log('refund ' + refund.fields.out_refund_no + ' ' + refund.fields.refund_status + ' (verified notification)');
    }
    if (o.state === 'REFUNDED' || Date.now() > pollUntil) { clearInterval(timer); timer = null; }
  }

  function refresh() {
    if (!current) return Promise.resolve();
    return call('GET', '/payment/api/orders/' + encodeURIComponent(current.order.outTradeNo)).then(render, function (err) { log('poll: ' + err.message); });
  }

  $('create-v3').addEventListener('click', function () { create('v3'); });
  $('create-v2').addEventListener('click', function () { create('v2'); });
  $('amount').addEventListener('keydown', function (e) { if (e.key === 'Enter') create(cfg.v3 ? 'v3' : 'v2'); });
  enable('create-v3', cfg.v3); enable('create-v2', cfg.v2);

  if ($('simulate')) $('simulate').addEventListener('click', function () {
    enable('simulate', false);
    log('asking the sandbox to pay ' + current.order.outTradeNo + '…');
    call('POST', '/payment/api/simulate', { outTradeNo: current.order.outTradeNo }).then(function (d) {
      log('sandbox sent the notification to ' + d.url + ': HTTP ' + d.status + (d.delivered ? ', acknowledged' : ', NOT acknowledged'));
      return refresh();
    }, function (err) { log('simulate: ' + err.message); return refresh(); });
  });

  if ($('pay-wechat')) $('pay-wechat').addEventListener('click', function () {
    if (typeof WeixinJSBridge === 'undefined') { log('Open this page inside WeChat to pay. 请在微信中打开本页付款。'); return; }
    WeixinJSBridge.invoke('getBrandWCPayRequest', current.params.bridge, function (res) {
      log('getBrandWCPayRequest: ' + res.err_msg + ' (the notification decides) 以支付通知为准');
      refresh();
    });
  });

  $('query').addEventListener('click', function () {
    call('POST', '/payment/api/query', { outTradeNo: current.order.outTradeNo }).then(function (q) {
      $('query-result').textContent = 'trade_state: ' + q.trade_state + (q.trade_state_desc ? ' (' + q.trade_state_desc + ')' : '');
      log('queried ' + current.order.outTradeNo + ': ' + q.trade_state);
    }, function (err) { $('query-result').textContent = '✗ ' + err.message; });
  });

  $('refund').addEventListener('click', function () {
    enable('refund', false);
    call('POST', '/payment/api/refund', { outTradeNo: current.order.outTradeNo }).then(function (d) {
      $('refund-result').textContent = 'Refund ' + d.refund.out_refund_no + ' accepted: ' + d.refund.status +
        (d.settled ? '; the sandbox settled it and notified (HTTP ' + d.settled.status + ')' : '; WeChat Pay notifies when it is settled');
      log('refund requested: ' + d.refund.out_refund_no);
      return refresh();
    }, function (err) { $('refund-result').textContent = '✗ ' + err.message; log('refund: ' + err.message); return refresh(); });
  });

  if ($('forge')) $('forge').addEventListener('click', function () {
    call('POST', '/payment/api/forge', { outTradeNo: current.order.outTradeNo }).then(function (d) {
      var el = $('forge-result');
      el.className = 'status';
      el.setAttribute('data-state', d.accepted ? 'failed' : 'ok');
      el.setAttribute('data-accepted', d.accepted ? 'yes' : 'no');
      el.textContent = '';
      var head = document.createElement('div');
      head.textContent = (d.accepted ? '✗ The forged notification was ACCEPTED 伪造通知被接受了' : '✓ Refused 已拒绝') + ' · ' + d.change;
      var why = document.createElement('div');
      why.className = 'muted';
      why.textContent = d.reason;
      el.appendChild(head);
      el.appendChild(why);
      log('forged notification: ' + (d.accepted ? 'accepted!' : 'refused'));
      return refresh();
    }, function (err) { $('forge-result').textContent = '✗ ' + err.message; });
  });
})();
`;
