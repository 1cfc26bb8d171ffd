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
// The shared stores load their drivers (mongoose, redis, ioredis) only when they open a connection.
export { MongoStore, type MongoStoreOptions, type MongooseConnectionLike } from './store/MongoStore';
export { RedisStore, type RedisStoreOptions } from './store/RedisStore';
export type { RedisClientLike, NodeRedisLike, IORedisLike } from './store/redisClient';
export { KeyValueStore, type KeyValueStoreOptions, type KeyValueLike } from './store/KeyValueStore';
export type { SharedStoreOptions } from './store/SharedStore';
export type * from './store/types';
export { JSSDK, type ClientSignature } from './jssdk/JSSDK';
export { signJsapiTicket, type JsapiSignInput } from './jssdk/signature';
export { normalizeUrl, hostAllowed } from './jssdk/url';
export { OAuth, WebsiteLogin, type OAuthScope, type OAuthFeatureOptions } from './oauth/OAuth';
export { OAuthClient, type OAuthUserInfo, type UserInfoLang } from './oauth/client';
export { StateSigner, type CreateStateOptions, type VerifiedState } from './oauth/state';
export {
  MiniProgram,
  type MiniProgramConfig,
  type MiniProgramOptions,
  type MiniProgramSession,
  type PhoneInfo,
} from './miniprogram/MiniProgram';
export {
  decryptMiniProgramData,
  miniProgramSignature,
  verifyMiniProgramSignature,
  type DecryptInput,
  type DecryptedData,
  type Watermark,
} from './miniprogram/crypto';
export { DecryptError, type DecryptFailure } from './errors';
export {
  Card,
  type CardExtOptions,
  type CardSignOptions,
  type ChooseCardSignature,
  type CardTicket,
} from './card/Card';
export { cardExtSignature, cardSignature, type CardExtSignInput, type CardSignInput } from './card/signature';
export { CODE_TYPE, CARD_TYPE, type CodeType, type CardType } from './card/constants';
export * from './payment';
export { WechatPayError, type WechatPayErrorKind } from './errors';
export { Credential, withCredential, REFRESH_AHEAD_MS, HARD_EXPIRY_MARGIN_MS } from './credentials/Credential';
export type { TokenSource, ExternalToken } from './credentials/sources';
export { HttpClient, type HttpClientOptions } from './http/HttpClient';
export { redact } from './redact';

import { Wechat } from './Wechat';
export default Wechat;
