/**
 * One error family for the whole SDK. Every failure a caller sees is one of these classes, never a raw WeChat
 * JSON body, so `instanceof WechatError` catches everything we throw and `err.kind` tells what to do next.
 *
 * No message or property may carry a secret (appSecret, access_token, ticket, OAuth code, refresh_token,
 * session_key, payment key). Messages are built from errcodes, paths and appIds only; anything that came from
 * WeChat's errmsg goes through `redact()` first because WeChat sometimes echoes request values back.
 */
import { redact } from './redact';

export class WechatError extends Error {
  /** Stable machine-readable code, e.g. `BAD_URL`, `NO_CODE`, `STORE_FAILED`. */
  readonly code: string;

  constructor(message: string, code = 'WECHAT_ERROR', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Thrown synchronously at construction when an option is missing or wrong; the message names the option. */
export class ConfigError extends WechatError {
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid option "${option}": ${message}`, 'CONFIG');
    this.option = option;
  }
}

/** A store could not read or write. The SDK keeps working from memory where it can and reports these. */
export class StoreError extends WechatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'STORE_FAILED', options);
  }
}

/** Timeouts, refused connections, HTTP 5xx and bodies that are not JSON: WeChat (or the network) did not answer. */
export class WechatTransportError extends WechatError {
  readonly path: string;
  readonly status?: number;

  constructor(message: string, path: string, status?: number, options?: { cause?: unknown }) {
    super(message, 'TRANSPORT', options);
    this.path = path;
    this.status = status;
  }
}

/** What an errcode means for the caller; `other` for codes we have no special handling for. */
export type WechatApiErrorKind =
  | 'token_invalid'
  | 'quota'
  | 'ip_whitelist'
  | 'bad_credentials'
  | 'code_invalid'
  | 'code_used'
  | 'refresh_token_invalid'
  | 'scope'
  | 'system_busy'
  | 'other';

const KIND_BY_ERRCODE: Record<number, WechatApiErrorKind> = {
  40001: 'token_invalid',
  40014: 'token_invalid',
  42001: 'token_invalid',
  42007: 'token_invalid',
  45009: 'quota',
  45011: 'quota',
  40164: 'ip_whitelist',
  40013: 'bad_credentials',
  40125: 'bad_credentials',
  40029: 'code_invalid',
  40163: 'code_used',
  40030: 'refresh_token_invalid',
  42002: 'refresh_token_invalid',
  48001: 'scope',
  [-1]: 'system_busy',
};

/** What the caller should do, in plain words; appended to the message. */
const ADVICE: Partial<Record<WechatApiErrorKind, string>> = {
  token_invalid: 'the access_token was revoked or expired; the SDK refetches it once automatically',
  quota: 'the daily or per-minute API quota is used up; calls will fail until it resets',
  ip_whitelist: "add this server's public IP to the IP whitelist in the WeChat admin console",
  bad_credentials: 'check appId and appSecret',
  code_invalid: 'the OAuth code is unknown or expired (codes live 5 minutes); restart the login',
  code_used: 'the OAuth code was already used (each code works once); restart the login',
  refresh_token_invalid: 'the refresh_token is invalid or expired; send the user through authorization again',
  scope: 'this API needs the snsapi_userinfo scope; authorize the user with scope snsapi_userinfo',
  system_busy: 'WeChat was busy; try again',
};

export function errcodeKind(errcode: number): WechatApiErrorKind {
  return KIND_BY_ERRCODE[errcode] ?? 'other';
}

/** WeChat answered with `errcode != 0`. */
export class WechatApiError extends WechatError {
  readonly errcode: number;
  readonly errmsg: string;
  /** WeChat's request id, parsed from `rid: ...` in errmsg; quote it when asking WeChat support. */
  readonly rid?: string;
  readonly path: string;
  readonly appId?: string;
  readonly kind: WechatApiErrorKind;

  constructor(init: { errcode: number; errmsg?: string; path: string; appId?: string; kind?: WechatApiErrorKind }) {
    const errmsg = redact(String(init.errmsg ?? ''));
    const kind = init.kind ?? errcodeKind(init.errcode);
    const advice = ADVICE[kind];
    super(
      `WeChat ${init.path} failed with errcode ${init.errcode}${errmsg ? ` (${errmsg})` : ''}` +
        `${init.appId ? ` for appId ${init.appId}` : ''}${advice ? `: ${advice}` : ''}`,
      `ERRCODE_${init.errcode}`,
    );
    this.errcode = init.errcode;
    this.errmsg = errmsg;
    this.rid = /rid:\s*([\w-]+)/.exec(errmsg)?.[1];
    this.path = init.path;
    this.appId = init.appId;
    this.kind = kind;
  }

  get isTokenInvalid(): boolean {
    return this.kind === 'token_invalid';
  }
}

export function isTokenInvalidError(err: unknown): err is WechatApiError {
  return err instanceof WechatApiError && err.kind === 'token_invalid';
}

/** Why mini-program data could not be decrypted; `stale_session_key` is the common one (see DecryptError). */
export type DecryptFailure = 'bad_input' | 'no_session' | 'stale_session_key' | 'watermark_mismatch';

const DECRYPT_CODES: Record<DecryptFailure, string> = {
  bad_input: 'BAD_DECRYPT_INPUT',
  no_session: 'NO_SESSION',
  stale_session_key: 'DECRYPT_FAILED',
  watermark_mismatch: 'WATERMARK_MISMATCH',
};

/**
 * Mini-program data decryption failed. `reason === 'stale_session_key'` (code `DECRYPT_FAILED`) means the key did
 * not fit the data: every wx.login issues a new session_key, so the data was almost always encrypted for a newer
 * (or older) login than the key used. Never carries the key, the iv or the data.
 */
export class DecryptError extends WechatError {
  readonly reason: DecryptFailure;

  constructor(reason: DecryptFailure, message: string, options?: { cause?: unknown }) {
    super(message, DECRYPT_CODES[reason], options);
    this.reason = reason;
  }
}

/** What a WeChat Pay failure (v2 or v3) means for the caller. */
export type WechatPayErrorKind =
  /** WeChat Pay rejected our signature: wrong paymentKey (v2), or private key / certificateSerialNo (v3). */
  | 'sign_error'
  /** A response or notification failed OUR verification (forged, altered, stale, unknown key): do not act on it. */
  | 'untrusted'
  | 'order_paid'
  | 'order_closed'
  | 'not_found'
  | 'not_enough'
  | 'param'
  | 'frequency'
  | 'no_auth'
  | 'system'
  | 'other';

const PAY_KIND_BY_CODE: Record<string, WechatPayErrorKind> = {
  SIGNERROR: 'sign_error',
  SIGN_ERROR: 'sign_error',
  ORDERPAID: 'order_paid',
  ORDER_PAID: 'order_paid',
  ORDERCLOSED: 'order_closed',
  ORDER_CLOSED: 'order_closed',
  ORDERNOTEXIST: 'not_found',
  ORDER_NOT_EXIST: 'not_found',
  REFUNDNOTEXIST: 'not_found',
  RESOURCE_NOT_EXISTS: 'not_found',
  NOTENOUGH: 'not_enough',
  NOT_ENOUGH: 'not_enough',
  PARAM_ERROR: 'param',
  INVALID_REQUEST: 'param',
  LACK_PARAMS: 'param',
  XML_FORMAT_ERROR: 'param',
  OUT_TRADE_NO_USED: 'param',
  FREQUENCY_LIMITED: 'frequency',
  FREQUENCY_LIMIT_EXCEED: 'frequency',
  NOAUTH: 'no_auth',
  NO_AUTH: 'no_auth',
  APPID_MCHID_NOT_MATCH: 'no_auth',
  SYSTEMERROR: 'system',
  SYSTEM_ERROR: 'system',
  BANKERROR: 'system',
};

const PAY_ADVICE: Partial<Record<WechatPayErrorKind, string>> = {
  sign_error: 'check paymentKey (v2), or the private key and certificateSerialNo (v3)',
  untrusted: 'the message is not proven to come from WeChat Pay; do not act on it',
  order_paid: 'the order is already paid',
  order_closed: 'the order is closed; create a new out_trade_no',
  system: 'WeChat Pay was busy; query the order before retrying',
};

/**
 * WeChat Pay answered with a failure (v2 `return_code`/`result_code` FAIL with `err_code`; v3 HTTP 4xx with
 * `{ code, message }`), or a response/notification failed verification (`kind === 'untrusted'`).
 * `payCode` is WeChat Pay's code (`ORDERPAID`, `PARAM_ERROR`, ...). Never carries keys or signatures.
 */
export class WechatPayError extends WechatError {
  readonly version: 'v2' | 'v3';
  readonly payCode: string;
  readonly kind: WechatPayErrorKind;
  readonly path: string;
  /** v3: the HTTP status. */
  readonly status?: number;
  /** v3: the `detail` object of the error body (redacted). */
  readonly detail?: unknown;

  constructor(init: {
    version: 'v2' | 'v3';
    payCode: string;
    path: string;
    message?: string;
    kind?: WechatPayErrorKind;
    status?: number;
    detail?: unknown;
    cause?: unknown;
  }) {
    const kind = init.kind ?? PAY_KIND_BY_CODE[init.payCode] ?? 'other';
    const message = redact(String(init.message ?? ''));
    const advice = PAY_ADVICE[kind];
    super(
      `WeChat Pay ${init.path} failed: ${init.payCode}${message ? ` (${message})` : ''}${advice ? `: ${advice}` : ''}`,
      `PAY_${init.payCode}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.version = init.version;
    this.payCode = init.payCode;
    this.kind = kind;
    this.path = init.path;
    this.status = init.status;
    this.detail = init.detail === undefined ? undefined : JSON.parse(redact(JSON.stringify(init.detail)));
  }
}
