/**
 * Web authorization (official account, `/connect/oauth2/authorize`) and website QR login (open platform,
 * `/connect/qrconnect`). Instead of WeChat's app, a consent page lists the sandbox's test users; choosing one
 * redirects to `redirect_uri?code=..&state=..`. Codes live 5 minutes and work once; user tokens live 2 hours,
 * refresh tokens 30 days.
 */
import { fail, ok, randomToken, type SandboxCore, type SandboxResponse } from '../core';

export const CODE_TTL_MS = 5 * 60_000;
export const USER_TOKEN_TTL_S = 7200;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60_000;

interface Grant {
  appId: string;
  userId: string;
  scope: string;
  expiresAt: number;
  used?: boolean;
}

export class OAuthState {
  readonly codes = new Map<string, Grant>();
  readonly accessTokens = new Map<string, Grant>();
  readonly refreshTokens = new Map<string, Grant>();

  constructor(private readonly core: SandboxCore) {}

  /** Mint a code as if `userId` allowed `scope` for `appId` (what the consent page does). */
  authorize(appId: string, userId: string, scope: string): string {
    const code = randomToken('CODE_', 18);
    this.codes.set(code, { appId, userId, scope, expiresAt: this.core.now() + CODE_TTL_MS });
    return code;
  }

  exchange(appId: string, code: string): Grant | SandboxResponse {
    const grant = this.codes.get(code);
    if (!grant || grant.appId !== appId || this.core.now() >= grant.expiresAt) return fail(40029, 'invalid code');
    if (grant.used) return fail(40163, 'code been used');
    grant.used = true;
    return grant;
  }

