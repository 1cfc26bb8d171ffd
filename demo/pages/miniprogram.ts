/**
 * The mini program page. In sandbox mode the sandbox plays the phone: the buttons ask it (over its HTTP control
 * endpoints) for what a mini program would send — a wx.login code, wx.getUserInfo's encrypted data, a phone-number
 * grant — and the demo server hands those to `wx.miniProgram` exactly as a real server would. In WeChat mode the page
 * explains what a real mini program sends. Session keys, tokens and codes never reach the page or the log: only
 * their fingerprints. Element ids and data-field attributes are what the browser test reads.
 */
import express, { type Express, type Request, type Response } from 'express';
import { DecryptError, WechatApiError, WechatError } from '../../lib/errors';
import type { MiniProgram } from '../../lib/miniprogram/MiniProgram';
import { fingerprint } from '../../lib/redact';
import type { SandboxApp } from '../../lib/sandbox';
// wx.getUserInfo's answer as the sandbox plays it (POST /__sandbox/mp/userdata).
import type { SandboxUserData } from '../../lib/sandbox/routes/miniprogram';
import type { DemoContext } from '../context';
import { escapeHtml, explain, page } from '../layout';
import { sandboxControl } from '../sandboxControl';

/** The mini program the demo registers with its sandbox (a demo value, not a secret). */
export const SANDBOX_MINI_PROGRAM: SandboxApp = {
  appId: 'wxsandboxmp000001',
  appSecret: 'sandbox-mp-secret',
  kind: 'miniprogram',
};

/** What the page may see of a failure: the SDK's typed error, never a stack or a secret. */
function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof DecryptError) return { type: err.name, code: err.code, reason: err.reason, message: err.message };
  if (err instanceof WechatApiError) return { type: err.name, code: err.code, kind: err.kind, message: err.message };
  if (err instanceof WechatError) return { type: err.name, code: err.code, message: err.message };
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

