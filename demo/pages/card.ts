/**
 * The cards page (卡券): what `wx.card` gives a page — the signed `cardExt` of wx.addCard, the signed parameters of
 * wx.chooseCard, and the real code behind an `encrypt_code` — each with a short explanation of its fields. Rendered
 * on the server (no script): reload to sign again. In sandbox mode the sandbox mints the encrypt_code and confirms
 * the signatures against its live wx_card api_ticket; the ticket itself is never shown, only its fingerprint.
 */
import type { Express, Request } from 'express';
import type { Card } from '../../lib/card/Card';
import { CARD_TYPE } from '../../lib/card/constants';
import { cardExtSignature, cardSignature } from '../../lib/card/signature';
import { WechatApiError } from '../../lib/errors';
import { fingerprint } from '../../lib/redact';
import type { DemoContext } from '../context';
import { escapeHtml, explain, page } from '../layout';
import { sandboxControl } from '../sandboxControl';

/** A card id for the demo (card ids look like this one; in WeChat mode, enter one of your own cards). */
export const DEMO_CARD_ID = 'pDemoCard0sandbox00000000001';
/** The code of the sandbox card whose encrypt_code is decrypted on the page. */
export const DEMO_CARD_CODE = '110201201245';

/** Card ids and codes are short ASCII tokens; anything else is refused before it reaches a signature. */
const CARD_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const CODE_RE = /^[A-Za-z0-9_-]{1,64}$/;

const CARD_EXT_FIELDS: Record<string, [string, string]> = {
  code: [
    'The card code; only for cards created with <code>use_custom_code</code>. Signed.',
    '卡券 code，仅用于创建时设置了 <code>use_custom_code</code> 的卡券。参与签名。',
  ],
  openid: [
    'Only this user may take the card (cards created with <code>bind_openid</code>). Signed.',
    '指定领取者的 openid（创建时设置了 <code>bind_openid</code> 的卡券）。参与签名。',
  ],
  timestamp: ['When it was signed, in seconds. Signed.', '签名时间（秒）。参与签名。'],
  nonce_str: ['A random string, so no two signatures are alike. Signed.', '随机字符串，使每次签名都不同。参与签名。'],
  fixed_begintimestamp: [
    'The real start date of a fixed-term card. Not signed.',
    '固定时长卡券的实际生效时间。不参与签名。',
  ],
  outer_str: [
    'A channel tag WeChat reports back in the card events (here: <code>demo-page</code>). Not signed.',
    '渠道标记，微信会在领卡事件中原样返回（这里是 <code>demo-page</code>）。不参与签名。',
  ],
  signature: [
    'sha1 of the <b>sorted values</b> of api_ticket, timestamp, card_id, code, openid and nonce_str (the api_ticket stays on the server).',
    'api_ticket、timestamp、card_id、code、openid、nonce_str 的<b>值排序后拼接</b>再做 sha1（api_ticket 留在服务器）。',
  ],
};

const CHOOSE_CARD_FIELDS: Record<string, [string, string]> = {
  shopId: [
    'Only cards usable in this store (location_id); empty: any store.',
    '只选可在该门店使用的卡券；留空表示不限。',
  ],
  cardType: [
    'Only cards of this type; here <code>GROUPON</code> (group-buy vouchers).',
    '只选该类型的卡券；这里是 <code>GROUPON</code>（团购券）。',
  ],
  cardId: ['Only this card; empty: any card.', '只选该卡券；留空表示不限。'],
  timestamp: ['When it was signed, in seconds.', '签名时间（秒）。'],
  nonceStr: ['A random string.', '随机字符串。'],
  signType: ['Always SHA1.', '固定为 SHA1。'],
  cardSign: [
    'sha1 of the sorted values of api_ticket, appid, location_id, timestamp, nonce_str, card_id and card_type.',
    'api_ticket、appid、location_id、timestamp、nonce_str、card_id、card_type 的值排序后拼接再做 sha1。',
  ],
};

const STYLE = `<style>
  pre.snippet { background: #2e3238; color: #e6e6e6; padding: .8em 1em; border-radius: 6px; overflow-x: auto; font-size: .85em; line-height: 1.45; white-space: pre-wrap; word-break: break-all; }
  form.card-form { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin: .6em 0; }
  form.card-form label { display: flex; flex-direction: column; font-size: .9em; color: #57606a; }
  form.card-form input { font: inherit; font-family: ui-monospace, Menlo, Consolas, monospace; padding: .35em .5em; border: 1px solid #c8ccd1; border-radius: 6px; min-width: 20em; }
  td .why { display: block; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; font-size: .85em; color: #57606a; word-break: normal; }
</style>`;

