/** WeChat login (OAuth): two buttons, and the user who came back. */
import type { Express } from 'express';
import { sessionIdOf, type DemoContext } from '../context';
import { escapeHtml, explain, page } from '../layout';

const SEX = ['unknown 未知', 'male 男', 'female 女'];

function profileHtml(login: NonNullable<ReturnType<DemoContext['logins']['get']>>): string {
  const p = (login.profile ?? {}) as Record<string, unknown>;
  const nickname = typeof p.nickname === 'string' ? p.nickname : undefined;
  const avatar =
    typeof p.headimgurl === 'string' && p.headimgurl
      ? `<img class="avatar" src="${escapeHtml(p.headimgurl)}" alt="">`
      : `<span class="avatar">${escapeHtml((nickname ?? '?').slice(0, 1))}</span>`;
  const rows: Array<[string, unknown]> = [
    ['Nickname 昵称', nickname ?? '– (snsapi_base gives no profile 静默授权不返回资料)'],
    ['openid', login.openid],
    ['unionid', login.unionid ?? '– (only when the app is bound to an open platform account 绑定开放平台后才有)'],
    ['Scope 授权范围', login.scope],
  ];
  if (login.profile) {
    rows.push(
      ['Sex 性别', SEX[Number(p.sex)] ?? p.sex],
      ['Place 地区', [p.country, p.province, p.city].filter(Boolean).join(' / ') || '–'],
    );
  }
  return `<div id="profile" data-scope="${escapeHtml(login.scope)}">
<p>${avatar}</p>
<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td class="mono" data-field="${escapeHtml(k.split(' ')[0].toLowerCase())}">${escapeHtml(v)}</td></tr>`).join('')}</table>
<p><a class="button secondary" id="logout" href="/oauth/logout">Log out 退出</a></p></div>`;
}

export function oauthPage(app: Express, demo: DemoContext): void {
  app.get('/oauth', (req, res) => {
    const sid = sessionIdOf(req);
    const login = sid ? demo.logins.get(sid) : undefined;
    const sandbox = demo.mode.kind === 'sandbox';
    const body = `
${explain(
  "WeChat web authorization: the page sends the user to WeChat, which comes back to <code>/wechat/oauth-callback</code> with a one-time code; the server exchanges it for the user's openid (and, with <code>snsapi_userinfo</code>, the nickname and avatar). A signed <code>state</code> ties the callback to this browser, so nobody can log you in as someone else." +
    (sandbox ? " In sandbox mode, the sandbox's consent page lets you pick a test user." : ''),
  '微信网页授权：页面把用户带到微信，微信带着一次性 code 回到 <code>/wechat/oauth-callback</code>，服务器用它换取用户的 openid（<code>snsapi_userinfo</code> 还能拿到昵称和头像）。签名的 <code>state</code> 把回调绑定到当前浏览器，防止登录 CSRF。' +
    (sandbox ? '沙盒模式下，会出现沙盒的授权页，可以选择一个测试用户。' : ''),
)}
${
  login
    ? `<div class="status" data-state="ok" id="login-status">✓ Logged in 已登录</div>${profileHtml(login)}`
    : `<div class="status" data-state="pending" id="login-status">Not logged in 未登录</div>`
}
<h2>Log in 登录</h2>
<p>
  <a class="button" id="login-userinfo" href="/wechat/oauth?scope=snsapi_userinfo&amp;returnTo=/oauth">Log in with profile 授权获取资料 (snsapi_userinfo)</a>
  <a class="button secondary" id="login-base" href="/wechat/oauth?scope=snsapi_base&amp;returnTo=/oauth">Silent login 静默授权 (snsapi_base)</a>
</p>
<p class="muted">snsapi_base: no prompt, only the openid. 不弹授权页，只拿 openid。 snsapi_userinfo: the user agrees once, then nickname and avatar. 用户同意后可获取昵称、头像。</p>`;
    res.send(page({ title: 'WeChat login 微信网页授权', path: '/oauth', body, mode: demo.modeBanner }));
  });

  app.get('/oauth/logout', (req, res) => {
    const sid = sessionIdOf(req);
    if (sid) demo.logins.delete(sid);
    res.redirect('/oauth');
  });
}