// Runs in the page (plain ES2017, no build step). Values are set with textContent, never as HTML.
const PAGE_SCRIPT = `
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var buttons = ['mp-login', 'mp-userinfo', 'mp-stale', 'mp-phone'];

  function log(message) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + '  ' + message;
    $('log').appendChild(li);
  }
  function setStatus(id, state, text) { var el = $(id); el.setAttribute('data-state', state); el.textContent = text; }
  function table(id, rows) {
    var t = document.createElement('table');
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      var th = document.createElement('th');
      th.textContent = r[0];
      var td = document.createElement('td');
      td.className = 'mono';
      td.textContent = r[1] === null || r[1] === undefined || r[1] === '' ? '–' : String(r[1]);
      if (r[2]) td.setAttribute('data-field', r[2]);
      tr.appendChild(th);
      tr.appendChild(td);
      t.appendChild(tr);
    });
    $(id).innerHTML = '';
    $(id).appendChild(t);
  }
  function userName() { var o = $('mp-user'); return o.options[o.selectedIndex].text; }
  function when(seconds) { return seconds + ' (' + new Date(seconds * 1000).toLocaleString() + ')'; }

  function run(name, statusId, pending, render) {
    buttons.forEach(function (b) { $(b).disabled = true; });
    setStatus(statusId, 'pending', pending);
    return fetch('/miniprogram/api/' + name, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: $('mp-user').value })
    })
      .then(function (r) { return r.json(); })
      .then(function (body) { if (!body.ok) throw body.error; render(body); })
      .catch(function (err) {
        var message = (err && err.message) || String(err);
        setStatus(statusId, 'failed', '✗ ' + message);
        log(name + ' failed: ' + message);
      })
      .then(function () { buttons.forEach(function (b) { $(b).disabled = false; }); });
  }

  $('mp-login').addEventListener('click', function () {
    run('login', 'login-status', 'wx.login… 登录中…', function (b) {
      setStatus('login-status', 'ok', '✓ Logged in as ' + userName() + ': session stored on the server 已登录，会话已保存在服务器');
      table('login-result', [
        ['openid', b.openid, 'openid'],
        ['unionid', b.unionid || '– (only when the mini program is bound to an open platform account 绑定开放平台后才有)', 'unionid'],
        ['session_key fingerprint 指纹', b.sessionKeyFingerprint, 'session-fingerprint'],
        ['Replaced session_key 被替换的', b.previousFingerprint ? b.previousFingerprint + ' (no longer stored 已不再保存)' : '– (first login 首次登录)', 'previous-fingerprint'],
        ['Stored under 存储键', b.storedUnder, 'stored-under'],
        ['Store check 存储校验', b.storedFingerprint === b.sessionKeyFingerprint ? '✓ the store holds this session 存储中即为本次会话' : '✗ the store holds another session', 'stored'],
        ['Logins of this user 登录次数', b.logins, 'logins']
      ]);
      log('wx.login → getSession: openid ' + b.openid + ', session_key fingerprint ' + b.sessionKeyFingerprint);
    });
  });

  $('mp-userinfo').addEventListener('click', function () {
    run('userinfo', 'userinfo-status', 'wx.getUserInfo… 获取中…', function (b) {
      setStatus('userinfo-status', 'ok', '✓ Decrypted with the stored session_key 已用保存的 session_key 解密');
      table('userinfo-result', [
        ['encryptedData', b.encryptedBytes + ' bytes 字节, base64: ' + b.encryptedPreview, 'encrypted'],
        ['rawData signature 签名', b.signatureValid ? '✓ valid: sha1(rawData + session_key) matches 校验通过' : '✗ does not match 不匹配', 'signature'],
        ['nickName 昵称', b.nickName, 'nickname'],
        ['openId', b.openId, 'decrypted-openid'],
        ['Same user as the login 与登录用户一致', b.openIdMatches ? '✓ yes 是' : '✗ no 否', 'openid-matches'],
        ['Place 地区', b.place, 'place'],
        ['watermark.appid', b.watermark.appid + ' ✓ this mini program 本小程序', 'watermark-appid'],
        ['watermark.timestamp', when(b.watermark.timestamp), 'watermark-time'],
        ['Decrypted with 使用的密钥', 'session_key fingerprint ' + b.decryptedWith, 'decrypted-with']
      ]);
      log('decryptData: ' + b.nickName + ' (' + b.encryptedBytes + ' bytes)');
    });
  });

  $('mp-stale').addEventListener('click', function () {
    run('stale', 'stale-status', 'Logging in again, then decrypting the older data… 再次登录并解密旧数据…', function (b) {
      setStatus('stale-status', 'ok', '✓ The stale key was refused with a clear error, and the retry with the new session worked 旧密钥被明确拒绝，用新会话重试成功');
      table('stale-result', [
        ['1. wx.getUserInfo', 'data encrypted with session_key ' + b.oldFingerprint + ' 用旧密钥加密的数据'],
        ['2. wx.login again 再次登录', b.oldFingerprint + ' → ' + b.newFingerprint + ' (the store now holds the new one 存储已换成新密钥)', 'stale-keys'],
        ['3. decryptData(step 1 data 第 1 步的数据)', b.error ? '✗ refused 被拒绝: ' + b.error.reason : '✓ decrypted (unexpected 意外)', 'stale-outcome'],
        ['4. wx.getUserInfo again + decryptData', b.recovered ? '✓ ' + b.recovered.nickName : '–', 'stale-recovered'],
        ['Logins of this user 登录次数', b.logins, 'stale-logins']
      ]);
      var box = $('stale-error');
      box.hidden = !b.error;
      if (b.error) {
        $('stale-error-type').textContent = b.error.type + ' · reason: ' + b.error.reason + ' · code: ' + b.error.code;
        $('stale-error-message').textContent = b.error.message;
      }
      log('stale session_key: ' + (b.error ? b.error.reason : 'no error') + '; retried with the new session');
    });
  });

  $('mp-phone').addEventListener('click', function () {
    run('phone', 'phone-status', 'getPhoneNumber… 获取手机号…', function (b) {
      setStatus('phone-status', 'ok', '✓ ' + userName() + ' shared the phone number ' + b.purePhoneNumber + ' 已授权手机号');
      table('phone-result', [
        ['phoneNumber', b.phoneNumber, 'phone'],
        ['purePhoneNumber', b.purePhoneNumber, 'pure-phone'],
        ['countryCode', b.countryCode, 'country-code'],
        ['watermark.appid', b.watermark.appid, 'phone-watermark'],
        ['Token used 使用的令牌', "the mini program's access_token 小程序的 access_token: appId " + b.token.appId + ', fingerprint ' + b.token.fingerprint + ', store field ' + b.token.field + ', expires in 剩余 ' + b.token.expiresInMin + ' min', 'phone-token'],
        ["Official account's token 公众号令牌", b.official.fingerprint ? 'appId ' + b.official.appId + ', fingerprint ' + b.official.fingerprint + ' (a different token, its own store field 不同令牌，独立存储)' : 'appId ' + b.official.appId + ': not fetched by this server yet 尚未获取', 'official-token']
      ]);
      log('getPhoneNumber: ' + b.purePhoneNumber + ' via the token of ' + b.token.appId);
    });
  });
})();
`;

