/**
 * The routes behind the express and koa helpers, independent of either framework: each takes a small request
 * description and returns a status and a body. The adapters (express.ts, koa.ts) only translate.
 *
 *   GET <prefix>/signature?url=...  → { appId, timestamp, nonceStr, signature, url } for the browser client
 *   GET <prefix>?signature&timestamp&nonce&echostr → echostr (WeChat's server URL verification)
 *   GET <prefix>/oauth?scope=&returnTo=  → 302 to WeChat's consent page, with a state bound to the browser session
 *   GET <prefix>/oauth-callback?code&state → checks the state, fetches the user, hands it to `onLogin`
 *
 * Errors are JSON `{ error, message }` with a status code; a message never carries an upstream body, a stack or a
 * secret. Classes are recognised by name, not `instanceof`: this file is bundled into its own entry, so the
 * error classes of the main entry are different objects.
 */
import { randomBytes } from 'node:crypto';
import createDebug from 'debug';
import type { Wechat } from '../Wechat';
import { hostAllowed, normalizeUrl } from '../jssdk/url';

const log = createDebug('wechat:server');

export const DEFAULT_PREFIX = '/wechat';
export const DEFAULT_SESSION_COOKIE = 'wechat_sid';
const SESSION_COOKIE_MAX_AGE_S = 30 * 24 * 3600;

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

/** What the helpers use of a `Wechat` instance. */
export type WechatLike = Pick<Wechat, 'jssdk' | 'oauth' | 'options'>;

/** The user handed to `onLogin`. Tokens are kept out of it on purpose: they stay in the SDK's store. */
export interface OAuthLogin {
  scope: OAuthScope;
  openid: string;
  unionid?: string;
  /** The profile (`snsapi_userinfo` only): nickname, headimgurl, sex, province, city, country, privilege. */
  profile?: Record<string, unknown>;
  /** The session id the state was bound to (the helper's cookie, or your `sessionId`). */
  sessionId: string;
  /** The same-site path given to the start route as `returnTo`, if any. */
  returnTo?: string;
}

/** Options shared by both adapters; `Req` is the framework's request (express Request, koa Context). */
export interface WechatRoutesOptions<Req> {
  /** Path prefix of every route (default `/wechat`), matched against the full request path. */
  prefix?: string;
  /**
   * Hosts whose pages may be signed. Default: `wx.options.allowedHosts`, else the request's own host name
   * (the page and this endpoint usually share a host; set this when they do not, e.g. behind a proxy).
   */
  allowedHosts?: string[];
  /** OAuth routes; served only when `onLogin` is given (the adapters narrow its type). */
  oauth?: {
    /**
     * Absolute URL of the callback route as the browser sees it, e.g. https://example.com/wechat/oauth-callback.
     * Default: built from the request (protocol and host), which is right unless a proxy rewrites them.
     */
    callbackUrl?: string;
    /** Scope when the start route gets none (default `snsapi_userinfo`). */
    defaultScope?: OAuthScope;
    /** Your session id for the request; default: a random id in the `wechat_sid` cookie set by the helper. */
    sessionId?: (req: Req) => string | undefined;
    /** Cookie name of the default session id (default `wechat_sid`). */
    sessionCookie?: string;
  };
}

/** The framework-neutral view of a request. */
export interface RouteRequest<Req> {
  raw: Req;
  query: Record<string, unknown>;
  /** Host name without port (respects the framework's proxy settings). */
  hostname: string;
  /** `https` or `http`. */
  protocol: string;
  /** Host with port. */
  host: string;
  cookies: Record<string, string>;
}

export interface RouteResult {
  status: number;
  json?: unknown;
  text?: string;
  redirect?: string;
  headers?: Record<string, string>;
  cookies?: string[];
  /** A finished login: the adapter calls `onLogin`, then redirects to `returnTo` unless a response was sent. */
  login?: OAuthLogin;
}

export type RouteHandler<Req> = (req: RouteRequest<Req>) => Promise<RouteResult>;

function jsonError(status: number, error: string, message: string): RouteResult {
  return { status, json: { error, message }, headers: { 'Cache-Control': 'no-store' } };
}

const errorName = (err: unknown) => (err as { name?: string } | null)?.name;
const errorCode = (err: unknown) => (err as { code?: string } | null)?.code;
const errorKind = (err: unknown) => (err as { kind?: string } | null)?.kind;

/** WeChat (or the network to it) failed: say so without its body. */
function upstreamError(err: unknown, what: string): RouteResult {
  const name = errorName(err);
  if (name === 'WechatApiError') {
    const errcode = (err as { errcode?: number }).errcode;
    log('%s: WeChat answered errcode %s', what, errcode);
    return jsonError(502, 'upstream', `WeChat refused the ${what} request (errcode ${errcode})`);
  }
  if (name === 'WechatTransportError' || name === 'StoreError') {
    log('%s: %s', what, name);
    return jsonError(502, 'upstream', `WeChat did not answer the ${what} request; try again later`);
  }
  log('%s: unexpected failure: %s', what, (err as Error)?.message);
  return jsonError(500, 'internal', `the ${what} request failed on the server`);
}

