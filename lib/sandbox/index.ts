/**
 * A local WeChat emulator: a real HTTP server on 127.0.0.1 that follows WeChat's documented behaviour for tokens,
 * tickets, OAuth and mini-program login, with a settable clock, call counters and fault injection.
 *
 *   const sandbox = await startSandbox({ apps: [{ appId: 'wx1', appSecret: 's' }] });
 *   const wx = new Wechat({ appId: 'wx1', appSecret: 's', apiUrl: sandbox.url, now: () => sandbox.now() });
 */
import { DEFAULT_USERS, SandboxCore, ok, type SandboxApp, type SandboxUser } from './core';
import { TokenState, tokenRoutes } from './routes/token';
import { OAuthState, oauthRoutes } from './routes/oauth';
import { MiniProgramState, miniProgramRoutes, type SandboxUserData } from './routes/miniprogram';
import { CardState, cardRoutes } from './routes/card';
import { JsStubState, jsStubRoutes, type JsapiShare, type JsapiVerification } from './routes/jsstub';
import { PayState, payRoutes, type NotificationDelivery, type SandboxMerchant } from './routes/pay';
import type { PayCertificates } from './routes/payCerts';

export type { FaultSpec, SandboxApp, SandboxUser, SandboxRequest, SandboxResponse, Handler } from './core';
export { DEFAULT_USERS } from './core';
export type { SandboxMerchant, NotificationDelivery } from './routes/pay';
export { generatePayCertificates, type PayCertificates } from './routes/payCerts';

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
  /** WeChat Pay merchants: starts the payment listener `sandbox.payUrl` (HTTPS with payCertificates). */
  merchants?: SandboxMerchant[];
  payCertificates?: PayCertificates;
}

export class Sandbox extends SandboxCore {
  readonly tokenState = new TokenState(this);
  readonly oauthState = new OAuthState(this);
  readonly miniProgramState = new MiniProgramState(this);
  readonly cardState = new CardState(this);
  readonly jsStubState = new JsStubState(this);
  readonly payState = new PayState(this);

  constructor(apps: SandboxApp[], users?: SandboxUser[]) {
    super(apps, users ?? DEFAULT_USERS);
    tokenRoutes(this, this.tokenState);
    oauthRoutes(this, this.oauthState);
    miniProgramRoutes(this, this.miniProgramState);
    cardRoutes(this, this.cardState);
    jsStubRoutes(this, this.jsStubState);
    payRoutes(this, this.payState);
    this.controlRoutes();
  }

  /** Share settings pages made through the jweixin stub (GET /jweixin.js), oldest first. */
  get shares(): readonly JsapiShare[] {
    return this.jsStubState.shares;
  }

  /** Every `wx.config` the jweixin stub asked the sandbox to verify, oldest first. */
  get jsapiVerifications(): readonly JsapiVerification[] {
    return this.jsStubState.verifications;
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

  /** A getPhoneNumber button code as if `userId` allowed mini program `appId` to see the phone number. */
  mpPhoneCode(appId: string, userId: string): string {
    return this.miniProgramState.phoneCode(appId, userId);
  }

  /** wx.getUserInfo's rawData, signature, encryptedData and iv, made with the user's latest session_key. */
  mpEncryptedUserData(appId: string, userId: string): SandboxUserData {
    return this.miniProgramState.userData(appId, userId);
  }

  /** An encrypt_code for a card `code` of `appId`, as WeChat hands to pages; /card/code/decrypt reverses it. */
  encryptCardCode(appId: string, code: string): string {
    return this.cardState.encrypt(appId, code);
  }

  /** Base URL of the WeChat Pay emulator (use as `paymentApiUrl`); '' unless started with merchants. */
  get payUrl(): string {
    return this.payState.url;
  }

  /** The user pays order `outTradeNo`; resolves the merchant's answer to the payment notification. */
  payOrder(outTradeNo: string, options?: { mchId?: string; userId?: string }): Promise<NotificationDelivery> {
    return this.payState.payOrder(outTradeNo, options);
  }

  /** WeChat settles refund `outRefundNo`; resolves the merchant's answer to the refund notification. */
  completeRefund(outRefundNo: string, mchId?: string): Promise<NotificationDelivery | undefined> {
    return this.payState.completeRefund(outRefundNo, mchId);
  }

  override async close(): Promise<void> {
    await this.payState.close();
    await super.close();
  }

  /** HTTP control endpoints, for demos and for processes other than the one that started the sandbox. */
  private controlRoutes(): void {
    this.route('GET', '/__sandbox/calls', () => ok(this.calls()));
    this.route('GET', '/__sandbox/users', () =>
      ok({ users: this.users.map(({ id, nickname }) => ({ id, nickname })) }),
    );
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
  if (options.merchants?.length) {
    try {
      for (const merchant of options.merchants) sandbox.payState.addMerchant(merchant);
      await sandbox.payState.listen({ host: options.host, certificates: options.payCertificates });
    } catch (err) {
      await sandbox.close();
      throw err;
    }
  }
  return sandbox;
}
