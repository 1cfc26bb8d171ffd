/**
 * A local WeChat emulator: a real HTTP server on 127.0.0.1 that follows WeChat's documented behaviour for tokens,
 * tickets, OAuth and mini-program login, with a settable clock, call counters and fault injection.
 *
 *   const sandbox = await startSandbox({ apps: [{ appId: 'wx1', appSecret: 's' }] });
 *   const wx = new Wechat({ appId: 'wx1', appSecret: 's', apiUrl: sandbox.url, now: () => sandbox.now() });
 */
import { DEFAULT_USERS, SandboxCore, ok, type FaultSpec, type SandboxApp, type SandboxUser } from './core';
import { TokenState, tokenRoutes } from './routes/token';
import { OAuthState, oauthRoutes } from './routes/oauth';
import { MiniProgramState, miniProgramRoutes } from './routes/miniprogram';

export type { FaultSpec, SandboxApp, SandboxUser, SandboxRequest, SandboxResponse, Handler } from './core';
export { DEFAULT_USERS } from './core';

export interface SandboxOptions {
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  host?: string;
  apps: SandboxApp[];
  users?: SandboxUser[];
  /** Start the clock at this time (ms) instead of now. */
  startTime?: number;
  /** Freeze the clock so it only moves with advance()/setTime() (default false). */
  frozenClock?: boolean;
}

export class Sandbox extends SandboxCore {
  readonly tokenState = new TokenState(this);
  readonly oauthState = new OAuthState(this);
  readonly miniProgramState = new MiniProgramState(this);

  constructor(apps: SandboxApp[], users?: SandboxUser[]) {
    super(apps, users ?? DEFAULT_USERS);
    tokenRoutes(this, this.tokenState);
    oauthRoutes(this, this.oauthState);
    miniProgramRoutes(this, this.miniProgramState);
    this.controlRoutes();
  }

  /** Live jsapi (or wx_card) tickets of an app: a signature made with any of them is valid. */
  liveTickets(appId: string, type: 'jsapi' | 'wx_card' = 'jsapi'): string[] {
    return this.tokenState.liveTickets(appId, type);
  }

  /** Kill the current stable token while normal mode keeps returning it (the SDK must force_refresh). */
  revokeStableToken(appId: string): string | undefined {
    return this.tokenState.revokeStable(appId);
  }

  /** An OAuth code as if `userId` allowed `scope` on the consent page. */
  authorize(appId: string, userId: string, scope = 'snsapi_userinfo'): string {
    return this.oauthState.authorize(appId, userId, scope);
  }

  /** A js_code as if `userId` called wx.login in mini program `appId`. */
  mpLogin(appId: string, userId: string): string {
    return this.miniProgramState.login(appId, userId);
  }

  /** HTTP control endpoints, for demos and for processes other than the one that started the sandbox. */
  private controlRoutes(): void {
    this.route('GET', '/__sandbox/calls', () => ok(this.calls()));
    this.route('GET', '/__sandbox/users', () => ok({ users: this.users.map(({ id, nickname }) => ({ id, nickname })) }));
    this.route('POST', '/__sandbox/rotate', ({ json }) => {
      this.rotateToken(String(json?.appid));
      return ok({ errcode: 0, errmsg: 'ok' });
    });
    this.route('POST', '/__sandbox/clock', ({ json }) => {
      if (typeof json?.advanceMs === 'number') this.advance(json.advanceMs);
      if (typeof json?.time === 'number') this.setTime(json.time);
      return ok({ now: this.now() });
    });
  }
}

/** Start a sandbox; resolves once it listens. Always `await sandbox.close()` when done. */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  if (!options || !Array.isArray(options.apps) || options.apps.length === 0) {
    throw new Error('startSandbox needs apps: [{ appId, appSecret }]');
  }
  const sandbox = new Sandbox(options.apps, options.users);
  if (options.startTime !== undefined) sandbox.setTime(options.startTime);
  if (options.frozenClock) sandbox.freeze(true);
  await sandbox.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sandbox;
}
