/**
 * Pure mini-program crypto: open-data decryption (AES-128-CBC with the user's session_key) and the rawData
 * signature (sha1 of rawData + session_key). No I/O; `MiniProgram` adds the store and HTTP around these.
 *
 * Errors never contain the key, the iv or the data: they say which input is wrong and what to do.
 */
import { createDecipheriv } from 'node:crypto';
import { DecryptError, WechatError } from '../errors';
import { safeEqual, sha1 } from '../crypto';

/** AES-128: the session_key and the iv are 16 bytes each; ciphertext is whole 16-byte blocks. */
export const AES_KEY_BYTES = 16;
export const AES_BLOCK_BYTES = 16;

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** What WeChat puts in every decrypted payload: the mini program it was encrypted for, and when (seconds). */
export interface Watermark {
  appid: string;
  timestamp: number;
}

export type DecryptedData = Record<string, unknown> & { watermark: Watermark };

export interface DecryptInput {
  encryptedData: string;
  iv: string;
  /** The user's session_key from jscode2session (base64, 16 bytes). */
  sessionKey: string;
  /** The mini program's appId; the payload's watermark must name it. */
  appId: string;
}

function decodeBase64(name: string, value: unknown, exactBytes?: number): Buffer {
  if (typeof value !== 'string' || value === '') {
    throw new DecryptError('bad_input', `${name} must be a non-empty base64 string`);
  }
  if (/\s/.test(value)) {
    // The classic bug: encryptedData/iv sent in a query string or form without encoding, so '+' arrived as ' '.
    throw new DecryptError(
      'bad_input',
      `${name} contains whitespace: a '+' was probably turned into ' ' by URL or form decoding; ` +
        'send it in a JSON body or encodeURIComponent() it on the client',
    );
  }
  if (!BASE64_RE.test(value)) throw new DecryptError('bad_input', `${name} is not base64`);
  const bytes = Buffer.from(value, 'base64');
  if (exactBytes !== undefined && bytes.length !== exactBytes) {
    throw new DecryptError('bad_input', `${name} must decode to ${exactBytes} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/**
 * Decrypt mini-program open data (wx.getUserInfo, wx.getWeRunData, share info...). A key that does not fit the
 * data shows up as bad PKCS#7 padding or a payload that is not JSON: reported as `stale_session_key`, because the
 * usual cause is a wx.login between getting the session_key and producing the data.
 */
export function decryptMiniProgramData<T extends DecryptedData = DecryptedData>(input: DecryptInput): T {
  const key = decodeBase64('sessionKey', input.sessionKey, AES_KEY_BYTES);
  const iv = decodeBase64('iv', input.iv, AES_BLOCK_BYTES);
  const data = decodeBase64('encryptedData', input.encryptedData);
  if (data.length % AES_BLOCK_BYTES !== 0) {
    throw new DecryptError(
      'bad_input',
      `encryptedData is ${data.length} bytes, not whole ${AES_BLOCK_BYTES}-byte AES blocks: it was truncated or is not WeChat's encryptedData`,
    );
  }
  if (typeof input.appId !== 'string' || input.appId === '') {
    throw new DecryptError('bad_input', 'appId (the mini program the data must belong to) is required');
  }

  let payload: unknown;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    decipher.setAutoPadding(true); // PKCS#7; a wrong key almost always fails here
    const text = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    payload = JSON.parse(text);
  } catch {
    // The cause (an OpenSSL or JSON error) says nothing useful and must not leak plaintext fragments.
    throw new DecryptError(
      'stale_session_key',
      'decrypting the mini-program data failed (bad padding or not JSON): the session_key is probably stale. ' +
        'Every wx.login issues a new session_key; call wx.login again, exchange the new code with getSession(code), ' +
        'then get the encrypted data again and decrypt it with that session',
    );
  }
  const watermark = (payload as { watermark?: Partial<Watermark> } | null)?.watermark;
  if (typeof payload !== 'object' || payload === null || !watermark || typeof watermark.appid !== 'string') {
    throw new DecryptError(
      'watermark_mismatch',
      'the decrypted data has no watermark.appid; it is not WeChat open data',
    );
  }
  if (watermark.appid !== input.appId) {
    throw new DecryptError(
      'watermark_mismatch',
      `the data was encrypted for appId ${watermark.appid} (watermark), not for this mini program ${input.appId}`,
    );
  }
  return payload as T;
}

function requireRawData(rawData: unknown): string {
  if (typeof rawData === 'string') return rawData;
  throw new WechatError(
    rawData !== null && typeof rawData === 'object'
      ? 'rawData must be the exact string the mini program received (res.rawData), not an object: ' +
          're-serialising changes key order, spacing or escaping and so the signature'
      : 'rawData must be the string the mini program received (res.rawData)',
    'BAD_RAW_DATA',
  );
}

function requireSessionKey(sessionKey: unknown): string {
  if (typeof sessionKey !== 'string' || sessionKey === '') {
    throw new WechatError('sessionKey must be the session_key string from getSession()', 'BAD_SESSION_KEY');
  }
  return sessionKey;
}

/** sha1(rawData + session_key): the `signature` wx.getUserInfo returns next to rawData. */
export function miniProgramSignature(rawData: string, sessionKey: string): string {
  return sha1(requireRawData(rawData) + requireSessionKey(sessionKey));
}

/** Constant-time check of the client's `signature` for `rawData`. */
export function verifyMiniProgramSignature(rawData: string, signature: string, sessionKey: string): boolean {
  const expected = miniProgramSignature(rawData, sessionKey);
  return typeof signature === 'string' && safeEqual(expected, signature.toLowerCase());
}
