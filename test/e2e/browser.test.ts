/**
 * End to end in a real browser: headless Chromium (Debian's package, driven by playwright-core) opens the demo,
 * which runs against the in-process sandbox. The sandbox's jweixin stand-in verifies every wx.config against the
 * live jsapi_ticket and the URL WeChat would check, so a wrong signature, a signed #hash or the wrong SPA URL fails
 * here exactly as it would in WeChat. Screenshots go to test-artifacts/.
 */
import type { Page } from 'playwright-core';
import type { Demo } from '../../demo/app';
import { startBrowserDemo, type BrowserDemo } from './support';

// WeChat's own user agents (Android XWEB and iOS): the client and the stub pick the signing rule from them.
const ANDROID_WECHAT_UA =
  'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 ' +
  'Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin';
const IOS_WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 ' +
  'MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN';

jest.setTimeout(60_000);

let env: BrowserDemo;
let demo: Demo;
let base: string;

beforeAll(async () => {
  env = await startBrowserDemo('wechat-demo-e2e-');
  ({ demo, base } = env);
});

afterAll(() => env?.close());

async function newPage(userAgent: string): Promise<Page> {
  return env.newPage({
    userAgent,
    viewport: { width: 430, height: 900 },
    deviceScaleFactor: 1,
    locale: 'zh-CN',
  });
}

/** Wait until the status box leaves `pending`, then return its state and text. */
async function settledStatus(page: Page): Promise<{ state: string | null; text: string }> {
  await page.waitForSelector('#status:not([data-state="pending"])', { timeout: 15_000 });
  const status = page.locator('#status');
  return { state: await status.getAttribute('data-state'), text: (await status.textContent()) ?? '' };
}

