/** Types of the browser client (`wechat-jssdk-ts/client`). No runtime code here. */

/** The subset of WeChat's `wx` object the client relies on; every other API is reached by name. */
export interface WxObject {
  config(config: WxConfig): void;
  ready(callback: () => void): void;
  error(callback: (err: WxError) => void): void;
  [api: string]: any;
}

/** What WeChat passes to `wx.error` (e.g. `{ errMsg: 'config:invalid signature' }`). */
export interface WxError {
  errMsg: string;
  [key: string]: unknown;
}

/** The object given to `wx.config`. */
export interface WxConfig {
  debug: boolean;
  appId: string;
  timestamp: string | number;
  nonceStr: string;
  signature: string;
  jsApiList: string[];
  openTagList: string[];
}

/** What the server's signature endpoint returns (the express/koa helpers return exactly this, plus `url`). */
export interface SignaturePayload {
  appId: string;
  timestamp: string | number;
  nonceStr: string;
  signature: string;
  /** The URL the server signed (without the #hash). */
  url?: string;
}

/** Signature fields for `signSignature(newSignConfig)`; anything missing is taken from the constructor config. */
export type SignConfig = Partial<SignaturePayload>;

export interface WechatJSSDKConfig extends SignConfig {
  /** Let WeChat alert every result (`wx.config({ debug: true })`), and alert client warnings. */
  debug?: boolean;
  /** APIs to ask permission for (default: the share APIs, new and old). */
  jsApiList?: string[];
  /** Open tags such as `wx-open-launch-weapp` (default: `wx-open-subscribe`, `wx-open-audio`, as wechat-jssdk). */
  openTagList?: string[];
  /** URL of WeChat's jweixin script (default `https://res.wx.qq.com/open/js/jweixin-1.6.0.js`). */
  customUrl?: string;
  /**
   * Your server's signature endpoint. The client requests `${signatureUrl}?url=<page URL without #hash>` and expects
   * `{ appId, timestamp, nonceStr, signature }`. When set, signatures passed in the config are not needed.
   */
  signatureUrl?: string;
  /** Extra options for the signature request (headers, credentials); `fetch`'s own defaults otherwise. */
  signatureRequest?: RequestInit;
  /**
   * Which URL WeChat checks the signature against. `undefined` (default): detect by user agent — on iOS WeChat
   * keeps the URL the page was first loaded with (the landing URL) for the whole single-page app, on Android it
   * uses the current URL. `true` forces the landing URL, `false` the current URL.
   */
  useLandingUrl?: boolean;
  /** The landing URL, if the page knows it better than the browser's navigation entry (e.g. server-rendered). */
  landingUrl?: string;
}

/** Share settings for `shareOnChat` / `shareOnMoment` (the fields WeChat's share APIs take). */
export interface ShareInfo {
  title?: string;
  desc?: string;
  link?: string;
  imgUrl?: string;
  type?: string;
  dataUrl?: string;
  success?: (res: { errMsg: string }) => void;
  fail?: (res: { errMsg: string }) => void;
  cancel?: (res: { errMsg: string }) => void;
  [key: string]: unknown;
}

export interface WatchRoutesOptions {
  /**
   * After each route change, once the signature is valid for the new route; `resigned` tells whether a new
   * `wx.config` was needed. Apply the share settings of the new route here.
   */
  onSigned?: (info: { url: string; resigned: boolean }) => void;
  /** When a re-sign fails. Without it the error is reported with `console.error`. */
  onError?: (err: unknown) => void;
}
