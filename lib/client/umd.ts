/**
 * Entry of the UMD build (`dist/client.umd.js`): the class itself is the export, with the helpers attached to it,
 * so `window.WechatJSSDK`, `require('wechat-jssdk-ts/client')` and its `.default` / `.WechatJSSDK` are all the class.
 * The wrapper around the bundle is in umdWrapper.ts.
 */
import { WechatJSSDK } from './WechatJSSDK';
import { isIOS, landingUrl, urlToSign } from './url';

const exported = Object.assign(WechatJSSDK, { WechatJSSDK, default: WechatJSSDK, isIOS, landingUrl, urlToSign });

export default exported;