function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The failure as the page shows it: the SDK's typed message (never a secret). */
function failure(id: string, err: unknown): string {
  const kind = err instanceof WechatApiError ? ` (${err.kind})` : '';
  const message = err instanceof Error ? err.message : String(err);
  return `<div class="status" data-state="failed" id="${id}">✗ ${escapeHtml(message)}${escapeHtml(kind)}</div>`;
}

/** A field table: name, value, and what it means in both languages. */
function fieldTable(id: string, values: Record<string, unknown>, meanings: Record<string, [string, string]>): string {
  const rows = Object.entries(values).map(([name, value]) => {
    const [en, zh] = meanings[name] ?? ['', ''];
    const shown = value === '' ? '– (empty 空)' : String(value);
    return `<tr><th><code>${escapeHtml(name)}</code></th><td class="mono" data-field="${escapeHtml(name)}">${escapeHtml(shown)}<span class="why">${en} ${zh}</span></td></tr>`;
  });
  return `<table id="${id}">${rows.join('')}</table>`;
}

/** The sandbox's verdict on a signature, recomputed with its live api_tickets (e2e tests read data-verified). */
function sandboxVerdict(id: string, verified: boolean, yes: string, no: string): string {
  return `<p id="${id}" data-verified="${verified ? 'yes' : 'no'}">${verified ? yes : no}</p>`;
}

function minutesLeft(expiresAt: number, now: number): string {
  return `${Math.max(0, Math.round((expiresAt - now) / 60_000))} min`;
}

