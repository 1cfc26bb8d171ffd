/**
 * The sandbox's access_token and ticket rules, checked over HTTP as a WeChat server: classic /cgi-bin/token,
 * /cgi-bin/stable_token in normal and force_refresh modes, getticket, rotation and revocation. Time moves only
 * through the sandbox clock (frozen here), never by sleeping.
 */
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import { DAY_MS, TOKEN_OVERLAP_MS } from '../../lib/sandbox/core';
import { FORCE_REFRESH_INTERVAL_MS, FORCE_REFRESH_PER_DAY } from '../../lib/sandbox/routes/token';
import { APP, MINUTE, sandboxWith } from '../helpers';
import { errcode, getJson, postJson, type Body } from './wire';

const SECOND = 1000;
const TTL_MS = 7200 * SECOND;

let sandbox: Sandbox;
let appCount = 0;

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
  sandbox.freeze();
});

afterAll(async () => {
  await sandbox.close();
});

/** A fresh app per test, so quotas, force budgets and current tokens never leak between tests. */
function newApp(extra: Partial<SandboxApp> = {}): SandboxApp {
  appCount++;
  const app = { appId: `wxtok${String(appCount).padStart(11, '0')}`, appSecret: `tok-secret-${appCount}`, ...extra };
  sandbox.addApp(app);
  return app;
}

const classic = (app: SandboxApp): Promise<Body> =>
  getJson(sandbox, '/cgi-bin/token', { grant_type: 'client_credential', appid: app.appId, secret: app.appSecret });

const stable = (app: SandboxApp, force?: boolean): Promise<Body> =>
  postJson(sandbox, '/cgi-bin/stable_token', {
    grant_type: 'client_credential',
    appid: app.appId,
    secret: app.appSecret,
    ...(force === undefined ? {} : { force_refresh: force }),
  });

const getticket = (token: string, type = 'jsapi'): Promise<Body> =>
  getJson(sandbox, '/cgi-bin/ticket/getticket', { access_token: token, type });

/** errcode of a getticket call with this token: 0 means the token is live. */
const tokenState = async (token: string): Promise<number> => errcode(await getticket(token));

async function token(body: Promise<Body>): Promise<string> {
  const b = await body;
  expect(errcode(b)).toBe(0);
  expect(b.access_token).toEqual(expect.any(String));
  return b.access_token as string;
}

describe('classic /cgi-bin/token', () => {
  test('a new token on every call, expires_in 7200', async () => {
    const app = newApp();
    const first = await classic(app);
    const second = await classic(app);
    expect(first.expires_in).toBe(7200);
    expect(second.expires_in).toBe(7200);
    expect(second.access_token).not.toBe(first.access_token);
  });

  test('the previous token keeps working 5 minutes after a new one is issued, then gives 40001', async () => {
    const app = newApp();
    const t1 = await token(classic(app));
    const t2 = await token(classic(app));
    expect(await tokenState(t1)).toBe(0);
    sandbox.advance(4 * MINUTE);
    expect(await tokenState(t1)).toBe(0);
    sandbox.advance(2 * MINUTE);
    expect(await tokenState(t1)).toBe(40001);
    expect(await tokenState(t2)).toBe(0);
    // A third token does not revive or re-time the first; it starts the second one's 5 minutes.
    const t3 = await token(classic(app));
    expect(await tokenState(t1)).toBe(40001);
    sandbox.advance(TOKEN_OVERLAP_MS - SECOND);
    expect(await tokenState(t2)).toBe(0);
    sandbox.advance(2 * SECOND);
    expect(await tokenState(t2)).toBe(40001);
    expect(await tokenState(t3)).toBe(0);
  });

  test('a token expires after 7200 s with 42001', async () => {
    const app = newApp();
    const t = await token(classic(app));
    sandbox.advance(TTL_MS - SECOND);
    expect(await tokenState(t)).toBe(0);
    sandbox.advance(SECOND);
    expect(await tokenState(t)).toBe(42001);
  });

  test('the daily quota gives 45009 when used up and resets the next day', async () => {
    const app = newApp({ tokenQuota: 3 });
    for (let i = 0; i < 3; i++) await token(classic(app));
    const over = await classic(app);
    expect(errcode(over)).toBe(45009);
    expect(over.access_token).toBeUndefined();
    expect(errcode(await classic(app))).toBe(45009);
    // Another app's quota is separate.
    await token(classic(newApp({ tokenQuota: 3 })));
    sandbox.advance(DAY_MS - (sandbox.now() % DAY_MS));
    await token(classic(app));
  });

  test('the default daily quota is 2000', () => {
    const app = newApp();
    expect(sandbox.apps.get(app.appId)!.tokenQuota).toBe(2000);
  });

  test('wrong appid gives 40013, wrong secret 40125, wrong grant_type 40002; none issue a token', async () => {
    const app = newApp();
    const unknown = await classic({ appId: 'wxnosuchapp00000', appSecret: app.appSecret });
    expect(errcode(unknown)).toBe(40013);
    expect(unknown.errmsg).toMatch(/rid: /);
    expect(errcode(await classic({ ...app, appSecret: 'wrong' }))).toBe(40125);
    expect(
      errcode(await getJson(sandbox, '/cgi-bin/token', { grant_type: 'x', appid: app.appId, secret: app.appSecret })),
    ).toBe(40002);
    expect([...sandbox.tokens.values()].filter((t) => t.appId === app.appId)).toEqual([]);
  });
});

