/** The start page: what the demo is, which mode it runs in, and where to click. */
import type { Express } from 'express';
import { nonceStr, sha1 } from '../../lib/crypto';
import { SANDBOX_WECHAT_TOKEN } from '../context';
import type { DemoContext } from '../context';
import { escapeHtml, explain, page } from '../layout';

function card(href: string, title: string, en: string, zh: string): string {
  return `<div class="card"><h3><a href="${href}">${escapeHtml(title)}</a></h3><p>${en}</p><p lang="zh-CN">${zh}</p></div>`;
}

/** A server-verification request as WeChat would send it, signed with the sandbox Token. */
function verificationLink(): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = nonceStr(10);
  const signature = sha1([SANDBOX_WECHAT_TOKEN, timestamp, nonce].sort().join(''));
  return `/wechat?${new URLSearchParams({ signature, timestamp, nonce, echostr: 'hello-from-wechat' })}`;
}

export function homePage(app: Express, demo: DemoContext): void {
  app.get('/', (_req, res) => {
    const sandbox = demo.mode.kind === 'sandbox';
    const body = `
${explain(
  "This demo shows what <b>wechat-jssdk-ts</b> does in a web page: it signs pages for WeChat's JS-SDK (so sharing works), logs users in with WeChat OAuth, and, as they are added, mini program, card and payment features. " +
    (sandbox
      ? 'No WeChat account is configured, so a local <b>sandbox</b> plays the part of WeChat: every page works right away in any browser.'
      : 'It is connected to your WeChat official account: open these pages inside WeChat.'),
  '本演示展示 <b>wechat-jssdk-ts</b> 在网页中的作用：为微信 JS-SDK 签名（分享才能生效）、用微信网页授权登录，以及后续加入的小程序、卡券、支付功能。' +
    (sandbox
      ? '当前没有配置公众号，由本地<b>沙盒</b>扮演微信：在任何浏览器中都能直接体验。'
      : '当前已连接你的公众号：请在微信内打开这些页面。'),
)}
<h2>Pages 页面</h2>
<div class="cards">
${card('/jssdk?from=home#share', 'JS-SDK signature 签名', 'Signs this page for <code>wx.config</code>, shows the result and sets the share title and picture.', '为本页生成 wx.config 签名，显示结果，并设置分享标题和图片。')}
${card('/oauth', 'WeChat login 网页授权', 'Log in silently (openid only) or with the profile (nickname and avatar).', '静默授权（仅 openid）或用户信息授权（昵称、头像）。')}
${card('/miniprogram', 'Mini program 小程序', 'Simulated <code>wx.login</code>, session, user-data decryption and the phone-number grant.', '模拟 <code>wx.login</code>、会话、用户数据解密和手机号授权。')}
${card('/cards', 'Cards 卡券', 'The signed <code>cardExt</code> of wx.addCard, wx.chooseCard and card code decryption.', 'wx.addCard 的 <code>cardExt</code> 签名、wx.chooseCard 与卡券 code 解码。')}
${card('/payment', 'Payment 支付', 'A WeChat Pay order (API v3 or v2), the signed <code>paySign</code> parameters, and the verified payment notification.', '微信支付下单（API v3 或 v2）、签名的 <code>paySign</code> 参数，以及经过验证的支付通知。')}
</div>
<h2>Server URL check 服务器地址验证</h2>
${explain(
  'When you save the server configuration in the WeChat admin console, WeChat calls <code>GET /wechat</code> with a signature made from your Token and expects <code>echostr</code> back.' +
    (sandbox
      ? ` <a href="${escapeHtml(verificationLink())}">Try it</a>: this link is signed with the demo Token <code>${SANDBOX_WECHAT_TOKEN}</code>, so the page shows <code>hello-from-wechat</code>.`
      : ''),
  '在公众号后台保存服务器配置时，微信会用你的 Token 生成签名并请求 <code>GET /wechat</code>，验证通过后需原样返回 <code>echostr</code>。' +
    (sandbox
      ? ` <a href="${escapeHtml(verificationLink())}">点此试试</a>，页面会显示 <code>hello-from-wechat</code>。`
      : ''),
)}
<h2>Run it yourself 自己运行</h2>
<p><code>npm install &amp;&amp; npm start</code> — then open the address it prints. 然后打开终端里打印的地址。
To use real WeChat, copy <code>.env.example</code> to <code>.env</code> and fill in your app. 使用真实微信：复制 .env.example 为 .env 并填写。</p>`;
    res.send(page({ title: 'wechat-jssdk-ts', path: '/', body, mode: demo.modeBanner }));
  });
}