function singleString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

// ---- signature ------------------------------------------------------------------------------------------------

export function signatureRoute<Req>(wx: WechatLike, options: WechatRoutesOptions<Req>): RouteHandler<Req> {
  return async (req) => {
    const raw = req.query.url;
    if (Array.isArray(raw)) return jsonError(400, 'bad_url', 'give url once (the page URL without the #hash)');
    let url: string;
    try {
      url = normalizeUrl(raw);
    } catch (err) {
      return jsonError(400, 'bad_url', (err as Error).message);
    }
    const hosts = options.allowedHosts ?? wx.options.allowedHosts ?? [req.hostname];
    const host = new URL(url).hostname;
    if (!hostAllowed(host, hosts)) {
      return jsonError(403, 'host_not_allowed', `pages on ${host} may not be signed here (see allowedHosts)`);
    }
    try {
      const signature = await wx.jssdk.getSignature(url);
      const { appId, timestamp, nonceStr, signature: sig } = signature;
      return {
        status: 200,
        json: { appId, timestamp, nonceStr, signature: sig, url: signature.url },
        headers: { 'Cache-Control': 'no-store' },
      };
    } catch (err) {
      const code = errorCode(err);
      if (code === 'BAD_URL') return jsonError(400, 'bad_url', (err as Error).message);
      if (code === 'HOST_NOT_ALLOWED') {
        return jsonError(403, 'host_not_allowed', `pages on ${host} may not be signed here (see allowedHosts)`);
      }
      return upstreamError(err, 'jsapi_ticket');
    }
  };
}

// ---- server URL verification ----------------------------------------------------------------------------------

export function verifyRoute<Req>(wx: WechatLike): RouteHandler<Req> {
  return async (req) => {
    const echostr = singleString(req.query.echostr);
    if (echostr === undefined || singleString(req.query.signature) === undefined) {
      return jsonError(
        400,
        'bad_request',
        'this is the server URL WeChat verifies: it calls it with signature, timestamp, nonce and echostr',
      );
    }
    let valid: boolean;
    try {
      valid = wx.jssdk.verifySignature(req.query);
    } catch (err) {
      if (errorCode(err) === 'NO_WECHAT_TOKEN') {
        return jsonError(500, 'not_configured', 'set the wechatToken option (the Token of your server configuration)');
      }
      throw err;
    }
    if (!valid) return jsonError(401, 'bad_signature', 'the signature does not match the configured Token');
    // Plain text and nosniff: echostr is reflected, and must not be interpretable as HTML or script.
    return {
      status: 200,
      text: echostr,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
    };
  };
}

// ---- OAuth ----------------------------------------------------------------------------------------------------

function isScope(value: unknown): value is OAuthScope {
  return value === 'snsapi_base' || value === 'snsapi_userinfo';
}

/** The session id for state binding: yours, or the helper's cookie (created on the start route). */
function session<Req>(
  req: RouteRequest<Req>,
  oauth: NonNullable<WechatRoutesOptions<Req>['oauth']>,
  create: boolean,
): { id?: string; cookie?: string } {
  if (oauth.sessionId) return { id: oauth.sessionId(req.raw) || undefined };
  const name = oauth.sessionCookie ?? DEFAULT_SESSION_COOKIE;
  const existing = req.cookies[name];
  if (existing && /^[A-Za-z0-9_-]{16,128}$/.test(existing)) return { id: existing };
  if (!create) return {};
  const id = randomBytes(24).toString('base64url');
  // SameSite=Lax: the callback is a top-level GET navigation coming back from WeChat, which Lax still carries.
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return { id, cookie: `${name}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_COOKIE_MAX_AGE_S}${secure}` };
}

export function oauthStartRoute<Req>(
  wx: WechatLike,
  oauth: NonNullable<WechatRoutesOptions<Req>['oauth']>,
  prefix: string,
): RouteHandler<Req> {
  return async (req) => {
    const scope = req.query.scope === undefined ? (oauth.defaultScope ?? 'snsapi_userinfo') : req.query.scope;
    if (!isScope(scope)) return jsonError(400, 'bad_scope', 'scope must be snsapi_base or snsapi_userinfo');
    const returnTo = req.query.returnTo;
    if (returnTo !== undefined && typeof returnTo !== 'string') {
      return jsonError(400, 'bad_return_to', 'give returnTo once, as a path on this site');
    }
    const { id, cookie } = session(req, oauth, true);
    if (!id) return jsonError(500, 'no_session', 'the sessionId option returned no session id for this request');
    let location: string;
    try {
      const state = wx.oauth.createState(id, returnTo ? { returnTo } : undefined);
      const callbackUrl = oauth.callbackUrl ?? `${req.protocol}://${req.host}${prefix}/oauth-callback`;
      location = wx.oauth.generateOAuthUrl(callbackUrl, scope, state);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'BAD_RETURN_TO' || code === 'STATE_TOO_LONG') {
        return jsonError(400, 'bad_return_to', (err as Error).message);
      }
      throw err;
    }
    return {
      status: 302,
      redirect: location,
      cookies: cookie ? [cookie] : [],
      headers: { 'Cache-Control': 'no-store' },
    };
  };
}

