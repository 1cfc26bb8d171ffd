/**
 * WeChat Pay API v2 signatures (the "安全规范" of the v2 docs):
 *   1. keep the parameters whose value is not empty, except `sign` itself;
 *   2. sort them by name in ASCII order and join as `k1=v1&k2=v2`;
 *   3. append `&key=<merchant API key>`;
 *   4. MD5 of that string, or HMAC-SHA256 of it keyed with the API key; hex, upper case.
 * Pure functions: no I/O, no clock, so the published example is a unit test.
 */
import { createHash, createHmac } from 'node:crypto';
import { ConfigError } from '../../errors';
import { safeEqual } from '../../crypto';

export const SIGN_TYPE = { MD5: 'MD5', HMAC_SHA256: 'HMAC-SHA256' } as const;
export type SignType = (typeof SIGN_TYPE)[keyof typeof SIGN_TYPE];

export type PaymentParams = Record<string, unknown>;

/**
 * The values that are signed and sent, as text: empty values (undefined, null, '') dropped, numbers and booleans
 * stringified, objects (e.g. the `detail` of unifiedorder) as JSON. Signing and the XML body both use this, so
 * what is signed is exactly what is sent.
 */
export function normalizeParams(params: PaymentParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    out[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** `a=1&b=2&key=<key>`: the string that is hashed. It contains the key: never log it. */
export function paymentSignString(params: PaymentParams, key: string): string {
  const normalized = normalizeParams(params);
  const names = Object.keys(normalized)
    .filter((name) => name !== 'sign')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${names.map((name) => `${name}=${normalized[name]}`).join('&')}&key=${key}`;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw new ConfigError('paymentKey', 'the merchant API key (32 characters from the merchant platform) is required');
  }
}

/** The upper-case hex signature of `params` (the `sign` field is ignored). */
export function signPayment(params: PaymentParams, key: string, signType: SignType = SIGN_TYPE.MD5): string {
  checkKey(key);
  const text = paymentSignString(params, key);
  if (signType === SIGN_TYPE.HMAC_SHA256) {
    return createHmac('sha256', key).update(text, 'utf8').digest('hex').toUpperCase();
  }
  if (signType !== SIGN_TYPE.MD5) {
    throw new ConfigError('signType', `must be "MD5" or "HMAC-SHA256", got ${JSON.stringify(signType)}`);
  }
  return createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();
}

/**
 * True when `params.sign` is the signature of the other fields. The sign type is `signType` when given, else the
 * message's own `sign_type`, else MD5. A missing sign or an unknown sign type is false, never an exception.
 */
export function verifyPayment(params: PaymentParams, key: string, signType?: SignType): boolean {
  checkKey(key);
  const sign = params.sign;
  if (typeof sign !== 'string' || sign === '') return false;
  const type = signType ?? (params.sign_type as SignType | undefined) ?? SIGN_TYPE.MD5;
  if (type !== SIGN_TYPE.MD5 && type !== SIGN_TYPE.HMAC_SHA256) return false;
  return safeEqual(sign.toUpperCase(), signPayment(params, key, type));
}
