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
