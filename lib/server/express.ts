/**
 * `wechat-jssdk-ts/express`: the signature, server-verification and OAuth routes as one express middleware.
 * express is not loaded by this module (type imports only), so it stays an optional peer.
 *
 *   app.use(createWechatRouter(wx, {
 *     oauth: { onLogin: (login, req, res) => { req.session.user = login; } },
 *   }));
 *   // GET /wechat/signature?url=...   GET /wechat (echostr)   GET /wechat/oauth   GET /wechat/oauth-callback
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
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

export interface ExpressWechatOptions extends WechatRoutesOptions<Request> {
  oauth?: WechatRoutesOptions<Request>['oauth'] & {
    /**
     * Called after a successful login with the user (no tokens). Store it in your session. If you send no
     * response here, the helper redirects to the `returnTo` path given to the start route, or to `/`.
     */
    onLogin: (login: OAuthLogin, req: Request, res: Response) => void | Promise<void>;
  };
}

function send(res: Response, result: RouteResult): void {
  if (result.cookies?.length) res.append('Set-Cookie', result.cookies);
  if (result.headers) res.set(result.headers);
  if (result.redirect !== undefined) {
    res.redirect(result.status, result.redirect);
  } else if (result.text !== undefined) {
    res.status(result.status).send(result.text);
  } else {
    res.status(result.status).json(result.json);
  }
}

/** An express middleware serving the routes under `prefix` (default `/wechat`); other requests pass through. */
export function createWechatRouter(wx: WechatLike, options: ExpressWechatOptions = {}): RequestHandler {
  const onLogin = options.oauth?.onLogin;
  const routes = buildRoutes<Request>(wx, options, typeof onLogin === 'function');
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET') return next();
    // Match the full path, so the prefix means the same whether the router is mounted at / or under a path.
    const handler = routes.match(`${req.baseUrl ?? ''}${req.path}`);
    if (!handler) return next();
    const request = {
      raw: req,
      query: (req.query ?? {}) as Record<string, unknown>,
      hostname: req.hostname,
      protocol: req.protocol,
      host: req.get('host') ?? req.hostname,
      cookies: parseCookies(req.headers.cookie),
    };
    void (async () => {
      const result = await runRoute(handler, request);
      if (result.login && onLogin) {
        try {
          await onLogin(result.login, req, res);
        } catch (err) {
          if (!res.headersSent) send(res, loginFailed(err));
          return;
        }
        if (!res.headersSent) res.redirect(302, result.login.returnTo ?? '/');
        return;
      }
      send(res, result);
    })().catch(next);
  };
}

export default createWechatRouter;