async function until<T>(read: () => T, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const shot = (page: Page, name: string) => env.shot(page, name);

describe('demo in Chromium against the sandbox', () => {
  it('signs a page whose URL has a query string and a #hash, and sets the share contents', async () => {
    const page = await newPage(ANDROID_WECHAT_UA);
    await page.goto(`${base}/jssdk?from=e2e&lang=zh#share`);
    expect(await settledStatus(page)).toEqual({ state: 'signed', text: expect.stringContaining('Signed') });

    // WeChat checks the URL without the hash; the sandbox verified exactly that one with a live ticket.
    const signedUrl = `${base}/jssdk?from=e2e&lang=zh`;
    expect(await page.textContent('#signed-url')).toBe(signedUrl);
    const verification = demo.sandbox!.jsapiVerifications.at(-1)!;
    expect(verification).toMatchObject({ ok: true, url: signedUrl, platform: 'other', errMsg: 'config:ok' });
    expect(verification.pageUrl).toBe(`${base}/jssdk?from=e2e&lang=zh#share`);

    // Share settings reach WeChat's APIs (four: new and old, chat and Moments) and are recorded by the sandbox.
    await page.waitForSelector('#share-results li:nth-child(4)');
    expect(await page.locator('#share-results li[data-ok="yes"]').count()).toBe(4);
    const shares = await until(
      () => demo.sandbox!.shares.filter((s) => s.pageUrl.startsWith(signedUrl)),
      (list) => list.length >= 4,
      'four recorded share calls',
    );
    expect(shares.map((s) => s.api).sort()).toEqual([
      'onMenuShareAppMessage',
      'onMenuShareTimeline',
      'updateAppMessageShareData',
      'updateTimelineShareData',
    ]);
    for (const share of shares) {
      expect(share).toMatchObject({ ok: true, title: 'wechat-jssdk-ts demo · home', link: signedUrl });
    }
    await page.waitForSelector('#recorded li');
    await shot(page, 'browser-jssdk-signed.png');

    // The stand-in really checks: a made-up signature is refused like WeChat refuses it.
    const refused = await page.evaluate(() =>
      (window as any).demoWechat
        .signSignature({ timestamp: '1700000000', nonceStr: 'abc', signature: '0'.repeat(40) })
        .then(
          () => 'accepted',
          (err: { errMsg?: string }) => err.errMsg,
        ),
    );
    expect(refused).toBe('config:invalid signature');
  });

  it('signs again after a single-page route change on Android (the current URL counts)', async () => {
    const page = await newPage(ANDROID_WECHAT_UA);
    await page.goto(`${base}/jssdk?from=spa`);
    expect((await settledStatus(page)).state).toBe('signed');
    const before = demo.sandbox!.jsapiVerifications.length;

    await page.click('#route-orders');
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/jssdk/orders?id=42');
    await page.waitForFunction(() => document.querySelector('#sign-count')?.textContent === '2');
    expect((await settledStatus(page)).state).toBe('signed');
    expect(await page.textContent('#signed-url')).toBe(`${base}/jssdk/orders?id=42`);

    const after = demo.sandbox!.jsapiVerifications.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ ok: true, url: `${base}/jssdk/orders?id=42`, platform: 'other' });
    // The share link follows the route.
    await until(
      () => demo.sandbox!.shares.filter((s) => s.title === 'wechat-jssdk-ts demo · orders'),
      (list) => list.length >= 4,
      'the share settings of the new route',
    );
    await shot(page, 'browser-jssdk-spa-android.png');
  });

  it('keeps signing the landing URL on iOS, where signing the current URL would fail', async () => {
    const page = await newPage(IOS_WECHAT_UA);
    const landing = `${base}/jssdk?from=ios`;
    await page.goto(`${landing}#top`);
    expect((await settledStatus(page)).state).toBe('signed');
    expect(await page.textContent('#rule')).toContain('iOS');

    await page.click('#route-profile');
    await page.waitForSelector('#log li:has-text("still holds")');
    expect(await page.textContent('#sign-count')).toBe('1');

    // Signing again from the new route still signs (and verifies) the landing URL.
    const before = demo.sandbox!.jsapiVerifications.length;
    await page.click('#resign');
    await page.waitForFunction(() => document.querySelector('#sign-count')?.textContent === '2');
    expect((await settledStatus(page)).state).toBe('signed');
    expect(await page.textContent('#signed-url')).toBe(landing);
    const verification = demo.sandbox!.jsapiVerifications.slice(before)[0];
    expect(verification).toMatchObject({ ok: true, url: landing, platform: 'ios' });
    expect(verification.pageUrl).toBe(`${base}/jssdk/profile?tab=2`);
    await shot(page, 'browser-jssdk-spa-ios.png');

    // Without the rule (forcing the current URL) iOS refuses the signature: the rule is what makes it work.
    const withoutRule = await page.evaluate(() => {
      const Client = (window as any).WechatJSSDK;
      return new Client({ signatureUrl: '/wechat/signature', useLandingUrl: false }).signSignature().then(
        () => 'accepted',
        (err: { errMsg?: string }) => err.errMsg,
      );
    });
    expect(withoutRule).toBe('config:invalid signature');
  });

  it('logs in through the sandbox consent page and shows the profile, then logs in silently', async () => {
    const page = await newPage(ANDROID_WECHAT_UA);
    await page.goto(`${base}/oauth`);
    expect(await page.getAttribute('#login-status', 'data-state')).toBe('pending');

    await page.click('#login-userinfo');
    await page.waitForSelector('a.allow[data-user="alice"]');
    expect(page.url().startsWith(`${demo.sandbox!.url}/connect/oauth2/authorize?`)).toBe(true);
    await shot(page, 'browser-oauth-consent.png');
    await page.click('a.allow[data-user="alice"]');

    await page.waitForURL(`${base}/oauth`);
    expect(await page.getAttribute('#login-status', 'data-state')).toBe('ok');
    expect(await page.getAttribute('#profile', 'data-scope')).toBe('snsapi_userinfo');
    expect(await page.textContent('[data-field="nickname"]')).toBe('Alice 爱丽丝');
    const appId = demo.wx.appId;
    expect(await page.textContent('[data-field="openid"]')).toBe(demo.sandbox!.openid(appId, 'alice'));
    expect(await page.textContent('[data-field="place"]')).toContain('Shenzhen');
    await shot(page, 'browser-oauth-profile.png');

    await page.click('#logout');
    expect(await page.getAttribute('#login-status', 'data-state')).toBe('pending');
    await page.click('#login-base');
    await page.click('a.allow[data-user="bob"]');
    await page.waitForURL(`${base}/oauth`);
    expect(await page.getAttribute('#profile', 'data-scope')).toBe('snsapi_base');
    expect(await page.textContent('[data-field="openid"]')).toBe(demo.sandbox!.openid(appId, 'bob'));
    expect(await page.textContent('[data-field="nickname"]')).toContain('snsapi_base gives no profile');
  });

  it('refuses an OAuth callback whose state belongs to another browser', async () => {
    const page = await newPage(ANDROID_WECHAT_UA);
    await page.goto(`${base}/oauth`);
    await page.click('#login-userinfo');
    await page.waitForSelector('a.allow[data-user="carol"]');
    const allow = await page.getAttribute('a.allow[data-user="carol"]', 'href');
    // Another browser (no session cookie of this login) follows the same consent link.
    const other = await newPage(ANDROID_WECHAT_UA);
    await other.goto(`${base}/oauth`); // gets its own session only when it starts a login; here it has none
    const response = await other.goto(new URL(allow!, demo.sandbox!.url).toString());
    expect(response!.status()).toBe(403);
    expect(JSON.parse((await other.textContent('body'))!)).toMatchObject({ error: 'bad_state' });
  });
});
