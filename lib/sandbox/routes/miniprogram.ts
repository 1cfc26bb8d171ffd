/**
 * Mini-program login: `wx.login` gives a js_code (here: `sandbox.mpLogin(appId, userId)` or
 * POST /__sandbox/mp/login); `/sns/jscode2session` exchanges it once for openid and a new session_key.
 */
import { randomBytes } from 'node:crypto';
import { fail, ok, randomToken, type SandboxCore } from '../core';
import { CODE_TTL_MS } from './oauth';

interface LoginCode {
  appId: string;
  userId: string;
  expiresAt: number;
  used?: boolean;
}

export class MiniProgramState {
  readonly codes = new Map<string, LoginCode>();
  /** The latest session_key per `${appId}:${userId}`; every login replaces it. */
  readonly sessionKeys = new Map<string, string>();

  constructor(private readonly core: SandboxCore) {}

  login(appId: string, userId: string): string {
    if (!this.core.apps.get(appId)) throw new Error(`sandbox: unknown appId ${appId}`);
    if (!this.core.user(userId)) throw new Error(`sandbox: unknown user ${userId}`);
    const code = randomToken('JSCODE_', 18);
    this.codes.set(code, { appId, userId, expiresAt: this.core.now() + CODE_TTL_MS });
    return code;
  }

  sessionKey(appId: string, userId: string): string | undefined {
    return this.sessionKeys.get(`${appId}:${userId}`);
  }
}

export function miniProgramRoutes(core: SandboxCore, state: MiniProgramState): void {
  core.route('GET', '/sns/jscode2session', ({ query }) => {
    const bad = core.checkApp(query.appid, query.secret);
    if (bad) return bad;
    if (query.grant_type !== 'authorization_code') return fail(40002, 'invalid grant_type');
    const login = state.codes.get(query.js_code ?? '');
    if (!login || login.appId !== query.appid || core.now() >= login.expiresAt) return fail(40029, 'invalid code');
    if (login.used) return fail(40163, 'code been used');
    login.used = true;
    const sessionKey = randomBytes(16).toString('base64');
    state.sessionKeys.set(`${login.appId}:${login.userId}`, sessionKey);
    const app = core.apps.get(login.appId)!;
    return ok({
      openid: core.openid(login.appId, login.userId),
      session_key: sessionKey,
      ...(app.unionid ? { unionid: core.unionid(login.userId) } : {}),
    });
  });

  core.route('POST', '/__sandbox/mp/login', ({ json }) => {
    try {
      return ok({ code: state.login(json?.appid, json?.user ?? core.users[0].id) });
    } catch (err) {
      return { status: 400, json: { errcode: 400, errmsg: (err as Error).message } };
    }
  });
}
