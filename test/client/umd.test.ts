/**
 * The UMD build of the browser client (the same build settings as dist/client.umd.js): it must work as a plain
 * <script> (window.WechatJSSDK), through require (module.exports) and AMD, and stay small. The browser behaviour
 * itself is covered by test/e2e/browser.test.ts in Chromium.
 */
import vm from 'node:vm';
import { buildClientUmd, type ClientBuild } from '../../lib/client/build';
import { isIOS, urlToSign, withoutHash } from '../../lib/client/url';

/** Budget for the minified + gzipped client; raise it deliberately, not by accident. */
const GZIP_BUDGET_BYTES = 4096;

let minified: ClientBuild;

beforeAll(async () => {
  minified = await buildClientUmd({ minify: true });
});

function run(code: string, sandbox: Record<string, unknown>): Record<string, any> {
  vm.runInNewContext(code, sandbox);
  return sandbox;
}

describe('client UMD build', () => {
  it('defines window.WechatJSSDK when loaded as a plain script', () => {
    const window: Record<string, any> = {};
    window.window = window;
    // A classic script's globalThis is the window.
    const context = vm.createContext(window);
    vm.runInContext(minified.code, context);
    const Client = window.WechatJSSDK;
    expect(typeof Client).toBe('function');
    const client = new Client({ signatureUrl: '/wechat/signature' });
    expect(client.sdkUrl).toBe('https://res.wx.qq.com/open/js/jweixin-1.6.0.js');
    expect(client.config.jsApiList).toEqual([
      'updateAppMessageShareData',
      'updateTimelineShareData',
      'onMenuShareTimeline',
      'onMenuShareAppMessage',
      'onMenuShareQQ',
      'onMenuShareWeibo',
      'onMenuShareQZone',
    ]);
    expect(client.config.openTagList).toEqual(['wx-open-subscribe', 'wx-open-audio']);
    // No stray globals besides the one we expose.
    expect(Object.keys(window).sort()).toEqual(['WechatJSSDK', 'window']);
  });

  it('exports the class through module.exports, with .default and .WechatJSSDK for ESM-style imports', () => {
    const module = { exports: {} as any };
    run(minified.code, { module, exports: module.exports });
    const Client = module.exports;
    expect(typeof Client).toBe('function');
    expect(Client.default).toBe(Client);
    expect(Client.WechatJSSDK).toBe(Client);
    const client = new Client({
      customUrl: 'https://cdn.example.com/jweixin.js',
      jsApiList: ['scanQRCode'],
      debug: true,
    });
    expect(client.sdkUrl).toBe('https://cdn.example.com/jweixin.js');
    expect(client.config.jsApiList).toEqual(['scanQRCode']);
    expect(client.debug).toBe(true);
  });

  it('registers with an AMD loader', () => {
    let factory: (() => unknown) | undefined;
    const define = Object.assign(
      (deps: string[], f: () => unknown) => {
        expect(deps).toEqual([]);
        factory = f;
      },
      { amd: {} },
    );
    run(minified.code, { define });
    expect(typeof (factory!() as any).prototype.signSignature).toBe('function');
  });

  it(`stays under ${GZIP_BUDGET_BYTES} bytes minified and gzipped`, () => {
    expect(minified.gzipBytes).toBeLessThan(GZIP_BUDGET_BYTES);
    expect(minified.bytes).toBeGreaterThan(1000);
  });
});

describe('which URL the client signs', () => {
  it('recognises iOS WeChat, including iPadOS that reports a Mac with touch', () => {
    expect(isIOS('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.47', 5)).toBe(true);
    expect(isIOS('Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) MicroMessenger/8.0.40', 5)).toBe(true);
    expect(isIOS('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 MicroMessenger/8.0', 5)).toBe(
      true,
    );
    expect(isIOS('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605', 0)).toBe(false);
    expect(isIOS('Mozilla/5.0 (Linux; Android 13; Pixel 7) XWEB/1160065 MicroMessenger/8.0.47', 5)).toBe(false);
  });

  it('drops the #hash, and honours the useLandingUrl override', () => {
    expect(withoutHash('https://a.example/p?x=1#/route?y=2')).toBe('https://a.example/p?x=1');
    expect(withoutHash('https://a.example/p')).toBe('https://a.example/p');
    // In Node there is no location: the landing URL given is what is signed, without its hash.
    expect(urlToSign({ useLandingUrl: true, landingUrl: 'https://a.example/start?from=menu#top' })).toBe(
      'https://a.example/start?from=menu',
    );
  });
});
