/**
 * The mini program and cards pages of the demo, end to end in headless Chromium (same setup as browser.test.ts):
 * the demo runs against its in-process sandbox, the page's buttons make the demo server ask the sandbox for what a
 * phone would send, and the results are checked against the sandbox's own state (its session keys, its live
 * wx_card tickets), never against values the page computed. Screenshots go to test-artifacts/.
 */
import type { Page } from 'playwright-core';
import type { Demo } from '../../demo/app';
import { startBrowserDemo, type BrowserDemo } from './support';
import { SANDBOX_MINI_PROGRAM } from '../../demo/pages/miniprogram';
import { DEMO_CARD_CODE, DEMO_CARD_ID } from '../../demo/pages/card';
import { cardExtSignature, cardSignature } from '../../lib/card/signature';
import { fingerprint } from '../../lib/redact';

const MP = SANDBOX_MINI_PROGRAM.appId;

jest.setTimeout(60_000);

let env: BrowserDemo;
let demo: Demo;
let base: string;

beforeAll(async () => {
  env = await startBrowserDemo('wechat-demo-features-');
  ({ demo, base } = env);
});

afterAll(() => env?.close());

async function newPage(width = 430): Promise<Page> {
  return env.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1, locale: 'zh-CN' });
}

const shot = (page: Page, name: string) => env.shot(page, name);
const field = async (page: Page, name: string) => ((await page.textContent(`[data-field="${name}"]`)) ?? '').trim();
/** The sandbox's current session_key of a user (what jscode2session issued last). */
const sandboxKey = (user: string) => demo.sandbox!.miniProgramState.sessionKey(MP, user)!;

