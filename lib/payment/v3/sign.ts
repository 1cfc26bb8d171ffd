/**
 * WeChat Pay API v3 signatures (SHA256 with RSA, PKCS#1 v1.5, base64):
 * - request: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` signed with the merchant's private key, sent as
 *   `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",timestamp="..",serial_no=".."`
 *   where URL is the path plus query string, and BODY the exact JSON sent ('' for GET);
 * - responses and callbacks: `TIMESTAMP\nNONCE\nBODY\n` from the Wechatpay-Timestamp / -Nonce headers and the raw
 *   body, signed by WeChat Pay (platform certificate key, or the WeChat Pay public key when Wechatpay-Serial starts
 *   with PUB_KEY_ID_), checked against Wechatpay-Signature. A timestamp outside a 5-minute window is refused so
 *   a captured message cannot be replayed later.
 * - JSAPI / mini-program pay parameters: `appId\ntimeStamp\nnonceStr\npackage\n` signed like a request.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { WechatPayError } from '../../errors';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** How far a response or callback timestamp may be from our clock. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;
export const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';

export type KeyInput = KeyObject | string | Buffer;

export function rsaSign(privateKey: KeyInput, message: string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey, 'base64');
}

/** False (never an exception) for a malformed signature or key mismatch. */
export function rsaVerify(publicKey: KeyInput, message: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export function requestSignString(
  method: string,
  url: string,
  timestamp: string | number,
  nonce: string,
  body: string,
) {
  return `${method.toUpperCase()}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

export function responseSignString(timestamp: string | number, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export interface AuthorizationInput {
  mchid: string;
  serialNo: string;
  privateKey: KeyInput;
  method: string;
  /** Path and query, e.g. `/v3/pay/transactions/id/42?mchid=1900000109`. */
  url: string;
  body: string;
  /** Seconds since the epoch. */
  timestamp: number | string;
  nonce: string;
}

export function buildAuthorization(input: AuthorizationInput): string {
  const signature = rsaSign(
    input.privateKey,
    requestSignString(input.method, input.url, input.timestamp, input.nonce, input.body),
  );
  return (
    `${AUTH_SCHEMA} mchid="${input.mchid}",nonce_str="${input.nonce}",signature="${signature}",` +
    `timestamp="${input.timestamp}",serial_no="${input.serialNo}"`
  );
}

export interface AuthorizationFields {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

/** The fields of an Authorization header, or undefined when it is not a complete WECHATPAY2 header. */
export function parseAuthorization(header: string | undefined): AuthorizationFields | undefined {
  if (!header?.startsWith(`${AUTH_SCHEMA} `)) return undefined;
  const fields: Record<string, string> = {};
  for (const match of header.slice(AUTH_SCHEMA.length + 1).matchAll(/(\w+)="([^"]*)"/g)) fields[match[1]] = match[2];
  const required = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;
  return required.every((k) => fields[k]) ? (fields as unknown as AuthorizationFields) : undefined;
}

/** What is needed to check a signed response or callback. */
export interface SignedMessage {
  timestamp?: string;
  nonce?: string;
  signature?: string;
  serial?: string;
  body: string;
}

/** Pick the Wechatpay-* headers from a header object with any casing (Node lower-cases, frameworks may not). */
export function signedMessageOf(
  headers: Record<string, string | string[] | undefined> | undefined,
  body: string,
): SignedMessage {
  const get = (name: string): string | undefined => {
    for (const [key, value] of Object.entries(headers ?? {})) {
      if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
    }
    return undefined;
  };
  return {
    timestamp: get('wechatpay-timestamp'),
    nonce: get('wechatpay-nonce'),
    signature: get('wechatpay-signature'),
    serial: get('wechatpay-serial'),
    body,
  };
}

function untrusted(what: string, reason: string, cause?: unknown): WechatPayError {
  return new WechatPayError({
    version: 'v3',
    payCode: 'UNTRUSTED',
    kind: 'untrusted',
    path: what,
    message: reason,
    cause,
  });
}

/**
 * Throw a WechatPayError (kind `untrusted`) unless `message` carries a fresh, valid WeChat Pay signature.
 * `resolveKey(serial)` finds the public key for Wechatpay-Serial (a platform certificate or the WeChat Pay
 * public key); an unknown serial is refused.
 */
export async function verifySignedMessage(
  message: SignedMessage,
  options: {
    what: string;
    now: number;
    resolveKey: (serial: string) => Promise<KeyInput | undefined>;
    windowMs?: number;
  },
): Promise<void> {
  const { timestamp, nonce, signature, serial } = message;
  if (!timestamp || !nonce || !signature || !serial) {
    throw untrusted(options.what, 'the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers are required');
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw untrusted(options.what, 'Wechatpay-Timestamp is not a number of seconds');
  const skew = Math.abs(options.now - Number(timestamp) * 1000);
  if (skew > (options.windowMs ?? SIGNATURE_WINDOW_MS)) {
    throw untrusted(
      options.what,
      `the signature timestamp is ${Math.round(skew / 1000)} s away from now (stale or replayed)`,
    );
  }
  let key: KeyInput | undefined;
  try {
    key = await options.resolveKey(serial);
  } catch (err) {
    throw untrusted(options.what, `no key for Wechatpay-Serial ${serial}: ${(err as Error).message}`, err);
  }
  if (!key) throw untrusted(options.what, `no platform certificate or public key with serial ${serial}`);
  if (!rsaVerify(key, responseSignString(timestamp, nonce, message.body), signature)) {
    throw untrusted(options.what, 'Wechatpay-Signature does not match the body (forged or altered)');
  }
}

/** The JSAPI / mini-program pay signature over `appId\ntimeStamp\nnonceStr\npackage\n`. */
export function jsapiPaySign(privateKey: KeyInput, appId: string, timeStamp: string, nonceStr: string, pkg: string) {
  return rsaSign(privateKey, `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`);
}
