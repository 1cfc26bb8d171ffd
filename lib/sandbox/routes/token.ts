/**
 * access_token (classic and stable) and tickets, following WeChat's documented rules:
 * - /cgi-bin/token: a new token per call; the previous one keeps working 5 minutes; a daily quota (45009).
 * - /cgi-bin/stable_token: normal mode returns the current token with its remaining expires_in, and a new one
 *   inside its last 5 minutes (both then work for those 5 minutes); force_refresh issues a new one and kills the
 *   old, at most 20 a day (45009), and a second force within 30 s does not refresh (WeChat: "否则不会刷新").
 *   Stable and classic tokens are independent.
 * - /cgi-bin/ticket/getticket: needs a live token (40001/42001); jsapi or wx_card; expires_in 7200.
 */
import {
  DAY_MS,
  TOKEN_OVERLAP_MS,
  TOKEN_TTL_S,
  fail,
  ok,
  randomToken,
  type SandboxCore,
  type TokenRecord,
} from '../core';

export const FORCE_REFRESH_INTERVAL_MS = 30_000;
export const FORCE_REFRESH_PER_DAY = 20;

export interface TicketRecord {
  ticket: string;
  appId: string;
  type: 'jsapi' | 'wx_card';
  expiresAt: number;
}

export class TokenState {
  readonly tickets = new Map<string, TicketRecord>();
  private readonly classicByDay = new Map<string, number>();
  private readonly stableCurrent = new Map<string, TokenRecord>();
  private readonly forceTimes = new Map<string, number[]>();

  constructor(private readonly core: SandboxCore) {}

  classic(appId: string): TokenRecord | 'quota' {
    const now = this.core.now();
    const dayKey = `${appId}:${Math.floor(now / DAY_MS)}`;
    const used = this.classicByDay.get(dayKey) ?? 0;
    if (used >= this.core.apps.get(appId)!.tokenQuota) return 'quota';
    this.classicByDay.set(dayKey, used + 1);
    for (const record of this.core.tokens.values()) {
      if (record.appId === appId && record.family === 'classic' && record.deadAt === undefined)
        record.deadAt = now + TOKEN_OVERLAP_MS;
    }
    return this.core.issueToken(appId, 'classic');
  }

  stable(appId: string, force: boolean): TokenRecord | 'quota' {
    const now = this.core.now();
    const current = this.stableCurrent.get(appId);
    const live = current && now < current.expiresAt && current.deadAt === undefined ? current : undefined;
    if (force) {
      const times = (this.forceTimes.get(appId) ?? []).filter((t) => now - t < DAY_MS);
      if (times.length >= FORCE_REFRESH_PER_DAY) return 'quota';
      const last = times[times.length - 1];
      if (live && last !== undefined && now - last < FORCE_REFRESH_INTERVAL_MS) return live;
      times.push(now);
      this.forceTimes.set(appId, times);
      if (current && current.deadAt === undefined) current.deadAt = now;
      return this.setStable(appId);
    }
    // A revoked token is still handed out in normal mode until someone force-refreshes (see revokeToken).
    const served =
      current && now < current.expiresAt && (current.deadAt === undefined || current.revokedOnly) ? current : undefined;
    if (served && served.expiresAt - now > TOKEN_OVERLAP_MS) return served;
    if (served && served.deadAt === undefined) served.deadAt = served.expiresAt;
    return this.setStable(appId);
  }

  /** Kill the stable token but keep returning it in normal mode, like a token revoked behind WeChat's cache. */
  revokeStable(appId: string): string | undefined {
    const current = this.stableCurrent.get(appId);
    if (!current) return undefined;
    current.deadAt = this.core.now();
    current.revokedOnly = true;
    return current.value;
  }

  ticket(appId: string, type: 'jsapi' | 'wx_card'): TicketRecord {
    const record: TicketRecord = {
      ticket: randomToken(type === 'jsapi' ? 'J_' : 'K_', 40),
      appId,
      type,
      expiresAt: this.core.now() + TOKEN_TTL_S * 1000,
    };
    this.tickets.set(record.ticket, record);
    return record;
  }

  /** Tickets of this app and type that are still valid (a signature made with any of them verifies). */
  liveTickets(appId: string, type: 'jsapi' | 'wx_card' = 'jsapi'): string[] {
    const now = this.core.now();
    return [...this.tickets.values()]
      .filter((t) => t.appId === appId && t.type === type && now < t.expiresAt)
      .map((t) => t.ticket);
  }

  private setStable(appId: string): TokenRecord {
    const record = this.core.issueToken(appId, 'stable');
    this.stableCurrent.set(appId, record);
    return record;
  }
}

function expiresIn(core: SandboxCore, record: TokenRecord): number {
  return Math.max(0, Math.floor((record.expiresAt - core.now()) / 1000));
}

export function tokenRoutes(core: SandboxCore, state: TokenState): void {
  core.route('GET', '/cgi-bin/token', ({ query }) => {
    if (query.grant_type !== 'client_credential') return fail(40002, 'invalid grant_type');
    const bad = core.checkApp(query.appid, query.secret);
    if (bad) return bad;
    const record = state.classic(query.appid);
    if (record === 'quota') return fail(45009, 'reach max api daily quota limit');
    return ok({ access_token: record.value, expires_in: expiresIn(core, record) });
  });

  core.route('POST', '/cgi-bin/stable_token', ({ json }) => {
    if (!json || typeof json !== 'object') return fail(47001, 'data format error');
    if (json.grant_type !== 'client_credential') return fail(40002, 'invalid grant_type');
    const bad = core.checkApp(json.appid, json.secret);
    if (bad) return bad;
    const record = state.stable(json.appid, json.force_refresh === true);
    if (record === 'quota') return fail(45009, 'reach max api daily quota limit');
    return ok({ access_token: record.value, expires_in: expiresIn(core, record) });
  });

  core.route('GET', '/cgi-bin/ticket/getticket', ({ query }) => {
    const check = core.checkToken(query.access_token);
    if (check.error) return check.error;
    if (query.type !== 'jsapi' && query.type !== 'wx_card')
      return fail(40097, 'invalid args: type must be jsapi or wx_card');
    const ticket = state.ticket(check.appId, query.type);
    return ok({ errcode: 0, errmsg: 'ok', ticket: ticket.ticket, expires_in: TOKEN_TTL_S });
  });
}