export function oauthCallbackRoute<Req>(
  wx: WechatLike,
  oauth: NonNullable<WechatRoutesOptions<Req>['oauth']>,
): RouteHandler<Req> {
  return async (req) => {
    const code = req.query.code;
    if (code === undefined || code === '') {
      return jsonError(400, 'no_code', 'WeChat sent no code: the user declined, or the page was opened directly');
    }
    if (typeof code !== 'string') return jsonError(400, 'bad_code', 'give code once');
    const { id } = session(req, oauth, false);
    if (!id) {
      return jsonError(
        403,
        'bad_state',
        'no session for this login (cookies blocked, or another browser); log in again',
      );
    }
    let returnTo: string | undefined;
    try {
      returnTo = wx.oauth.verifyState(req.query.state, id).returnTo;
    } catch (err) {
      if (String(errorCode(err)).startsWith('STATE_')) return jsonError(403, 'bad_state', (err as Error).message);
      throw err;
    }
    try {
      const token = await wx.oauth.getUserBaseInfo(code);
      const scope: OAuthScope = String(token.scope ?? '').includes('snsapi_userinfo')
        ? 'snsapi_userinfo'
        : 'snsapi_base';
      const login: OAuthLogin = { scope, openid: String(token.openid), sessionId: id, returnTo };
      if (typeof token.unionid === 'string') login.unionid = token.unionid;
      if (scope === 'snsapi_userinfo') {
        const { openid: _openid, unionid, ...profile } = await wx.oauth.getUserInfoRemotely(token);
        login.profile = profile;
        if (typeof unionid === 'string') login.unionid = unionid;
      }
      return { status: 200, login };
    } catch (err) {
      const kind = errorKind(err);
      if (kind === 'code_invalid' || kind === 'code_used' || errorCode(err) === 'BAD_CODE') {
        return jsonError(400, 'bad_code', 'the login code is invalid, expired or already used; log in again');
      }
      return upstreamError(err, 'OAuth');
    }
  };
}

// ---- dispatch -------------------------------------------------------------------------------------------------

/** Normalised prefix: leading slash, no trailing slash ('' for the root). */
export function normalizePrefix(prefix: string | undefined): string {
  const p = prefix ?? DEFAULT_PREFIX;
  if (typeof p !== 'string') throw new TypeError('prefix must be a string such as "/wechat"');
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '' : trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/** GET routes by full path. OAuth routes exist only when `withOAuth`. */
export function buildRoutes<Req>(
  wx: WechatLike,
  options: WechatRoutesOptions<Req>,
  withOAuth: boolean,
): { prefix: string; match(path: string): RouteHandler<Req> | undefined } {
  if (!wx || typeof wx !== 'object' || !wx.jssdk) {
    throw new TypeError('pass the Wechat instance: createWechatRouter(wx, options)');
  }
  const prefix = normalizePrefix(options.prefix);
  const routes = new Map<string, RouteHandler<Req>>();
  const verify = verifyRoute<Req>(wx);
  routes.set(prefix === '' ? '/' : prefix, verify);
  routes.set(`${prefix}/`, verify);
  routes.set(`${prefix}/signature`, signatureRoute(wx, options));
  if (withOAuth && options.oauth) {
    routes.set(`${prefix}/oauth`, oauthStartRoute(wx, options.oauth, prefix));
    routes.set(`${prefix}/oauth-callback`, oauthCallbackRoute(wx, options.oauth));
  }
  return { prefix, match: (path) => routes.get(path) };
}

/** Runs a route; a bug in it becomes a 500 without details (logged under wechat:server). */
export async function runRoute<Req>(handler: RouteHandler<Req>, req: RouteRequest<Req>): Promise<RouteResult> {
  try {
    return await handler(req);
  } catch (err) {
    log('route failed: %s', (err as Error)?.message);
    return jsonError(500, 'internal', 'the request failed on the server');
  }
}

/** `Cookie` header → map (first value wins, values URI-decoded when possible). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in cookies) continue;
    const value = part.slice(eq + 1).trim();
    try {
      cookies[name] = decodeURIComponent(value);
    } catch {
      cookies[name] = value;
    }
  }
  return cookies;
}

/** Errors from `onLogin` (your code) end as a 500 without details. */
export function loginFailed(err: unknown): RouteResult {
  log('onLogin failed: %s', (err as Error)?.message);
  return jsonError(500, 'internal', 'the login could not be completed on the server');
}
