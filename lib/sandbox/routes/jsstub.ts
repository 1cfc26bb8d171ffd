/**
 * A stand-in for WeChat's jweixin script, so pages can be tested in any browser.
 *
 * `GET /jweixin.js` (also `/open/js/jweixin-1.6.0.js`) defines `window.wx`. Its `wx.config` sends the page's
 * config and the URL WeChat would check to `POST /__sandbox/jsapi/verify`, which recomputes the signature with the
 * app's live jsapi_tickets and answers like WeChat; the stub then calls `wx.ready` or `wx.error`
 * (`{ errMsg: 'config:invalid signature' }`). The URL checked follows the platform rule: the landing URL on iOS
 * (detected from the user agent, as WeChat's own client differs), the current URL elsewhere, never the #hash.
 *
 * Share calls (`updateAppMessageShareData`, `onMenuShare*`, ...) are recorded through `POST /__sandbox/jsapi/share`
 * and readable as `sandbox.shares` or `GET /__sandbox/jsapi/shares`; verifications likewise
 * (`sandbox.jsapiVerifications`, `GET /__sandbox/jsapi/verifications`).
 *
 * One simplification: each `wx.config` starts a new verification, and `ready`/`error` registered after it wait for
 * that one. (Real jweixin answers a later `wx.ready` at once once any config has succeeded.)
 */
import { safeEqual } from '../../crypto';
import { signJsapiTicket } from '../../jssdk/signature';
import { ok, type SandboxCore, type SandboxRequest, type SandboxResponse } from '../core';

/** Most records kept per list; the oldest go first (a long-running demo must not grow without bound). */
const MAX_RECORDS = 1000;

export interface JsapiVerification {
  appId: string;
  /** The URL WeChat would check (landing URL on iOS, current URL elsewhere, no #hash). */
  url: string;
  /** The page's current URL (for reading the log). */
  pageUrl: string;
  platform: 'ios' | 'other';
  ok: boolean;
  errMsg: string;
  jsApiList: string[];
  at: number;
}

export interface JsapiShare {
  /** The API called, e.g. `updateAppMessageShareData`. */
  api: string;
  appId: string;
  pageUrl: string;
  title?: string;
  desc?: string;
  link?: string;
  imgUrl?: string;
  /** false when the call was refused (config not verified, or the API missing from jsApiList). */
  ok: boolean;
  errMsg: string;
  at: number;
}

export class JsStubState {
  readonly verifications: JsapiVerification[] = [];
  readonly shares: JsapiShare[] = [];

  constructor(private readonly core: SandboxCore & { liveTickets(appId: string, type?: 'jsapi'): string[] }) {}

  /** WeChat's verdict on a `wx.config`: the signature must match a live jsapi_ticket and the URL. */
  verify(input: Record<string, unknown>): JsapiVerification {
    const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
    const appId = str(input.appId);
    const url = str(input.url).split('#')[0];
    const record: JsapiVerification = {
      appId,
      url,
      pageUrl: str(input.pageUrl) || url,
      platform: input.platform === 'ios' ? 'ios' : 'other',
      ok: false,
      errMsg: 'config:invalid signature',
      jsApiList: Array.isArray(input.jsApiList) ? input.jsApiList.map(String) : [],
      at: this.core.now(),
    };
    const timestamp = str(input.timestamp);
    const nonceStr = str(input.nonceStr);
    const signature = str(input.signature);
    if (!this.core.apps.has(appId)) record.errMsg = 'config:invalid appid';
    else if (!url || !/^https?:\/\//.test(url)) record.errMsg = 'config:invalid url domain';
    else if (timestamp && nonceStr && signature) {
      const valid = this.core
        .liveTickets(appId, 'jsapi')
        .some((ticket) => safeEqual(signJsapiTicket({ ticket, nonceStr, timestamp, url }), signature));
      if (valid) {
        record.ok = true;
        record.errMsg = 'config:ok';
      }
    }
    push(this.verifications, record);
    return record;
  }

  recordShare(input: Record<string, unknown>): JsapiShare {
    const opt = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const record: JsapiShare = {
      api: String(input.api ?? ''),
      appId: String(input.appId ?? ''),
      pageUrl: String(input.pageUrl ?? ''),
      title: opt(input.title),
      desc: opt(input.desc),
      link: opt(input.link),
      imgUrl: opt(input.imgUrl),
      ok: input.ok === true,
      errMsg: String(input.errMsg ?? ''),
      at: this.core.now(),
    };
    push(this.shares, record);
    return record;
  }

  clear(): void {
    this.verifications.length = 0;
    this.shares.length = 0;
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_RECORDS) list.splice(0, list.length - MAX_RECORDS);
}

// Any page may load the stub and call the sandbox, like any page may load WeChat's script.
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '600',
};