const PRE_STYLE = `<style>
  pre.snippet { background: #2e3238; color: #e6e6e6; padding: .8em 1em; border-radius: 6px; overflow-x: auto; font-size: .85em; line-height: 1.45; }
  .picker { display: flex; flex-wrap: wrap; align-items: center; gap: .6em; margin: .6em 0; }
  .picker select { font-size: 1em; padding: .35em .5em; border-radius: 6px; border: 1px solid #c8ccd1; }
  .status[hidden] { display: none; }
  .status .detail { display: block; font-size: .8em; font-weight: 400; margin-top: .3em; }
  button.button:disabled { opacity: .5; cursor: progress; }
</style>`;

/** What a real mini program does and sends, and the server code that receives it. */
const REAL_MINI_PROGRAM = `// In the mini program 小程序端
wx.login({
  success: ({ code }) => wx.request({ url: 'https://your.server/api/mp/login', method: 'POST', data: { code } }),
});
// Open data: send encryptedData and iv in the JSON body, so '+' survives 放在 JSON 里，'+' 不会丢
wx.getWeRunData({
  success: ({ encryptedData, iv }) =>
    wx.request({ url: 'https://your.server/api/mp/werun', method: 'POST', data: { encryptedData, iv } }),
});
// <button open-type="getPhoneNumber" bindgetphonenumber="onPhone">
onPhone(e) { wx.request({ url: 'https://your.server/api/mp/phone', method: 'POST', data: { code: e.detail.code } }); }

// On your server 服务器端 (wechat-jssdk-ts)
const { openid } = await wx.miniProgram.getSession(code);            // session_key stays on the server
const data = await wx.miniProgram.decryptData(encryptedData, iv, undefined, openid);
const { purePhoneNumber } = await wx.miniProgram.getPhoneNumber(code); // the mini program's own access_token`;

