/** What every demo page gets: the SDK, the sandbox (when there is one), and the logged-in users. */
import type { Request } from 'express';
import type { Wechat } from '../lib/Wechat';
import type { Sandbox } from '../lib/sandbox';
import type { OAuthLogin } from '../lib/server/express';
import { DEFAULT_SESSION_COOKIE, parseCookies } from '../lib/server/routes';
import type { DemoMode } from './env';

/** The Token of the sandbox-mode server verification (a demo value, not a secret). */
export const SANDBOX_WECHAT_TOKEN = 'sandbox-token';

export interface DemoContext {
  wx: Wechat;
  /** The in-process WeChat sandbox (sandbox mode only). */
  sandbox?: Sandbox;
  mode: DemoMode;
  /** Where pages load the jweixin script from: the sandbox's stand-in, or WeChat's. */
  jweixinUrl: string;
  /** The banner shown on every page. */
  modeBanner: string;
  /** Users who logged in through OAuth, by session id (memory only: a demo). */
  logins: Map<string, OAuthLogin>;
}

/** The session id the OAuth helper put in its cookie. */
export function sessionIdOf(req: Request): string | undefined {
  return parseCookies(req.headers.cookie)[DEFAULT_SESSION_COOKIE];
}