function withCors(response: SandboxResponse): SandboxResponse {
  return { ...response, headers: { ...CORS, ...response.headers } };
}

/** POST routes also answer the CORS preflight. */
function corsPost(handler: (req: SandboxRequest) => SandboxResponse) {
  return (req: SandboxRequest): SandboxResponse => {
    if (req.method === 'OPTIONS') return { status: 204, headers: CORS, body: '' };
    if (req.method !== 'POST') return withCors({ status: 405, json: { errMsg: 'use POST' } });
    return withCors(handler(req));
  };
}

export function jsStubRoutes(core: SandboxCore, state: JsStubState): void {
  const script = (): SandboxResponse => ({
    headers: { ...CORS, 'Content-Type': 'application/javascript; charset=utf-8', 'Cache-Control': 'no-cache' },
    body: STUB_SOURCE.replace('__SANDBOX_URL__', JSON.stringify(core.url)),
  });
  core.route('GET', '/jweixin.js', script);
  core.route('GET', '/open/js/jweixin-1.6.0.js', script);
  core.route(
    'ALL',
    '/__sandbox/jsapi/verify',
    corsPost(({ json }) => ok({ ...state.verify(json ?? {}) })),
  );
  core.route(
    'ALL',
    '/__sandbox/jsapi/share',
    corsPost(({ json }) => ok({ ...state.recordShare(json ?? {}) })),
  );
  core.route('GET', '/__sandbox/jsapi/shares', () => withCors(ok({ shares: state.shares })));
  core.route('GET', '/__sandbox/jsapi/verifications', () => withCors(ok({ verifications: state.verifications })));
}

/**
 * The browser script (ES5, no dependencies). The sandbox's address comes from the script's own src, so it works
 * whatever host name the page used; the server's address is the fallback.
 */
