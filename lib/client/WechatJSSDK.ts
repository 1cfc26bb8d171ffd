/**
 * The browser client: loads WeChat's jweixin script, signs the page with `wx.config`, and sets share contents.
 * Method and option names follow wechat-jssdk's client, so a page switches by changing the import. New here: the
 * client can fetch its own signature (`signatureUrl`) and re-sign a single-page app after route changes, signing
 * the URL WeChat actually checks (the landing URL on iOS, the current URL elsewhere).
 *
 * No dependencies: it runs as an ES module or as a plain <script> (`window.WechatJSSDK`, see umd.ts).
 */
import type {
  ShareInfo,
  SignConfig,
  SignaturePayload,
  WatchRoutesOptions,
  WechatJSSDKConfig,
  WxConfig,
  WxError,
  WxObject,
} from './types';
import { urlToSign } from './url';

export const DEFAULT_SCRIPT_URL = 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js';

/** The share APIs: the current ones (jweixin 1.4+) and the older onMenuShare* still used by old clients. */
export const DEFAULT_JS_API_LIST: readonly string[] = [
  'updateAppMessageShareData',
  'updateTimelineShareData',
  'onMenuShareTimeline',
  'onMenuShareAppMessage',
  'onMenuShareQQ',
  'onMenuShareWeibo',
  'onMenuShareQZone',
];

/** wechat-jssdk's default open tags, kept so that switching libraries changes nothing on the page. */
export const DEFAULT_OPEN_TAG_LIST: readonly string[] = ['wx-open-subscribe', 'wx-open-audio'];

/** Fired on window after history.pushState/replaceState, so several clients can watch one patched history. */
const LOCATION_EVENT = 'wechatjssdk:locationchange';

/** Scripts being loaded, by URL: two clients on one page load jweixin once. */
const scriptLoads = new Map<string, Promise<void>>();

type ResolvedConfig = WechatJSSDKConfig & { jsApiList: string[]; openTagList: string[] };

function globalWx(): WxObject | undefined {
  return typeof window === 'undefined' ? undefined : (window as unknown as { wx?: WxObject }).wx;
}

function hasSignature(config: SignConfig | undefined): boolean {
  return !!config && typeof config.signature === 'string' && config.signature !== '';
}

function isStringOrNumber(value: unknown): value is string | number {
  return (typeof value === 'string' && value !== '') || typeof value === 'number';
}