export function cardPage(app: Express, demo: DemoContext): void {
  app.get('/cards', async (req, res) => {
    const card: Card | undefined = demo.wx.card;
    const sandbox = demo.sandbox;
    const intro = explain(
      "WeChat cards (coupons, vouchers, member cards) are added to and chosen from the user's card wallet by the page, with <code>wx.addCard</code> and <code>wx.chooseCard</code>. Both need a second signature besides <code>wx.config</code>, made on the server with the <b>card api_ticket</b> (<code>wx_card</code>, a different ticket from the jsapi_ticket). When a user opens a card, WeChat gives the page an <code>encrypt_code</code>; the server turns it into the real code.",
      '网页通过 <code>wx.addCard</code> 把卡券（优惠券、代金券、会员卡）加入用户的卡包，通过 <code>wx.chooseCard</code> 从卡包中选择卡券。两者除了 <code>wx.config</code> 之外，还需要服务器用<b>卡券 api_ticket</b>（<code>wx_card</code>，与 jsapi_ticket 不同）生成的第二个签名。用户打开卡券时，微信会给页面一个 <code>encrypt_code</code>，由服务器解码出真实 code。',
    );
    if (!card) {
      const body = `${intro}<div class="status" data-state="failed" id="card-off">Cards are not enabled: <code>new Wechat({ ..., card: true })</code> 未启用卡券</div>`;
      res.send(page({ title: 'Cards 卡券', path: '/cards', body, mode: demo.modeBanner }));
      return;
    }

    const cardIdInput = query(req, 'cardId');
    const codeInput = query(req, 'code');
    // base64 never contains spaces: a space is a '+' that was not URL-encoded (the classic encrypt_code bug).
    const encryptCodeInput = query(req, 'encrypt_code')?.replace(/ /g, '+');
    const inputError =
      cardIdInput !== undefined && !CARD_ID_RE.test(cardIdInput)
        ? 'cardId must be letters, digits, "-" or "_" (at most 64) 卡券 ID 只能包含字母、数字、- 和 _'
        : codeInput !== undefined && !CODE_RE.test(codeInput)
          ? 'code must be letters, digits, "-" or "_" (at most 64) code 只能包含字母、数字、- 和 _'
          : undefined;
    const cardId = inputError ? DEMO_CARD_ID : (cardIdInput ?? DEMO_CARD_ID);
    const code = inputError ? undefined : codeInput;
    const now = sandbox ? sandbox.now() : Date.now();

    // 1. The api_ticket (fetched on first use, then cached in the store's card record).
    let ticketHtml: string;
    let liveTickets: string[] = [];
    try {
      const ticket = await card.getApiTicket();
      liveTickets = sandbox ? sandbox.liveTickets(card.appId, 'wx_card') : [];
      const jsapi = demo.wx.credentials.jsapiTicket.record;
      ticketHtml = `<table id="ticket">
  <tr><th>wx_card api_ticket</th><td class="mono">fingerprint 指纹 <span data-field="ticket-fingerprint">${escapeHtml(fingerprint(ticket.ticket))}</span>, expires in 剩余 ${escapeHtml(minutesLeft(ticket.expiresAt, now))}</td></tr>
  <tr><th>jsapi_ticket</th><td class="mono">${jsapi ? `fingerprint 指纹 ${escapeHtml(fingerprint(jsapi.value))} (another ticket, for wx.config 另一张票据，用于 wx.config)` : '– not fetched yet by this server 本服务器尚未获取'}</td></tr>
</table>`;
    } catch (err) {
      ticketHtml = failure('ticket-error', err);
    }

    // 2. cardExt for wx.addCard.
    let extHtml: string;
    try {
      const cardExt = await card.getCardExt({ cardId, code, outerStr: 'demo-page' });
      const ext = JSON.parse(cardExt) as Record<string, string>;
      // liveTickets is empty outside the sandbox, where nothing is shown.
      const verified = liveTickets.some(
        (apiTicket) =>
          cardExtSignature({
            apiTicket,
            timestamp: ext.timestamp,
            cardId,
            code: ext.code,
            openid: ext.openid,
            nonceStr: ext.nonce_str,
          }) === ext.signature,
      );
      const addCall = `wx.addCard({\n  cardList: [{ cardId: ${JSON.stringify(cardId)}, cardExt: ${JSON.stringify(cardExt)} }],\n  success(res) { /* res.cardList: the cards added 已添加的卡券 */ },\n});`;
      extHtml = `<div class="status" data-state="ok" id="card-ext-status">✓ Signed cardExt for card <code>${escapeHtml(cardId)}</code> 已生成签名</div>
<p class="muted">cardExt (a JSON <b>string</b>, passed as it is 一个 JSON <b>字符串</b>，原样传入):</p>
<pre class="snippet" id="card-ext">${escapeHtml(cardExt)}</pre>
${fieldTable('card-ext-fields', ext, CARD_EXT_FIELDS)}
${
  sandbox
    ? sandboxVerdict(
        'card-ext-verified',
        verified,
        '✓ The sandbox recomputed the signature with its live wx_card api_ticket: WeChat would accept it. 沙盒用当前有效的 api_ticket 重算签名，一致：微信会接受。',
        '✗ The signature does not match any live api_ticket of the sandbox. 签名与沙盒的 api_ticket 不一致。',
      )
    : ''
}
<p class="muted">In the page 页面中调用:</p>
<pre class="snippet">${escapeHtml(addCall)}</pre>`;
    } catch (err) {
      extHtml = failure('card-ext-status', err);
    }

    // 3. The parameters of wx.chooseCard.
    let chooseHtml: string;
    try {
      const params = await card.getCardSign({ cardType: CARD_TYPE.GROUPON });
      // liveTickets is empty outside the sandbox, where nothing is shown.
      const verified = liveTickets.some(
        (apiTicket) =>
          cardSignature({
            apiTicket,
            appId: card.appId,
            locationId: params.shopId,
            timestamp: params.timestamp,
            nonceStr: params.nonceStr,
            cardId: params.cardId,
            cardType: params.cardType,
          }) === params.cardSign,
      );
      const chooseCall = [
        'wx.chooseCard({',
        ...Object.entries(params).map(([name, value]) => `  ${name}: ${JSON.stringify(value)},`),
        '  success(res) { /* res.cardList: the cards the user picked 用户选择的卡券 */ },',
        '});',
      ].join('\n');
      chooseHtml = `<div class="status" data-state="ok" id="card-sign-status">✓ Signed wx.chooseCard parameters 已生成 chooseCard 签名</div>
${fieldTable('card-sign-fields', { ...params }, CHOOSE_CARD_FIELDS)}
${
  sandbox
    ? sandboxVerdict(
        'card-sign-verified',
        verified,
        '✓ The sandbox recomputed cardSign with its live api_ticket and this appId: it matches. 沙盒重算 cardSign，一致。',
        '✗ cardSign does not match. cardSign 不一致。',
      )
    : ''
}
<p class="muted">In the page 页面中调用:</p>
<pre class="snippet">${escapeHtml(chooseCall)}</pre>`;
    } catch (err) {
      chooseHtml = failure('card-sign-status', err);
    }

    // 4. decryptCardCode: an encrypt_code from the URL (as WeChat appends it), or one minted by the sandbox.
    let decryptHtml: string;
    let encryptCode = encryptCodeInput;
    try {
      if (!encryptCode && sandbox) {
        ({ encrypt_code: encryptCode } = await sandboxControl<{ encrypt_code: string }>(
          sandbox.url,
          '/__sandbox/card/encrypt',
          { appid: card.appId, code: DEMO_CARD_CODE },
        ));
      }
      if (!encryptCode) {
        decryptHtml = `<div class="status" data-state="pending" id="decrypt-status">No encrypt_code in this URL 本页 URL 中没有 encrypt_code</div>
<p class="muted">Set a card's custom URL to this page: when a user opens the card and taps it, WeChat appends <code>encrypt_code</code> and <code>card_id</code> to the URL, and this section decrypts it. 把卡券的自定义入口 URL 设为本页：用户从卡券进入时，微信会在 URL 后附加 <code>encrypt_code</code> 和 <code>card_id</code>，本节即可解码。</p>`;
      } else {
        const { code: realCode } = await card.decryptCardCode(encryptCode);
        decryptHtml = `<div class="status" data-state="ok" id="decrypt-status">✓ Decrypted 已解码</div>
<table id="decrypt">
  <tr><th>encrypt_code</th><td class="mono" data-field="encrypt-code">${escapeHtml(encryptCode)}<span class="why">${sandbox && !encryptCodeInput ? 'Minted by the sandbox for a card with code ' + escapeHtml(DEMO_CARD_CODE) + ', as WeChat hands it to a page. 由沙盒为 code 为 ' + escapeHtml(DEMO_CARD_CODE) + ' 的卡券生成，与微信交给页面的一样。' : 'From this URL, as WeChat appended it. 来自本页 URL，由微信附加。'}</span></td></tr>
  <tr><th>code</th><td class="mono" data-field="decrypted-code">${escapeHtml(realCode)}<span class="why">The real card code: check it, then redeem it (/card/code/consume). 真实的卡券 code：校验后即可核销（/card/code/consume）。</span></td></tr>
</table>`;
      }
    } catch (err) {
      decryptHtml = failure('decrypt-status', err);
    }

    const body = `${STYLE}${intro}
<form class="card-form" method="get" action="/cards">
  <label>Card id 卡券 ID <input name="cardId" value="${escapeHtml(cardId)}" maxlength="64"></label>
  <label>code (use_custom_code only 仅自定义 code 卡券) <input name="code" value="${escapeHtml(code ?? '')}" maxlength="64" placeholder="optional 可选"></label>
  <button class="button" type="submit" id="card-sign-again">Sign again 重新签名</button>
</form>
${inputError ? `<div class="status" data-state="failed" id="input-error">✗ ${escapeHtml(inputError)}</div>` : ''}
${sandbox ? '' : `<p class="muted">WeChat mode: enter the id of one of your cards (卡券功能需开通), and open this page inside WeChat to call <code>wx.addCard</code>. 微信模式：填写你的卡券 ID，并在微信内调用 <code>wx.addCard</code>。</p>`}

<h2>1. The card api_ticket 卡券 api_ticket</h2>
${explain(
  "Fetched from WeChat with the official account's access_token (<code>/cgi-bin/ticket/getticket?type=wx_card</code>), valid two hours, cached in the store and shared by all your servers. It is a secret: only its fingerprint is shown.",
  '用公众号的 access_token 向微信获取（<code>/cgi-bin/ticket/getticket?type=wx_card</code>），有效期两小时，缓存在存储中供所有服务器共享。它是密钥：这里只显示指纹。',
)}
${ticketHtml}

<h2>2. cardExt for wx.addCard 添加卡券</h2>
${explain(
  '<code>wx.card.getCardExt({ cardId, code?, openid?, outerStr? })</code> returns the <code>cardExt</code> string the page passes to <code>wx.addCard</code> for that card. WeChat recomputes the signature with its own copy of the api_ticket; a wrong or expired one means the user sees an error instead of the card. Fields that do not apply are left out.',
  '<code>wx.card.getCardExt({ cardId, code?, openid?, outerStr? })</code> 返回页面调用 <code>wx.addCard</code> 时该卡券所需的 <code>cardExt</code> 字符串。微信会用它持有的 api_ticket 重算签名；签名错误或过期时，用户看到的是报错而不是卡券。不适用的字段不会出现。',
)}
${extHtml}

<h2>3. wx.chooseCard 选择卡券</h2>
${explain(
  '<code>wx.card.getCardSign({ cardId?, cardType?, locationId? })</code> returns the signed parameters of <code>wx.chooseCard</code>, which lets the user pick cards from their wallet. The filters are optional; empty values still count as present in the call but add nothing to the signature.',
  '<code>wx.card.getCardSign({ cardId?, cardType?, locationId? })</code> 返回 <code>wx.chooseCard</code> 的签名参数，用于让用户从卡包中选择卡券。筛选条件都是可选的；空值在调用中照常传入，但不参与签名。',
)}
${chooseHtml}

<h2>4. Decrypt a card code 解码卡券 code</h2>
${explain(
  'When a user opens a card from their wallet and goes to your page, WeChat adds an <code>encrypt_code</code> to the URL instead of the real code. <code>wx.card.decryptCardCode(encryptCode)</code> asks WeChat (<code>/card/code/decrypt</code>) for the real one.',
  '用户从卡包打开卡券进入你的页面时，微信在 URL 中附加的是 <code>encrypt_code</code> 而不是真实 code。<code>wx.card.decryptCardCode(encryptCode)</code> 向微信（<code>/card/code/decrypt</code>）换取真实 code。',
)}
${decryptHtml}`;
    res.send(page({ title: 'Cards 卡券', path: '/cards', body, mode: demo.modeBanner }));
  });
}