describe('/cgi-bin/stable_token', () => {
  test('normal mode returns the same token with a decreasing expires_in', async () => {
    const app = newApp();
    const first = await stable(app);
    expect(first.expires_in).toBe(7200);
    sandbox.advance(1000 * SECOND);
    const again = await stable(app, false);
    expect(again.access_token).toBe(first.access_token);
    expect(again.expires_in).toBe(6200);
    expect(await tokenState(first.access_token)).toBe(0);
  });

  test('renews inside the last 5 minutes; old and new both work until the old expires', async () => {
    const app = newApp();
    const old = await stable(app);
    sandbox.advance(TTL_MS - TOKEN_OVERLAP_MS - SECOND);
    const before = await stable(app);
    expect(before.access_token).toBe(old.access_token);
    expect(before.expires_in).toBe(301);

    sandbox.advance(2 * SECOND); // 299 s left: inside the last 5 minutes
    const renewed = await stable(app);
    expect(renewed.access_token).not.toBe(old.access_token);
    expect(renewed.expires_in).toBe(7200);
    expect(await tokenState(old.access_token)).toBe(0);
    expect(await tokenState(renewed.access_token)).toBe(0);
    // Normal mode now hands out the new token.
    expect((await stable(app)).access_token).toBe(renewed.access_token);

    sandbox.advance(298 * SECOND);
    expect(await tokenState(old.access_token)).toBe(0);
    sandbox.advance(SECOND);
    expect([40001, 42001]).toContain(await tokenState(old.access_token));
    expect(await tokenState(renewed.access_token)).toBe(0);
  });

  test('force_refresh issues a new token and kills the old one at once', async () => {
    const app = newApp();
    const old = await token(stable(app));
    const forced = await stable(app, true);
    expect(forced.access_token).not.toBe(old);
    expect(forced.expires_in).toBe(7200);
    expect(await tokenState(old)).toBe(40001);
    expect(await tokenState(forced.access_token)).toBe(0);
    expect((await stable(app)).access_token).toBe(forced.access_token);
  });

  test('a second force_refresh within 30 s returns the current token without refreshing', async () => {
    const app = newApp();
    await token(stable(app));
    const f1 = await token(stable(app, true));
    sandbox.advance(FORCE_REFRESH_INTERVAL_MS - SECOND);
    const again = await stable(app, true);
    expect(errcode(again)).toBe(0);
    expect(again.access_token).toBe(f1);
    expect(again.expires_in).toBe(7200 - 29);
    expect(await tokenState(f1)).toBe(0);

    sandbox.advance(SECOND);
    const f2 = await token(stable(app, true));
    expect(f2).not.toBe(f1);
    expect(await tokenState(f1)).toBe(40001);
  });

  test(`more than ${FORCE_REFRESH_PER_DAY} force_refresh calls a day give 45009; the budget comes back a day later`, async () => {
    expect(FORCE_REFRESH_PER_DAY).toBe(20);
    const app = newApp();
    const seen = new Set<string>();
    for (let i = 0; i < FORCE_REFRESH_PER_DAY; i++) {
      seen.add(await token(stable(app, true)));
      sandbox.advance(FORCE_REFRESH_INTERVAL_MS + SECOND);
    }
    expect(seen.size).toBe(FORCE_REFRESH_PER_DAY);
    const over = await stable(app, true);
    expect(errcode(over)).toBe(45009);
    // Normal mode still works while the force budget is used up.
    expect(await token(stable(app))).toEqual(expect.any(String));
    sandbox.advance(DAY_MS);
    expect(seen.has(await token(stable(app, true)))).toBe(false);
  });

  test('stable and classic tokens are independent', async () => {
    const app = newApp();
    const c1 = await token(classic(app));
    const s1 = await token(stable(app));
    // A classic refresh starts c1's 5 minutes but leaves the stable token alone.
    const c2 = await token(classic(app));
    sandbox.advance(6 * MINUTE);
    expect(await tokenState(c1)).toBe(40001);
    expect(await tokenState(s1)).toBe(0);
    expect((await stable(app)).access_token).toBe(s1);
    // A forced stable refresh kills s1 but not the classic token.
    const s2 = await token(stable(app, true));
    expect(await tokenState(s1)).toBe(40001);
    expect(await tokenState(c2)).toBe(0);
    expect(await tokenState(s2)).toBe(0);
  });

  test('wrong appid 40013, wrong secret 40125, wrong grant_type 40002, a body that is not JSON 47001', async () => {
    const app = newApp();
    expect(errcode(await stable({ appId: 'wxnosuchapp00000', appSecret: 'x' }))).toBe(40013);
    expect(errcode(await stable({ ...app, appSecret: 'wrong' }, true))).toBe(40125);
    expect(
      errcode(
        await postJson(sandbox, '/cgi-bin/stable_token', {
          grant_type: 'password',
          appid: app.appId,
          secret: app.appSecret,
        }),
      ),
    ).toBe(40002);
    expect(errcode(await postJson(sandbox, '/cgi-bin/stable_token', 'grant_type=client_credential'))).toBe(47001);
  });
});

