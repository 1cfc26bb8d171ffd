/**
 * Pages for the features still being built. Each issue replaces its entry here with a real page module
 * (demo/pages/<feature>.ts) registered in demo/app.ts.
 */
import type { Express } from 'express';
import type { DemoContext } from '../context';
import { explain, page } from '../layout';

interface Placeholder {
  path: string;
  title: string;
  en: string;
  zh: string;
}

const PLACEHOLDERS: Placeholder[] = [
  {
    path: '/miniprogram',
    title: 'Mini program 小程序',
    en: 'Here the demo will show a mini program login: the <code>js_code</code> from <code>wx.login</code> exchanged for the openid and session, and decrypting user data. Coming in a later update.',
    zh: '这里将演示小程序登录：用 <code>wx.login</code> 得到的 <code>js_code</code> 换取 openid 和会话，以及解密用户数据。后续版本加入。',
  },
  {
    path: '/cards',
    title: 'Cards 卡券',
    en: 'Here the demo will show WeChat cards: the <code>wx_card</code> api_ticket, the <code>cardExt</code> signature for <code>wx.addCard</code>, and <code>wx.chooseCard</code>. Coming in a later update.',
    zh: '这里将演示微信卡券：<code>wx_card</code> api_ticket、<code>wx.addCard</code> 所需的 <code>cardExt</code> 签名，以及 <code>wx.chooseCard</code>。后续版本加入。',
  },
  {
    path: '/payment',
    title: 'Payment 支付',
    en: 'Here the demo will show WeChat Pay: creating an order, <code>wx.chooseWXPay</code> in the page, and the payment notification. Coming in a later update.',
    zh: '这里将演示微信支付：统一下单、页面内 <code>wx.chooseWXPay</code> 以及支付结果通知。后续版本加入。',
  },
];

export function placeholderPages(app: Express, demo: DemoContext): void {
  for (const p of PLACEHOLDERS) {
    app.get(p.path, (_req, res) => {
      const body = `${explain(p.en, p.zh)}<div class="status" data-state="pending">Not built yet 尚未完成</div>`;
      res.send(page({ title: p.title, path: p.path, body, mode: demo.modeBanner }));
    });
  }
}