const STUB_SOURCE = `/* WeChat JS-SDK stand-in served by the wechat-jssdk-ts sandbox. Not WeChat's code. */
(function () {
  'use strict';
  var current = document.currentScript && document.currentScript.src;
  var SANDBOX = current ? current.replace(/\\/(jweixin\\.js|open\\/js\\/jweixin-1\\.6\\.0\\.js)(\\?.*)?$/, '') : __SANDBOX_URL__;
  function noHash(u) { return String(u).split('#')[0]; }
  var landing = location.href;
  try {
    var nav = performance.getEntriesByType('navigation')[0];
    if (nav && /^https?:/.test(nav.name)) landing = nav.name;
  } catch (e) { /* old browsers: the URL at script load */ }
  landing = noHash(landing);
  var ua = navigator.userAgent;
  var ios = /\\b(iPhone|iPad|iPod)\\b/i.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);

  var state = 0; // 0 pending or never configured, 1 ready, -1 failed
  var data = null;
  var config = null;
  var readyQueue = [];
  var errorHandler = null;
  var generation = 0;

  function post(path, body) {
    return fetch(SANDBOX + path, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); });
  }
  function debugAlert(msg) { if (config && config.debug) { try { alert(msg); } catch (e) {} } }

  function verdict(gen, res) {
    if (gen !== generation) return; // a newer wx.config replaced this one
    if (res && res.ok) {
      state = 1; data = res;
      debugAlert(JSON.stringify({ errMsg: 'config:ok' }));
      var queue = readyQueue; readyQueue = [];
      for (var i = 0; i < queue.length; i++) queue[i]();
    } else {
      state = -1;
      data = { errMsg: (res && res.errMsg) || 'config:fail' };
      debugAlert(JSON.stringify(data));
      readyQueue = [];
      if (errorHandler) errorHandler(data);
    }
  }

  function allowed(api) {
    return state === 1 && config && config.jsApiList && config.jsApiList.indexOf(api) >= 0;
  }
  function finish(api, opts, okResult) {
    opts = opts || {};
    var ok = allowed(api);
    var res = ok ? okResult || { errMsg: api + ':ok' } : { errMsg: api + ':permission denied' };
    setTimeout(function () {
      if (ok && typeof opts.success === 'function') opts.success(res);
      if (!ok && typeof opts.fail === 'function') opts.fail(res);
      if (typeof opts.complete === 'function') opts.complete(res);
    }, 0);
    return { ok: ok, res: res };
  }
  function share(api) {
    return function (opts) {
      opts = opts || {};
      var r = finish(api, opts);
      post('/__sandbox/jsapi/share', {
        api: api, appId: config ? config.appId : '', pageUrl: location.href,
        title: opts.title, desc: opts.desc, link: opts.link, imgUrl: opts.imgUrl,
        ok: r.ok, errMsg: r.res.errMsg
      }).catch(function () {});
    };
  }
  function simple(api, result) {
    return function (opts) { finish(api, opts, result ? result(api) : undefined); };
  }

  var wx = {
    __sandbox: true,
    config: function (c) {
      config = c || {};
      state = 0; data = null; readyQueue = [];
      var gen = ++generation;
      post('/__sandbox/jsapi/verify', {
        appId: config.appId, timestamp: config.timestamp, nonceStr: config.nonceStr, signature: config.signature,
        jsApiList: config.jsApiList || [], url: ios ? landing : noHash(location.href), pageUrl: location.href,
        platform: ios ? 'ios' : 'other'
      }).then(function (res) { verdict(gen, res); }, function () {
        verdict(gen, { ok: false, errMsg: 'config:fail, the sandbox did not answer' });
      });
    },
    ready: function (fn) { if (state === 1) fn(); else readyQueue.push(fn); },
    error: function (fn) { if (state === -1) fn(data); else errorHandler = fn; },
    checkJsApi: function (opts) {
      opts = opts || {};
      var result = {};
      var list = opts.jsApiList || [];
      for (var i = 0; i < list.length; i++) result[list[i]] = typeof wx[list[i]] === 'function';
      setTimeout(function () {
        var res = { checkResult: result, errMsg: 'checkJsApi:ok' };
        if (typeof opts.success === 'function') opts.success(res);
        if (typeof opts.complete === 'function') opts.complete(res);
      }, 0);
    },
    updateAppMessageShareData: share('updateAppMessageShareData'),
    updateTimelineShareData: share('updateTimelineShareData'),
    onMenuShareAppMessage: share('onMenuShareAppMessage'),
    onMenuShareTimeline: share('onMenuShareTimeline'),
    onMenuShareQQ: share('onMenuShareQQ'),
    onMenuShareWeibo: share('onMenuShareWeibo'),
    onMenuShareQZone: share('onMenuShareQZone'),
    hideMenuItems: simple('hideMenuItems'),
    showMenuItems: simple('showMenuItems'),
    hideAllNonBaseMenuItem: simple('hideAllNonBaseMenuItem'),
    showAllNonBaseMenuItem: simple('showAllNonBaseMenuItem'),
    hideOptionMenu: simple('hideOptionMenu'),
    showOptionMenu: simple('showOptionMenu'),
    closeWindow: simple('closeWindow'),
    getNetworkType: simple('getNetworkType', function (api) { return { errMsg: api + ':ok', networkType: 'wifi' }; }),
    getLocation: simple('getLocation', function (api) {
      return { errMsg: api + ':ok', latitude: 22.5431, longitude: 114.0579, speed: 0, accuracy: 30 };
    }),
    openLocation: simple('openLocation'),
    scanQRCode: simple('scanQRCode', function (api) { return { errMsg: api + ':ok', resultStr: 'sandbox-qr' }; }),
    chooseImage: simple('chooseImage', function (api) { return { errMsg: api + ':ok', localIds: [] }; }),
    previewImage: simple('previewImage'),
    chooseWXPay: simple('chooseWXPay'),
    openAddress: simple('openAddress'),
    addCard: simple('addCard', function (api) { return { errMsg: api + ':ok', cardList: [] }; }),
    chooseCard: simple('chooseCard', function (api) { return { errMsg: api + ':ok', cardList: '[]' }; }),
    openCard: simple('openCard'),
    miniProgram: {
      getEnv: function (cb) { if (typeof cb === 'function') cb({ miniprogram: false }); },
      navigateTo: function () {}, navigateBack: function () {}, switchTab: function () {},
      reLaunch: function () {}, redirectTo: function () {}, postMessage: function () {}
    }
  };
  window.wx = window.jWeixin = wx;
})();
`;