describe('/cgi-bin/ticket/getticket', () => {
  test('jsapi and wx_card tickets, expires_in 7200, each listed as live for its type until it expires', async () => {
    const app = newApp();
    const t = await token(stable(app));
    const jsapi = await getticket(t, 'jsapi');
    const card = await getticket(t, 'wx_card');
    for (const body of [jsapi, card]) {
      expect(errcode(body)).toBe(0);
      expect(body.ticket).toEqual(expect.any(String));
      expect(body.expires_in).toBe(7200);
    }
    expect(card.ticket).not.toBe(jsapi.ticket);
    expect(sandbox.liveTickets(app.appId, 'jsapi')).toEqual([jsapi.ticket]);
    expect(sandbox.liveTickets(app.appId, 'wx_card')).toEqual([card.ticket]);
    sandbox.advance(TTL_MS);
    expect(sandbox.liveTickets(app.appId, 'jsapi')).toEqual([]);
  });

  test('needs a live token: 40001 for unknown or replaced, 42001 for expired; type must be jsapi or wx_card', async () => {
    const app = newApp();
    expect(await tokenState('no-such-token')).toBe(40001);
    expect(errcode(await getJson(sandbox, '/cgi-bin/ticket/getticket', { type: 'jsapi' }))).toBe(40001);
    const replaced = await token(classic(app));
    const current = await token(classic(app));
    sandbox.advance(TOKEN_OVERLAP_MS);
    expect(await tokenState(replaced)).toBe(40001);
    expect(await tokenState(current)).toBe(0);
    sandbox.advance(TTL_MS);
    expect(await tokenState(current)).toBe(42001);
    const fresh = await token(classic(app));
    expect(errcode(await getticket(fresh, 'other'))).not.toBe(0);
    expect(sandbox.liveTickets(app.appId, 'jsapi')).toEqual([]);
    expect(await tokenState(fresh)).toBe(0);
    expect(sandbox.liveTickets(app.appId, 'jsapi')).toHaveLength(1);
  });
});

describe('rotation and revocation', () => {
  test('rotateToken kills every token of that app at once, and only that app', async () => {
    const app = newApp();
    const other = newApp();
    const c = await token(classic(app));
    const s = await token(stable(app));
    const o = await token(stable(other));
    sandbox.rotateToken(app.appId);
    expect(await tokenState(c)).toBe(40001);
    expect(await tokenState(s)).toBe(40001);
    expect(await tokenState(o)).toBe(0);
    // New tokens work again.
    expect(await tokenState(await token(classic(app)))).toBe(0);
  });

  test('rotation over HTTP (POST /__sandbox/rotate) does the same', async () => {
    const app = newApp();
    const c = await token(classic(app));
    expect(errcode(await postJson(sandbox, '/__sandbox/rotate', { appid: app.appId }))).toBe(0);
    expect(await tokenState(c)).toBe(40001);
  });

  test('revokeStableToken: the dead token is still served by normal mode until a force_refresh', async () => {
    const app = newApp();
    const s1 = await token(stable(app));
    expect(sandbox.revokeStableToken(app.appId)).toBe(s1);
    expect(await tokenState(s1)).toBe(40001);
    sandbox.advance(10 * MINUTE);
    expect((await stable(app)).access_token).toBe(s1);
    expect(await tokenState(s1)).toBe(40001);
    const s2 = await token(stable(app, true));
    expect(s2).not.toBe(s1);
    expect(await tokenState(s2)).toBe(0);
    expect((await stable(app)).access_token).toBe(s2);
    expect(sandbox.revokeStableToken(newApp().appId)).toBeUndefined();
  });
});

describe('clock and counters', () => {
  test('the clock is settable and the control endpoint moves it', async () => {
    const start = sandbox.now();
    sandbox.advance(5 * SECOND);
    expect(sandbox.now()).toBe(start + 5 * SECOND);
    const moved = await postJson(sandbox, '/__sandbox/clock', { advanceMs: 1000 });
    expect(moved.now).toBe(start + 6 * SECOND);
    sandbox.setTime(Date.UTC(2030, 0, 1));
    expect(sandbox.now()).toBe(Date.UTC(2030, 0, 1));
  });

  test('calls are counted per path, also over HTTP', async () => {
    const app = newApp();
    const before = sandbox.calls('/cgi-bin/token');
    await classic(app);
    await classic(app);
    expect(sandbox.calls('/cgi-bin/token')).toBe(before + 2);
    const all = await getJson(sandbox, '/__sandbox/calls');
    expect(all['/cgi-bin/token']).toBe(before + 2);
  });
});