describe('demo feature pages in Chromium against the sandbox', () => {
  it('mini program: wx.login, decryption, a stale session_key, and the phone-number grant', async () => {
    const page = await newPage();
    await page.goto(`${base}/miniprogram`);
    expect(await page.textContent('#mp-appid')).toBe(MP);

    // A user who has not logged in gets a clear error, not a crash.
    await page.selectOption('#mp-user', 'carol');
    await page.click('#mp-userinfo');
    await page.waitForSelector('#userinfo-status[data-state="failed"]');
    expect(await page.textContent('#userinfo-status')).toContain('Log in first');

    // 1. wx.login → getSession: the session the sandbox issued is the one stored, shown only by its fingerprint.
    await page.selectOption('#mp-user', 'alice');
    await page.click('#mp-login');
    await page.waitForSelector('#login-status[data-state="ok"]');
    const openid = demo.sandbox!.openid(MP, 'alice');
    expect(await field(page, 'openid')).toBe(openid);
    expect(openid).not.toBe(demo.sandbox!.openid(demo.wx.appId, 'alice'));
    const firstKey = sandboxKey('alice');
    expect(await field(page, 'session-fingerprint')).toBe(fingerprint(firstKey));
    expect(await field(page, 'stored-under')).toBe(`${MP}:${openid}`);
    expect(await field(page, 'logins')).toBe('1');
    expect((await demo.wx.miniProgram!.getStoredSession(openid))?.session_key).toBe(firstKey);

    // 2. wx.getUserInfo → decryptData with the stored session.
    await page.click('#mp-userinfo');
    await page.waitForSelector('#userinfo-status[data-state="ok"]');
    expect(await field(page, 'nickname')).toBe('Alice 爱丽丝');
    expect(await field(page, 'decrypted-openid')).toBe(openid);
    expect(await field(page, 'signature')).toMatch(/^✓ valid/);
    expect(await field(page, 'watermark-appid')).toContain(MP);
    expect(await field(page, 'place')).toContain('Shenzhen');

    // 3. Data taken before a second wx.login: refused as stale, then the retry with the new session works.
    await page.click('#mp-stale');
    await page.waitForFunction(() => document.querySelector('[data-field="stale-logins"]')?.textContent === '2');
    expect(await page.getAttribute('#stale-status', 'data-state')).toBe('ok');
    const secondKey = sandboxKey('alice');
    expect(secondKey).not.toBe(firstKey);
    expect(await field(page, 'stale-keys')).toContain(`${fingerprint(firstKey)} → ${fingerprint(secondKey)}`);
    expect(await field(page, 'stale-outcome')).toContain('stale_session_key');
    expect(await field(page, 'stale-recovered')).toBe('✓ Alice 爱丽丝');
    expect(await page.isVisible('#stale-error')).toBe(true);
    expect(await page.textContent('#stale-error-type')).toBe(
      'DecryptError · reason: stale_session_key · code: DECRYPT_FAILED',
    );
    expect(await page.textContent('#stale-error-message')).toContain('call wx.login again');
    expect((await demo.wx.miniProgram!.getStoredSession(openid))?.session_key).toBe(secondKey);

    // 4. The phone number, through the mini program's own access_token (a different token from the official one).
    const phoneCalls = demo.sandbox!.calls('/wxa/business/getuserphonenumber');
    await page.click('#mp-phone');
    await page.waitForSelector('#phone-status[data-state="ok"]');
    expect(await field(page, 'pure-phone')).toBe('13800138000');
    expect(await field(page, 'phone-watermark')).toBe(MP);
    expect(demo.sandbox!.calls('/wxa/business/getuserphonenumber')).toBe(phoneCalls + 1);
    const mpToken = demo.wx.miniProgram!.accessToken.record!.value;
    expect(await field(page, 'phone-token')).toContain(`fingerprint ${fingerprint(mpToken)}`);
    expect(await field(page, 'phone-token')).toContain(`mp:${MP}:accessToken`);
    await shot(page, 'browser-miniprogram.png');

    // No secret reached the page: neither session_key, nor any token.
    const html = await page.content();
    for (const secret of [firstKey, secondKey, mpToken, demo.wx.credentials.accessToken.record?.value]) {
      if (secret) expect(html).not.toContain(secret);
    }

    // Another user on the same page: their own openid, their own session.
    await page.selectOption('#mp-user', 'bob');
    await page.click('#mp-login');
    await page.waitForFunction(
      (id) => document.querySelector('[data-field="openid"]')?.textContent === id,
      demo.sandbox!.openid(MP, 'bob'),
    );
    expect(await field(page, 'logins')).toBe('1');
    expect(await field(page, 'session-fingerprint')).toBe(fingerprint(sandboxKey('bob')));
  });

  it('cards: a signed cardExt, the chooseCard signature, and a decrypted card code', async () => {
    const page = await newPage(960);
    await page.goto(`${base}/cards`);
    const appId = demo.wx.appId;
    const tickets = demo.sandbox!.liveTickets(appId, 'wx_card');
    expect(tickets.length).toBeGreaterThan(0);

    // cardExt: recomputed here with the sandbox's live tickets, not trusted from the page.
    const ext = JSON.parse((await page.textContent('#card-ext'))!) as Record<string, string>;
    expect(Object.keys(ext).sort()).toEqual(['nonce_str', 'outer_str', 'signature', 'timestamp']);
    const expected = (apiTicket: string) =>
      cardExtSignature({ apiTicket, timestamp: ext.timestamp, cardId: DEMO_CARD_ID, nonceStr: ext.nonce_str });
    expect(tickets.map(expected)).toContain(ext.signature);
    expect(await page.getAttribute('#card-ext-verified', 'data-verified')).toBe('yes');
    expect(await page.textContent('#ticket [data-field="ticket-fingerprint"]')).toBe(
      fingerprint((await demo.wx.card!.getApiTicket()).ticket),
    );

    // chooseCard: every parameter shown, cardSign valid for this appId.
    const param = async (name: string) =>
      (await page.locator(`#card-sign-fields [data-field="${name}"]`).evaluate((td) => td.firstChild?.textContent)) ??
      '';
    expect(await param('cardType')).toBe('GROUPON');
    expect(await param('signType')).toBe('SHA1');
    const cardSign = await param('cardSign');
    const timestamp = await param('timestamp');
    const nonceStr = await param('nonceStr');
    expect(
      tickets.map((apiTicket) => cardSignature({ apiTicket, appId, timestamp, nonceStr, cardType: 'GROUPON' })),
    ).toContain(cardSign);

    // The encrypt_code minted by the sandbox decrypts to the card's code.
    expect(await page.getAttribute('#decrypt-status', 'data-state')).toBe('ok');
    expect(await page.locator('[data-field="decrypted-code"]').evaluate((td) => td.firstChild?.textContent)).toBe(
      DEMO_CARD_CODE,
    );
    await shot(page, 'browser-cards.png');
    const html = await page.content();
    for (const ticket of tickets) expect(html).not.toContain(ticket);

    // Another card with a custom code: the code is in cardExt and in the signature.
    await page.fill('input[name="cardId"]', 'pOtherCard001');
    await page.fill('input[name="code"]', '1434008071');
    await page.click('#card-sign-again');
    await page.waitForURL(/cardId=pOtherCard001/);
    const ext2 = JSON.parse((await page.textContent('#card-ext'))!) as Record<string, string>;
    expect(ext2.code).toBe('1434008071');
    expect(
      demo.sandbox!.liveTickets(appId, 'wx_card').map((apiTicket) =>
        cardExtSignature({
          apiTicket,
          timestamp: ext2.timestamp,
          cardId: 'pOtherCard001',
          code: '1434008071',
          nonceStr: ext2.nonce_str,
        }),
      ),
    ).toContain(ext2.signature);

    // An encrypt_code pasted into a URL with its '+' unencoded still decrypts.
    let encryptCode = '';
    while (!encryptCode.includes('+')) encryptCode = demo.sandbox!.encryptCardCode(appId, '751234212312');
    await page.goto(`${base}/cards?encrypt_code=${encryptCode.replace(/=/g, '%3D')}`);
    expect(await page.locator('[data-field="decrypted-code"]').evaluate((td) => td.firstChild?.textContent)).toBe(
      '751234212312',
    );

    // Bad input is refused with a message, not signed or echoed as HTML.
    await page.goto(`${base}/cards?cardId=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    expect(await page.textContent('#input-error')).toContain('cardId must be letters');
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.getAttribute('#card-ext-status', 'data-state')).toBe('ok');
  });
});
