export { Wechat, type WechatOptions, type CredentialEvent } from './Wechat';
export {
  WechatError,
  WechatApiError,
  WechatTransportError,
  ConfigError,
  StoreError,
  errcodeKind,
  isTokenInvalidError,
  type WechatApiErrorKind,
} from './errors';
export { Store, type StoreOptions } from './store/Store';
export { FileStore, type FileStoreOptions } from './store/FileStore';
export type * from './store/types';
export { JSSDK, type ClientSignature } from './jssdk/JSSDK';
export { signJsapiTicket, type JsapiSignInput } from './jssdk/signature';
export { normalizeUrl, hostAllowed } from './jssdk/url';
export { Credential, withCredential, REFRESH_AHEAD_MS, HARD_EXPIRY_MARGIN_MS } from './credentials/Credential';
export type { TokenSource, ExternalToken } from './credentials/sources';
export { HttpClient, type HttpClientOptions } from './http/HttpClient';
export { redact } from './redact';

import { Wechat } from './Wechat';
export default Wechat;
