/** Small hashing helpers shared by the features. Nonces come from `crypto`, never Math.random. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// Refilled in blocks: one randomBytes call per 256 nonces keeps signing fast without weakening the source.
let pool = Buffer.alloc(0);
let offset = 0;

/** A random string of [A-Za-z0-9] (WeChat limits nonceStr to 32 characters). */
export function nonceStr(length = 16): string {
  let out = '';
  while (out.length < length) {
    if (offset >= pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const byte = pool[offset++];
    // 248 = 4 * 62: dropping the rest keeps every character equally likely.
    if (byte < 248) out += NONCE_ALPHABET[byte % 62];
  }
  return out;
}

/** Constant-time comparison of two strings (signature checks). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
