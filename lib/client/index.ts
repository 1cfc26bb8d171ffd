/**
 * `wechat-jssdk-ts/client`: the browser side of the JS-SDK (an ES module; `dist/client.umd.js` is the same code for
 * a plain <script> tag, exposing `window.WechatJSSDK`).
 *
 *   import WechatJSSDK from 'wechat-jssdk-ts/client';
 *   const wechat = new WechatJSSDK({ signatureUrl: '/wechat/signature' });
 *   await wechat.initialize();
 *   wechat.shareOnChat({ title: 'Hello', link: location.href, imgUrl: '/logo.png' });
 */
export { WechatJSSDK, DEFAULT_SCRIPT_URL, DEFAULT_JS_API_LIST, DEFAULT_OPEN_TAG_LIST } from './WechatJSSDK';
export { isIOS, landingUrl, urlToSign, withoutHash } from './url';
export type * from './types';

import { WechatJSSDK } from './WechatJSSDK';
export default WechatJSSDK;