export class WechatJSSDK {
  /** The configuration, with the default API and tag lists filled in (wechat-jssdk's `config`). */
  readonly config: ResolvedConfig;
  /** The jweixin script URL. */
  readonly sdkUrl: string;
  readonly debug: boolean;
  /** WeChat's `wx` object once the script has loaded. */
  wx?: WxObject;
  /** The URL of the last successful `wx.config` (without the hash). */
  signedUrl?: string;
  /** What was last passed to `wx.config` (to show or log when WeChat refuses it). */
  lastConfig?: WxConfig;
  private signedOnce = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: WechatJSSDKConfig = {}) {
    const jsApiList = Array.isArray(config.jsApiList) && config.jsApiList.length > 0 ? config.jsApiList : undefined;
    const openTagList =
      Array.isArray(config.openTagList) && config.openTagList.length > 0 ? config.openTagList : undefined;
    this.config = {
      ...config,
      jsApiList: [...(jsApiList ?? DEFAULT_JS_API_LIST)],
      openTagList: [...(openTagList ?? DEFAULT_OPEN_TAG_LIST)],
    };
    this.sdkUrl = config.customUrl || DEFAULT_SCRIPT_URL;
    this.debug = !!config.debug;
  }

  /** Load the jweixin script (unless `window.wx` already exists) and sign the page. Resolves with this client. */
  async initialize(): Promise<this> {
    await this.loadScript();
    return this.signSignature();
  }

  /** Load the jweixin script once per page. */
  loadScript(): Promise<void> {
    if (globalWx()) return Promise.resolve();
    if (typeof document === 'undefined') return Promise.reject(new Error('WechatJSSDK runs in a browser page'));
    const url = this.sdkUrl;
    let loading = scriptLoads.get(url);
    if (!loading) {
      loading = new Promise<void>((resolve, reject) => {
        const script = document.createElement('script');
        script.async = true;
        script.src = url;
        script.onload = () => resolve();
        script.onerror = () => {
          scriptLoads.delete(url);
          reject(new Error(`could not load the WeChat JS-SDK script ${url}`));
        };
        (document.head || document.documentElement).appendChild(script);
      });
      scriptLoads.set(url, loading);
    }
    return loading.catch((err: unknown) => {
      this.warn((err as Error).message);
      throw err;
    });
  }

  /**
   * Call `wx.config` and wait for WeChat's verdict. Signature fields come from `newSignConfig`, else from
   * `signatureUrl` (fetched for the URL WeChat will check), else from the constructor config. `appId`, `debug`
   * and the API lists always come from the constructor config. Rejects with WeChat's `{ errMsg }` on failure.
   */
  signSignature(newSignConfig?: SignConfig): Promise<this> {
    return this.enqueue(() => this.sign(newSignConfig));
  }

  /** The URL WeChat checks the signature against right now (no #hash). */
  signUrl(): string {
    return urlToSign({ useLandingUrl: this.config.useLandingUrl, landingUrl: this.config.landingUrl });
  }

  /**
   * Call after a single-page route change (e.g. in your router's afterEach): signs again when the URL WeChat
   * checks has changed since the last signature (on Android; on iOS the landing URL stays valid). Resolves with
   * true when it signed again, false when the existing signature still holds.
   */
  routeChanged(): Promise<boolean> {
    return this.enqueue(async () => {
      if (this.signedUrl !== undefined && this.signedUrl === this.signUrl()) return false;
      await this.sign();
      return true;
    });
  }

  /**
   * Re-sign automatically after `history.pushState` / `replaceState` / back-forward navigation. Returns a function
   * that stops watching. `onSigned` runs after each route change once the signature is valid for the new route:
   * set the share contents for that route there.
   */
  watchRoutes(options: WatchRoutesOptions = {}): () => void {
    if (typeof window === 'undefined') return () => undefined;
    patchHistory();
    const onChange = () => {
      this.routeChanged().then(
        (resigned) => options.onSigned?.({ url: this.signedUrl ?? this.signUrl(), resigned }),
        (err: unknown) => (options.onError ? options.onError(err) : console.error('WechatJSSDK: re-sign failed', err)),
      );
    };
    window.addEventListener(LOCATION_EVENT, onChange);
    window.addEventListener('popstate', onChange);
    return () => {
      window.removeEventListener(LOCATION_EVENT, onChange);
      window.removeEventListener('popstate', onChange);
    };
  }

  /** Share to a chat: sets `updateAppMessageShareData` and the older `onMenuShareAppMessage` (when listed). */
  shareOnChat(info: ShareInfo): this {
    if (!info) return this;
    return this.callListed(['updateAppMessageShareData', 'onMenuShareAppMessage'], info);
  }

  /** Share to Moments: sets `updateTimelineShareData` and the older `onMenuShareTimeline` (when listed). */
  shareOnMoment(info: ShareInfo): this {
    if (!info) return this;
    return this.callListed(['updateTimelineShareData', 'onMenuShareTimeline'], info);
  }

  updateAppMessageShareData(info: ShareInfo): this {
    if (!info) return this;
    return this.callWechatApi('updateAppMessageShareData', info);
  }

  updateTimelineShareData(info: ShareInfo): this {
    if (!info) return this;
    return this.callWechatApi('updateTimelineShareData', info);
  }

  /** Call any `wx` API by name. It must be in `jsApiList`, otherwise WeChat refuses it; we warn instead. */
  callWechatApi(apiName: string, config?: unknown, callback?: unknown): this {
    if (!apiName) return this;
    if (!this.config.jsApiList.includes(apiName)) {
      this.warn(`the WeChat API ${apiName} is not in jsApiList; add it to the jsApiList option`);
      return this;
    }
    const wx = this.getOriginalWx();
    const api = wx?.[apiName];
    if (typeof api !== 'function') {
      this.warn(`the WeChat API ${apiName} does not exist${wx ? '' : ' (the jweixin script is not loaded)'}`);
      return this;
    }
    api.call(wx, config, callback);
    return this;
  }

  /** WeChat's own `wx` object. */
  getOriginalWx(): WxObject | undefined {
    return this.wx || globalWx();
  }

  /** Keep a reference to `window.wx` (wechat-jssdk's name). */
  setOriginWx(): this {
    if (!this.wx) this.wx = globalWx();
    return this;
  }

  // ---- internals ------------------------------------------------------------------------------------------------

  /** Signing runs one at a time: a route change during a signature waits for it instead of racing it. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sign(newSignConfig?: SignConfig): Promise<this> {
    const wx = globalWx();
    if (!wx) throw new Error('window.wx is not defined: load the jweixin script first (call initialize())');
    const url = this.signUrl();
    const fields = await this.signatureFields(url, newSignConfig);
    const appId = this.config.appId || fields.appId;
    if (!appId) throw new Error('appId is missing: pass it in the config or return it from signatureUrl');
    if (!this.config.appId) this.config.appId = appId;
    if (!isStringOrNumber(fields.timestamp) || !isStringOrNumber(fields.nonceStr) || !hasSignature(fields)) {
      throw new Error('timestamp, nonceStr and signature are required: pass them or set signatureUrl');
    }
    const signConfig: WxConfig = {
      debug: this.debug,
      appId,
      timestamp: fields.timestamp,
      nonceStr: String(fields.nonceStr),
      signature: String(fields.signature),
      jsApiList: [...this.config.jsApiList],
      openTagList: [...this.config.openTagList],
    };
    this.setOriginWx();
    this.lastConfig = signConfig;
    await new Promise<void>((resolve, reject) => {
      // The documented order: config first, then ready/error (handlers registered before config could be answered
      // with the previous config's verdict). WeChat may call ready after error; the first verdict wins.
      wx.config(signConfig);
      let settled = false;
      wx.error((err: WxError) => {
        if (settled) return;
        settled = true;
        this.warn(`wx.config failed: ${JSON.stringify(err)}`);
        reject(err);
      });
      wx.ready(() => {
        if (settled) return;
        settled = true;
        resolve();
      });
    });
    this.signedOnce = true;
    this.signedUrl = url;
    return this;
  }

  private async signatureFields(url: string, newSignConfig?: SignConfig): Promise<SignConfig> {
    if (hasSignature(newSignConfig)) return { ...this.config, ...newSignConfig };
    // A signature rendered into the page is used for the first config; later ones need a fresh one.
    const useConfig = hasSignature(this.config) && (!this.signedOnce || !this.config.signatureUrl);
    if (this.config.signatureUrl && !useConfig) return this.fetchSignature(url);
    return { ...this.config, ...newSignConfig };
  }

  /** GET `${signatureUrl}?url=<url>` → `{ appId, timestamp, nonceStr, signature }`. */
  async fetchSignature(url: string = this.signUrl()): Promise<SignaturePayload> {
    const base = this.config.signatureUrl;
    if (!base) throw new Error('signatureUrl is not set');
    const endpoint = `${base}${base.includes('?') ? '&' : '?'}url=${encodeURIComponent(url)}`;
    const response = await fetch(endpoint, {
      credentials: 'same-origin',
      ...this.config.signatureRequest,
      headers: { Accept: 'application/json', ...(this.config.signatureRequest?.headers as Record<string, string>) },
    });
    let body: any;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const reason = body && typeof body.message === 'string' ? body.message : response.statusText;
      throw new Error(`the signature request failed (HTTP ${response.status}): ${reason}`);
    }
    if (!body || !hasSignature(body) || !isStringOrNumber(body.timestamp) || !isStringOrNumber(body.nonceStr)) {
      throw new Error('the signature response must be JSON { appId, timestamp, nonceStr, signature }');
    }
    return body as SignaturePayload;
  }

  private callListed(apis: string[], info: ShareInfo): this {
    const wx = this.getOriginalWx();
    const usable = apis.filter((api) => this.config.jsApiList.includes(api) && typeof wx?.[api] === 'function');
    if (usable.length === 0) {
      this.warn(`none of ${apis.join(', ')} is available; check jsApiList and that the jweixin script is loaded`);
      return this;
    }
    for (const api of usable) this.callWechatApi(api, info);
    return this;
  }

  private warn(message: string): void {
    console.warn(`WechatJSSDK: ${message}`);
    // Inside WeChat there is no console to look at; debug mode shows problems the way wx.config's debug does.
    if (this.debug && typeof alert === 'function') alert(`WechatJSSDK: ${message}`);
  }
}

/**
 * Make pushState/replaceState observable. The wrappers stay installed (other code may have wrapped them after us,
 * so unwrapping could drop their wrappers); they only dispatch an event.
 */
let historyPatched = false;
function patchHistory(): void {
  if (historyPatched || typeof history === 'undefined') return;
  historyPatched = true;
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      window.dispatchEvent(new Event(LOCATION_EVENT));
      return result;
    };
  }
}

export default WechatJSSDK;