export function miniProgramPage(app: Express, demo: DemoContext): void {
  /** Per simulated phone (sandbox user): the openid of its last login and how many logins so far. */
  const phones = new Map<string, { openid: string; logins: number }>();

  const requireLogin = (user: string) => {
    const phone = phones.get(user);
    if (!phone) throw new WechatError('Log in first (step 1): there is no session for this user yet', 'NOT_LOGGED_IN');
    return phone;
  };

  /** wx.login on the simulated phone, then getSession(code) on the server; the session replaces the previous one. */
  const login = async (mp: MiniProgram, sandboxUrl: string, user: string) => {
    const { code } = await sandboxControl<{ code: string }>(sandboxUrl, '/__sandbox/mp/login', {
      appid: mp.appId,
      user,
    });
    const session = await mp.getSession(code);
    const logins = (phones.get(user)?.logins ?? 0) + 1;
    phones.set(user, { openid: session.openid, logins });
    return { session, logins };
  };

  const userData = (mp: MiniProgram, sandboxUrl: string, user: string) =>
    sandboxControl<SandboxUserData>(sandboxUrl, '/__sandbox/mp/userdata', { appid: mp.appId, user });

  type Handler = (mp: MiniProgram, sandboxUrl: string, user: string) => Promise<Record<string, unknown>>;

  /** A JSON endpoint of the page: sandbox mode only, a known test user, typed errors as JSON (nothing logged). */
  const api =
    (handler: Handler) =>
    async (req: Request, res: Response): Promise<void> => {
      const mp = demo.wx.miniProgram;
      const sandbox = demo.sandbox;
      if (!mp || !sandbox) {
        res.status(409).json({ ok: false, error: { message: 'the simulated mini program needs the sandbox mode' } });
        return;
      }
      const user = typeof req.body?.user === 'string' ? req.body.user : '';
      if (!sandbox.user(user)) {
        res.status(400).json({ ok: false, error: { message: `unknown test user ${JSON.stringify(user)}` } });
        return;
      }
      try {
        res.json({ ok: true, ...(await handler(mp, sandbox.url, user)) });
      } catch (err) {
        res.status(err instanceof WechatError ? 422 : 502).json({ ok: false, error: describeError(err) });
      }
    };

  const json = express.json({ limit: '4kb' });

  app.post(
    '/miniprogram/api/login',
    json,
    api(async (mp, sandboxUrl, user) => {
      const before = phones.get(user);
      const previous = before ? await mp.getStoredSession(before.openid) : undefined;
      const { session, logins } = await login(mp, sandboxUrl, user);
      const stored = await mp.getStoredSession(session.openid);
      return {
        openid: session.openid,
        unionid: session.unionid ?? null,
        storedUnder: `${mp.appId}:${session.openid}`,
        sessionKeyFingerprint: fingerprint(session.session_key),
        storedFingerprint: fingerprint(stored?.session_key),
        previousFingerprint: previous?.session_key ? fingerprint(previous.session_key) : null,
        logins,
      };
    }),
  );

  app.post(
    '/miniprogram/api/userinfo',
    json,
    api(async (mp, sandboxUrl, user) => {
      const { openid } = requireLogin(user);
      const data = await userData(mp, sandboxUrl, user);
      // No sessionKey argument: decryptData uses the session getSession stored under the openid.
      const profile = await mp.decryptData(data.encryptedData, data.iv, undefined, openid);
      const stored = await mp.getStoredSession(openid);
      const signatureValid = await mp.verifySignature(data.rawData, data.signature, String(stored?.session_key)).then(
        () => true,
        () => false,
      );
      return {
        encryptedBytes: Buffer.from(data.encryptedData, 'base64').length,
        encryptedPreview: `${data.encryptedData.slice(0, 24)}…`,
        signatureValid,
        nickName: profile.nickName,
        openId: profile.openId,
        openIdMatches: profile.openId === openid,
        place: [profile.country, profile.province, profile.city].filter(Boolean).join(' / '),
        watermark: profile.watermark,
        decryptedWith: fingerprint(stored?.session_key),
      };
    }),
  );

  app.post(
    '/miniprogram/api/stale',
    json,
    api(async (mp, sandboxUrl, user) => {
      const { openid } = requireLogin(user);
      const old = await mp.getStoredSession(openid);
      // 1. The mini program got data with its current session_key...
      const olderData = await userData(mp, sandboxUrl, user);
      // 2. ...then called wx.login again: WeChat issued a new session_key, which replaced the stored one.
      const { session, logins } = await login(mp, sandboxUrl, user);
      // 3. The older data no longer decrypts with the stored (new) key: the SDK says why, as its own error reason.
      const error = await mp.decryptData(olderData.encryptedData, olderData.iv, undefined, openid).then(
        () => null,
        (err: unknown) => describeError(err),
      );
      // 4. What the mini program should do: get the data again (now encrypted with the new key) and resend it.
      const fresh = await userData(mp, sandboxUrl, user);
      const recovered = await mp.decryptData(fresh.encryptedData, fresh.iv, undefined, openid);
      return {
        oldFingerprint: fingerprint(old?.session_key),
        newFingerprint: fingerprint(session.session_key),
        error,
        recovered: { nickName: recovered.nickName },
        logins,
      };
    }),
  );

  app.post(
    '/miniprogram/api/phone',
    json,
    api(async (mp, sandboxUrl, user) => {
      const { code } = await sandboxControl<{ code: string }>(sandboxUrl, '/__sandbox/mp/phonecode', {
        appid: mp.appId,
        user,
      });
      const info = await mp.getPhoneNumber(code);
      const token = mp.accessToken.record;
      const official = demo.wx.credentials.accessToken.record;
      const now = demo.sandbox!.now();
      return {
        ...info,
        token: {
          appId: mp.appId,
          field: `mp:${mp.appId}:accessToken`,
          fingerprint: fingerprint(token?.value),
          expiresInMin: token ? Math.round((token.expiresAt - now) / 60_000) : null,
        },
        official: { appId: demo.wx.appId, fingerprint: official ? fingerprint(official.value) : null },
      };
    }),
  );

  app.get('/miniprogram', (_req, res) => {
    const mp = demo.wx.miniProgram;
    const sandbox = demo.sandbox;
    const intro = explain(
      "A mini program logs its user in with <code>wx.login()</code>, which gives a one-time <code>code</code>. The mini program sends it to your server, which exchanges it with WeChat (<code>wx.miniProgram.getSession(code)</code>) for the user's <b>openid</b> and a <b>session_key</b>. The session_key stays on the server: it decrypts the user data the mini program sends later. Every <code>wx.login</code> issues a new session_key, so the SDK stores one session per user and replaces it on each login.",
      '小程序用 <code>wx.login()</code> 获取一次性 <code>code</code>，发给你的服务器；服务器用它向微信换取用户的 <b>openid</b> 和 <b>session_key</b>（<code>wx.miniProgram.getSession(code)</code>）。session_key 只留在服务器上，用来解密小程序之后发来的用户数据。每次 <code>wx.login</code> 都会生成新的 session_key，所以 SDK 为每个用户保存一份会话，并在每次登录时替换。',
    );
    const real = `<h2>What a real mini program sends 真实小程序发送的内容</h2>
${explain(
  "A real mini program sends your server three kinds of values: the <code>code</code> of <code>wx.login()</code>, the <code>encryptedData</code> and <code>iv</code> of open data (in current WeChat versions <code>wx.getUserInfo</code> returns an anonymous profile; the same scheme carries <code>wx.getWeRunData</code> and group share info), and the <code>code</code> of the phone-number button. Send them in a JSON body over HTTPS. Configure <code>miniProgram: { appId, appSecret }</code> with the mini program's own app (not the official account's).",
  '真实小程序会向服务器发送三类值：<code>wx.login()</code> 的 <code>code</code>；开放数据的 <code>encryptedData</code> 和 <code>iv</code>（新版微信中 <code>wx.getUserInfo</code> 只返回匿名资料，<code>wx.getWeRunData</code>、群分享信息等仍用同样的加密方式）；以及手机号按钮的 <code>code</code>。请通过 HTTPS 以 JSON 发送。配置 <code>miniProgram: { appId, appSecret }</code> 时使用小程序自己的 AppID 和密钥（不是公众号的）。',
)}
<pre class="snippet">${escapeHtml(REAL_MINI_PROGRAM)}</pre>`;

    if (!mp || !sandbox) {
      const body = `${PRE_STYLE}${intro}
<div class="status" data-state="pending" id="mp-mode">No simulated mini program in WeChat mode 微信模式下没有模拟小程序</div>
${explain(
  'The buttons of this page need the sandbox, which plays the phone. Here the demo is connected to your official account, and a login code can only come from a real mini program: use the code below in your mini program and your server. Remove WECHAT_APP_ID and WECHAT_APP_SECRET from <code>.env</code> to try the simulation.',
  '本页按钮需要沙盒来模拟手机。当前演示已连接你的公众号，登录 code 只能来自真实小程序：请参考下面的小程序端和服务器端代码。删除 <code>.env</code> 中的 WECHAT_APP_ID 和 WECHAT_APP_SECRET 即可体验模拟流程。',
)}
${real}`;
      res.send(page({ title: 'Mini program 小程序', path: '/miniprogram', body, mode: demo.modeBanner }));
      return;
    }

    const users = sandbox.users
      .map((u) => `<option value="${escapeHtml(u.id)}">${escapeHtml(u.nickname)} (${escapeHtml(u.id)})</option>`)
      .join('');
    const body = `${PRE_STYLE}${intro}
<h2>The simulated phone 模拟手机</h2>
${explain(
  "There is no phone here: the sandbox plays the mini program and its user. Pick a test user; each button asks the sandbox for what that user's mini program would send, and the demo server handles it with <code>wx.miniProgram</code> exactly as your server would. Secrets never reach this page: a session_key is shown by its <b>fingerprint</b> (a short hash that tells two keys apart without revealing them).",
  '这里没有真手机：沙盒扮演小程序和用户。选择一个测试用户；每个按钮都会向沙盒索取该用户的小程序会发送的内容，演示服务器再像你的服务器一样用 <code>wx.miniProgram</code> 处理。密钥不会出现在本页：session_key 只显示<b>指纹</b>（一个短哈希，能区分不同密钥但无法还原）。',
)}
<div class="picker"><label for="mp-user"><b>Test user 测试用户</b></label><select id="mp-user">${users}</select></div>
<table>
  <tr><th>Mini program 小程序</th><td class="mono" id="mp-appid">${escapeHtml(mp.appId)}</td></tr>
  <tr><th>Official account 公众号</th><td class="mono">${escapeHtml(demo.wx.appId)} <span class="muted">(a different app with its own access_token 另一个应用，有自己的 access_token)</span></td></tr>
</table>

<h2>1. Log in 登录: wx.login → getSession(code)</h2>
${explain(
  "The phone calls <code>wx.login()</code> and sends the code; the server calls <code>getSession(code)</code>. You see the user's openid (the same user has a different openid in every app) and the fingerprint of the new session_key, stored under <code>&lt;mini program appId&gt;:&lt;openid&gt;</code>. Log in twice: the fingerprint changes and the old session is replaced.",
  '手机调用 <code>wx.login()</code> 并发送 code，服务器调用 <code>getSession(code)</code>。页面显示用户的 openid（同一用户在每个应用中的 openid 都不同）和新 session_key 的指纹，会话存储键为 <code>&lt;小程序 appId&gt;:&lt;openid&gt;</code>。再登录一次：指纹会变化，旧会话被替换。',
)}
<p><button class="button" id="mp-login" type="button">Log in 登录 (wx.login)</button></p>
<div class="status" data-state="pending" id="login-status">Not logged in yet 尚未登录</div>
<div id="login-result"></div>

<h2>2. Decrypt user data 解密用户数据: decryptData</h2>
${explain(
  'The phone calls <code>wx.getUserInfo()</code>: WeChat gives it <code>rawData</code> with a <code>signature</code>, and the full profile encrypted (AES-128-CBC) with the session_key as <code>encryptedData</code> + <code>iv</code>. The server decrypts it with the stored session (<code>decryptData(encryptedData, iv, undefined, openid)</code>), checks the signature, and checks the <code>watermark</code>: the data must belong to this mini program.',
  '手机调用 <code>wx.getUserInfo()</code>：微信返回带 <code>signature</code> 的 <code>rawData</code>，以及用 session_key 以 AES-128-CBC 加密的完整资料 <code>encryptedData</code> + <code>iv</code>。服务器用保存的会话解密（<code>decryptData(encryptedData, iv, undefined, openid)</code>），校验签名，并检查 <code>watermark</code>：数据必须属于本小程序。',
)}
<p><button class="button" id="mp-userinfo" type="button">Get and decrypt user data 获取并解密 (wx.getUserInfo)</button></p>
<div class="status" data-state="pending" id="userinfo-status">Log in first 请先登录</div>
<div id="userinfo-result"></div>

<h2>3. A stale session_key 过期的 session_key</h2>
${explain(
  'The most common mini-program bug: the phone gets data, then calls <code>wx.login</code> again (a new session_key replaces the stored one), then sends the older data. That data cannot be decrypted with the new key. This button plays exactly that; the SDK fails with a <code>DecryptError</code> whose reason is <code>stale_session_key</code> and whose message says what to do: log in again, then get the data again.',
  '小程序最常见的问题：手机先拿到数据，又调用了 <code>wx.login</code>（新 session_key 替换了保存的旧密钥），然后才发送旧数据，新密钥自然解不开。此按钮正是模拟这一过程；SDK 会抛出 reason 为 <code>stale_session_key</code> 的 <code>DecryptError</code>，消息说明该怎么做：重新登录，再重新获取数据。',
)}
<p><button class="button" id="mp-stale" type="button">Log in again, then decrypt the older data 再次登录后解密旧数据</button></p>
<div class="status" data-state="pending" id="stale-status">Log in first 请先登录</div>
<div id="stale-result"></div>
<div class="status" data-state="failed" id="stale-error" hidden><span id="stale-error-type"></span><span class="detail" id="stale-error-message"></span></div>

<h2>4. Phone number 手机号: getPhoneNumber(code)</h2>
${explain(
  'The user taps a <code>&lt;button open-type="getPhoneNumber"&gt;</code> and allows it; the button gives the mini program a one-time code. The server calls <code>getPhoneNumber(code)</code>, which uses the <b>mini program\'s own access_token</b> (not the official account\'s: the code belongs to the mini program), cached and refreshed by the SDK in its own store field.',
  '用户点击 <code>&lt;button open-type="getPhoneNumber"&gt;</code> 并允许，按钮给小程序一个一次性 code。服务器调用 <code>getPhoneNumber(code)</code>，使用的是<b>小程序自己的 access_token</b>（不是公众号的：code 属于小程序），由 SDK 缓存和刷新，存放在独立的字段中。',
)}
<p><button class="button" id="mp-phone" type="button">Allow the phone number 授权手机号 (getPhoneNumber)</button></p>
<div class="status" data-state="pending" id="phone-status">Not asked yet 尚未授权</div>
<div id="phone-result"></div>

${real}
<h2>Log 日志</h2>
<ol class="log" id="log"></ol>`;
    const scripts = `<script>${PAGE_SCRIPT}</script>`;
    res.send(page({ title: 'Mini program 小程序', path: '/miniprogram', body, mode: demo.modeBanner, scripts }));
  });
}
