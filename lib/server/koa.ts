/**
 * `wechat-jssdk-ts/koa`: the signature, server-verification and OAuth routes as one koa middleware.
 * koa is not loaded by this module (type imports only), so it stays an optional peer.
 *
 *   app.use(createWechatMiddleware(wx, {
 *     oauth: { onLogin: (login, ctx) => { ctx.session.user = login; } },
 *   }));
 *   // GET /wechat/signature?url=...   GET /wechat (echostr)   GET /wechat/oauth   GET /wechat/oauth-callback
 */
import type { Context, Middleware, Next } from 'koa';
import {
  buildRoutes,
  loginFailed,
  parseCookies,
  runRoute,
  type OAuthLogin,
  type RouteResult,
  type WechatLike,
  type WechatRoutesOptions,
} from './routes';

export type { OAuthLogin, OAuthScope, WechatLike } from './routes';

export interface KoaWechatOptions extends WechatRoutesOptions<Context> {
  oauth?: WechatRoutesOptions<Context>['oauth'] & {
    /**
     * Called after a successful login with the user (no tokens). Store it in your session. If you set no
     * body or redirect here, the helper redirects to the `returnTo` path given to the start route, or to `/`.
     */
    onLogin: (login: OAuthLogin, ctx: Context) => void | Promise<void>;
  };
}

function send(ctx: Context, result: RouteResult): void {
  for (const cookie of result.cookies ?? []) ctx.append('Set-Cookie', cookie);
  if (result.headers) ctx.set(result.headers);
  if (result.redirect !== undefined) {
    ctx.redirect(result.redirect);
    ctx.status = result.status;
  } else if (result.text !== undefined) {
    ctx.status = result.status;
    ctx.body = result.text;
    if (result.headers?.['Content-Type']) ctx.type = result.headers['Content-Type'];
  } else {
    ctx.status = result.status;
    ctx.body = result.json;
  }
}

/** A koa middleware serving the routes under `prefix` (default `/wechat`); other requests go to `next`. */
export function createWechatMiddleware(wx: WechatLike, options: KoaWechatOptions = {}): Middleware {
  const onLogin = options.oauth?.onLogin;
  const routes = buildRoutes<Context>(wx, options, typeof onLogin === 'function');
  return async (ctx: Context, next: Next) => {
    const handler = ctx.method === 'GET' ? routes.match(ctx.path) : undefined;
    if (!handler) return next();
    const result = await runRoute(handler, {
      raw: ctx,
      query: ctx.query as Record<string, unknown>,
      hostname: ctx.hostname,
      protocol: ctx.protocol,
      host: ctx.host,
      cookies: parseCookies(ctx.get('cookie')),
    });
    if (result.login && onLogin) {
      try {
        await onLogin(result.login, ctx);
      } catch (err) {
        send(ctx, loginFailed(err));
        return;
      }
      // koa's default status is 404 until something sets a body or a status.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404 || ctx.status === 200) ctx.redirect(result.login.returnTo ?? '/');
      }
      return;
    }
    send(ctx, result);
  };
}

export default createWechatMiddleware;
