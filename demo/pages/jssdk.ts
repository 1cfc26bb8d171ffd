/**
 * The JS-SDK status page: the browser client (UMD build, `window.WechatJSSDK`) fetches a signature for this page
 * from /wechat/signature, calls wx.config, and shows WeChat's verdict, the share settings, and re-signing in a
 * single-page app. Element ids and data-state attributes are what the browser test reads.
 */
import type { Express } from 'express';
import type { DemoContext } from '../context';
import { explain, jsonForScript, page } from '../layout';

const SHARE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">
<rect width="120" height="120" rx="20" fill="#07c160"/><text x="60" y="76" font-size="44" text-anchor="middle" fill="#fff" font-family="sans-serif">JS</text></svg>`;

// Runs in the page (plain ES2017, no build step). Reads its settings from #demo-config.
const PAGE_SCRIPT = `
(function () {
  var cfg = JSON.parse(document.getElementById('demo-config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var signatures = 0;

  function log(message) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + '  ' + message;
    $('log').appendChild(li);
  }
  function setStatus(state, text) { var el = $('status'); el.setAttribute('data-state', state); el.textContent = text; }
  function showRoute() { $('route').textContent = location.pathname + location.search + location.hash; }

  var wechat = new WechatJSSDK({ signatureUrl: cfg.signatureUrl, customUrl: cfg.jweixinUrl, debug: cfg.debug });
  window.demoWechat = wechat; // for the browser test and for poking around in devtools

  $('rule').textContent = WechatJSSDK.isIOS()
    ? 'iOS: the landing URL (the first URL of this page) is signed, even after route changes. iOS：始终签名落地页 URL。'
    : 'Android / desktop: the current URL is signed, again after each route change. 安卓/桌面：每次路由变化后签名当前 URL。';

  function shareInfo() {
    var route = location.pathname.replace(/^\\/jssdk\\/?/, '') || 'home';
    return {
      title: 'wechat-jssdk-ts demo · ' + route,
      desc: 'Shared from the wechat-jssdk-ts demo 来自 wechat-jssdk-ts 演示',
      link: location.href.split('#')[0],
      imgUrl: location.origin + '/assets/share-icon.svg'
    };
  }

  function applyShare() {
    var info = shareInfo();
    $('share-title').textContent = info.title;
    $('share-desc').textContent = info.desc;
    $('share-link').textContent = info.link;
    $('share-img').textContent = info.imgUrl;
    var results = $('share-results');
    results.innerHTML = '';
    function report(res) {
      var li = document.createElement('li');
      var ok = /:ok$/.test(res.errMsg);
      li.textContent = (ok ? '✓ ' : '✗ ') + res.errMsg;
      li.setAttribute('data-ok', ok ? 'yes' : 'no');
      results.appendChild(li);
    }
    var callbacks = { success: report, fail: report };
    wechat.shareOnChat(Object.assign({}, info, callbacks));
    wechat.shareOnMoment(Object.assign({}, info, callbacks));
    if (cfg.sandboxUrl) setTimeout(showRecorded, 400);
  }

  function showRecorded() {
    fetch(cfg.sandboxUrl + '/__sandbox/jsapi/shares').then(function (r) { return r.json(); }).then(function (data) {
      var list = $('recorded');
      list.innerHTML = '';
      data.shares.slice(-4).forEach(function (s) {
        var li = document.createElement('li');
        li.textContent = s.api + ': "' + s.title + '" → ' + s.link + (s.ok ? '' : ' (refused: ' + s.errMsg + ')');
        list.appendChild(li);
      });
    }).catch(function () {});
  }

  function signed(resigned) {
    if (resigned !== false) signatures++;
    var c = wechat.lastConfig || {};
    $('sign-count').textContent = String(signatures);
    $('signed-url').textContent = wechat.signedUrl;
    $('sig-appid').textContent = c.appId;
    $('sig-timestamp').textContent = c.timestamp;
    $('sig-nonce').textContent = c.nonceStr;
    $('sig-signature').textContent = c.signature;
    setStatus('signed', '✓ Signed: wx.config succeeded 签名成功，JS-SDK 可用');
    log(resigned === false ? 'route changed; the signature of ' + wechat.signedUrl + ' still holds' : 'wx.config ok for ' + wechat.signedUrl);
    applyShare();
  }
  function failed(err) {
    var reason = (err && (err.errMsg || err.message)) || String(err);
    setStatus('failed', '✗ wx.config failed 签名失败: ' + reason);
    log('failed: ' + reason);
  }

  showRoute();
  setStatus('pending', 'Signing… 正在签名…');
  wechat.initialize().then(function () { signed(true); }, failed);
  wechat.watchRoutes({
    onSigned: function (info) { showRoute(); signed(info.resigned); },
    onError: function (err) { showRoute(); failed(err); }
  });

  function go(path) { return function (e) { e.preventDefault(); history.pushState({}, '', path); }; }
  $('route-orders').addEventListener('click', go('/jssdk/orders?id=42#details'));
  $('route-profile').addEventListener('click', go('/jssdk/profile?tab=2'));
  $('route-home').addEventListener('click', go('/jssdk?from=spa#share'));
  $('resign').addEventListener('click', function () {
    setStatus('pending', 'Signing again… 重新签名…');
    wechat.signSignature().then(function () { signed(true); }, failed);
  });
})();
`;

export function jssdkPage(app: Express, demo: DemoContext): void {
  app.get('/assets/share-icon.svg', (_req, res) => {
    res.type('image/svg+xml').send(SHARE_ICON);
  });

  // Every /jssdk/... path serves the same page, so a reload after a client-side route change still works.
  app.get(['/jssdk', '/jssdk/*rest'], (req, res) => {
    const config = {
      signatureUrl: '/wechat/signature',
      jweixinUrl: demo.jweixinUrl,
      sandboxUrl: demo.sandbox?.url,
      debug: req.query.debug === '1',
    };
    const body = `
${explain(
  "Before a page may use WeChat's JS-SDK (share, scan, location…), it calls <code>wx.config</code> with a signature of its own URL (without the <code>#hash</code>), made on the server from the jsapi_ticket. This page asks <code>/wechat/signature</code> for one and shows WeChat's answer.",
  '网页调用微信 JS-SDK（分享、扫一扫、定位等）前，必须先用 <code>wx.config</code> 提交本页 URL（不含 <code>#</code> 之后部分）的签名，签名由服务器用 jsapi_ticket 生成。本页向 <code>/wechat/signature</code> 获取签名并显示微信的校验结果。',
)}
<div id="status" class="status" data-state="pending">Loading… 加载中…</div>
<table>
  <tr><th>Current route 当前路由</th><td class="mono" id="route"></td></tr>
  <tr><th>URL signed 签名 URL</th><td class="mono" id="signed-url">–</td></tr>
  <tr><th>Which URL 签名规则</th><td id="rule"></td></tr>
  <tr><th>Signatures 签名次数</th><td id="sign-count">0</td></tr>
  <tr><th>appId</th><td class="mono" id="sig-appid">–</td></tr>
  <tr><th>timestamp</th><td class="mono" id="sig-timestamp">–</td></tr>
  <tr><th>nonceStr</th><td class="mono" id="sig-nonce">–</td></tr>
  <tr><th>signature</th><td class="mono" id="sig-signature">–</td></tr>
</table>

<h2>Share settings 分享设置</h2>
${explain(
  'Once signed, the page sets what a share shows: title, description, link and picture (<code>updateAppMessageShareData</code> for chats, <code>updateTimelineShareData</code> for Moments, and the older <code>onMenuShare*</code>). In WeChat, tap ··· and share to see them.',
  '签名成功后，页面设置分享内容：标题、描述、链接和图片（分享给朋友用 <code>updateAppMessageShareData</code>，分享到朋友圈用 <code>updateTimelineShareData</code>，以及旧版 <code>onMenuShare*</code>）。在微信中点右上角 ··· 分享即可看到。',
)}
<table>
  <tr><th>Title 标题</th><td id="share-title">–</td></tr>
  <tr><th>Description 描述</th><td id="share-desc">–</td></tr>
  <tr><th>Link 链接</th><td class="mono" id="share-link">–</td></tr>
  <tr><th>Picture 图片</th><td class="mono" id="share-img">–</td></tr>
</table>
<p class="muted">WeChat's answers 微信返回：</p>
<ul id="share-results"></ul>
${demo.sandbox ? `<p class="muted">Recorded by the sandbox 沙盒记录的分享设置：</p><ul id="recorded"></ul>` : ''}

<h2>Single-page app 单页应用</h2>
${explain(
  'These buttons change the URL without reloading, like a Vue or React router. On Android WeChat checks the <b>current</b> URL, so the page signs again; on iOS WeChat keeps checking the URL the page was <b>first loaded</b> with, so the first signature stays valid. The client knows the rule.',
  '以下按钮像 Vue/React 路由一样不刷新页面就改变 URL。安卓微信校验<b>当前</b> URL，所以页面会重新签名；iOS 微信始终校验页面<b>首次加载</b>时的 URL，第一次的签名一直有效。客户端已内置这一规则。',
)}
<p>
  <a class="button" id="route-orders" href="/jssdk/orders?id=42#details">Go to /jssdk/orders?id=42 订单页</a>
  <a class="button" id="route-profile" href="/jssdk/profile?tab=2">Go to /jssdk/profile 个人页</a>
  <a class="button secondary" id="route-home" href="/jssdk?from=spa#share">Back to /jssdk 返回</a>
  <button class="button secondary" id="resign" type="button">Sign again now 立即重新签名</button>
</p>
<h2>Log 日志</h2>
<ol class="log" id="log"></ol>`;
    const scripts = `<script type="application/json" id="demo-config">${jsonForScript(config)}</script>
<script src="/assets/wechat-jssdk-client.js"></script>
<script>${PAGE_SCRIPT}</script>`;
    res.send(page({ title: 'JS-SDK signature 签名', path: '/jssdk', body, mode: demo.modeBanner, scripts }));
  });
}
