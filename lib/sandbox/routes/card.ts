/**
 * Cards: POST /card/code/decrypt turns an `encrypt_code` (what WeChat hands a page when a user opens a card) back
 * into the card's code. It needs a live access_token of the app that issued the encrypt_code. Tests and demos mint
 * encrypt_codes with `sandbox.encryptCardCode(appId, code)` or POST /__sandbox/card/encrypt.
 *
 * The wx_card api_ticket itself is served by /cgi-bin/ticket/getticket?type=wx_card (routes/token.ts).
 */
import { randomBytes } from 'node:crypto';
import { badRequest, fail, ok, type SandboxCore } from '../core';

export class CardState {
  /** encrypt_code → the app it belongs to and the real code. */
  readonly encrypted = new Map<string, { appId: string; code: string }>();

  constructor(private readonly core: SandboxCore) {}

  encrypt(appId: string, code: string): string {
    if (!this.core.apps.get(appId)) throw new Error(`sandbox: unknown appId ${appId}`);
    if (typeof code !== 'string' || code === '') throw new Error('sandbox: a card code is required');
    // Standard base64 with '+', '/' and '=' like WeChat's, so a client that mangles them is caught.
    const encryptCode = randomBytes(32).toString('base64');
    this.encrypted.set(encryptCode, { appId, code });
    return encryptCode;
  }
}

export function cardRoutes(core: SandboxCore, state: CardState): void {
  core.route('POST', '/card/code/decrypt', ({ query, json }) => {
    const check = core.checkToken(query.access_token);
    if (check.error) return check.error;
    if (!json || typeof json.encrypt_code !== 'string') return fail(47001, 'data format error');
    const entry = state.encrypted.get(json.encrypt_code);
    if (!entry || entry.appId !== check.appId) return fail(40056, 'invalid serial code');
    return ok({ errcode: 0, errmsg: 'ok', code: entry.code });
  });

  core.route('POST', '/__sandbox/card/encrypt', ({ json }) => {
    try {
      return ok({ encrypt_code: state.encrypt(String(json?.appid), String(json?.code ?? '')) });
    } catch (err) {
      return badRequest(err);
    }
  });
}