  tokenResponse(grant: Grant, refreshToken?: string): SandboxResponse {
    const now = this.core.now();
    const accessToken = randomToken('UAT_', 36);
    this.accessTokens.set(accessToken, { ...grant, expiresAt: now + USER_TOKEN_TTL_S * 1000 });
    if (!refreshToken) {
      refreshToken = randomToken('URT_', 36);
      this.refreshTokens.set(refreshToken, { ...grant, expiresAt: now + REFRESH_TOKEN_TTL_MS });
    }
    const app = this.core.apps.get(grant.appId)!;
    return ok({
      access_token: accessToken,
      expires_in: USER_TOKEN_TTL_S,
      refresh_token: refreshToken,
      openid: this.core.openid(grant.appId, grant.userId),
      scope: grant.scope,
      is_snapshotuser: 0,
      ...(app.unionid ? { unionid: this.core.unionid(grant.userId) } : {}),
    });
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function consentPage(
  core: SandboxCore,
  q: Record<string, string>,
  path: string,
  allowedScopes: string[],
): SandboxResponse {
  const app = core.apps.get(q.appid);
  const problems: string[] = [];
  if (!app) problems.push(`unknown appid ${q.appid ?? '(missing)'}`);
  if (q.response_type !== 'code') problems.push('response_type must be code');
  if (!allowedScopes.includes(q.scope)) problems.push(`scope must be ${allowedScopes.join(' or ')}`);
  if (!/^https?:\/\//.test(q.redirect_uri ?? '')) problems.push('redirect_uri must be an absolute http(s) URL');
  if (problems.length) {
    return {
      status: 400,
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
      body: page('授权失败 Authorization error', `<p class="err">${problems.map(escapeHtml).join('<br>')}</p>`),
    };
  }
  const silent = q.scope === 'snsapi_base';
  const buttons = core.users
    .map((u) => {
      const params = new URLSearchParams({
        appid: q.appid,
        redirect_uri: q.redirect_uri,
        scope: q.scope,
        state: q.state ?? '',
        user: u.id,
      });
      return `<li><a class="allow" data-user="${escapeHtml(u.id)}" href="${path}/confirm?${escapeHtml(params.toString())}">允许 Allow as <b>${escapeHtml(u.nickname)}</b></a></li>`;
    })
    .join('');
  const intro = silent
    ? 'snsapi_base is silent in WeChat (no prompt). Choose which test user opens the page:'
    : `App <b>${escapeHtml(q.appid)}</b> asks for your profile (${escapeHtml(q.scope)}). Choose a test user:`;
  return {
    headers: { 'Content-Type': 'text/html; charset=utf-8' },
    body: page('微信授权 (sandbox)', `<p>${intro}</p><ul>${buttons}</ul>`),
  };
}

function page(title: string, content: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>
<style>body{font-family:sans-serif;max-width:480px;margin:2em auto;padding:0 1em}a.allow{display:block;margin:.5em 0;padding:.8em;background:#07c160;color:#fff;text-decoration:none;border-radius:6px;text-align:center}.err{color:#c00}</style>
</head><body><h1>${title}</h1>${content}<p><small>WeChat sandbox (wechat-jssdk-ts)</small></p></body></html>`;
}

function confirm(core: SandboxCore, state: OAuthState, q: Record<string, string>): SandboxResponse {
  if (!core.apps.get(q.appid) || !core.user(q.user) || !/^https?:\/\//.test(q.redirect_uri ?? '')) {
    return { status: 400, body: 'bad consent request' };
  }
  const code = state.authorize(q.appid, q.user, q.scope);
  const target = new URL(q.redirect_uri);
  target.searchParams.set('code', code);
  target.searchParams.set('state', q.state ?? '');
  return { redirect: target.toString() };
}

export function oauthRoutes(core: SandboxCore, state: OAuthState): void {
  core.route('GET', '/connect/oauth2/authorize', ({ query }) =>
    consentPage(core, query, '/connect/oauth2/authorize', ['snsapi_base', 'snsapi_userinfo']),
  );
  core.route('GET', '/connect/oauth2/authorize/confirm', ({ query }) => confirm(core, state, query));
  core.route('GET', '/connect/qrconnect', ({ query }) =>
    consentPage(core, query, '/connect/qrconnect', ['snsapi_login']),
  );
  core.route('GET', '/connect/qrconnect/confirm', ({ query }) => confirm(core, state, query));

  core.route('GET', '/sns/oauth2/access_token', ({ query }) => {
    const bad = core.checkApp(query.appid, query.secret);
    if (bad) return bad;
    if (query.grant_type !== 'authorization_code') return fail(40002, 'invalid grant_type');
    const grant = state.exchange(query.appid, query.code ?? '');
    if (!('userId' in grant)) return grant;
    return state.tokenResponse(grant);
  });

  core.route('GET', '/sns/oauth2/refresh_token', ({ query }) => {
    if (!core.apps.get(query.appid)) return fail(40013, 'invalid appid');
    if (query.grant_type !== 'refresh_token') return fail(40002, 'invalid grant_type');
    const grant = state.refreshTokens.get(query.refresh_token ?? '');
    if (!grant || grant.appId !== query.appid) return fail(40030, 'invalid refresh_token');
    if (core.now() >= grant.expiresAt) return fail(42002, 'refresh_token expired');
    return state.tokenResponse(grant, query.refresh_token);
  });

  const userToken = (token: string | undefined, openid: string | undefined) => {
    const grant = state.accessTokens.get(token ?? '');
    if (!grant) return fail(40001, 'invalid credential, access_token is invalid or not latest');
    if (core.now() >= grant.expiresAt) return fail(42001, 'access_token expired');
    if (openid !== core.openid(grant.appId, grant.userId)) return fail(40003, 'invalid openid');
    return grant;
  };

  core.route('GET', '/sns/userinfo', ({ query }) => {
    const grant = userToken(query.access_token, query.openid);
    if (!('userId' in grant)) return grant;
    if (grant.scope === 'snsapi_base') return fail(48001, 'api unauthorized');
    const user = core.user(grant.userId)!;
    const app = core.apps.get(grant.appId)!;
    const en = query.lang === 'en';
    return ok({
      openid: query.openid,
      nickname: user.nickname,
      sex: user.sex ?? 0,
      province: user.province ?? '',
      city: user.city ?? '',
      country: user.country === 'CN' ? (en ? 'China' : query.lang === 'zh_TW' ? '中國' : '中国') : (user.country ?? ''),
      headimgurl: user.headimgurl ?? '',
      privilege: [],
      ...(app.unionid ? { unionid: core.unionid(grant.userId) } : {}),
    });
  });

  core.route('GET', '/sns/auth', ({ query }) => {
    const grant = userToken(query.access_token, query.openid);
    if (!('userId' in grant)) return grant;
    return ok({ errcode: 0, errmsg: 'ok' });
  });
}
