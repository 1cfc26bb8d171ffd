/** Small hashing helpers shared by the features. Nonces come from `crypto`, never Math.random. */
import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * One-shot hashing (Node >= 20.12) costs about half of createHash().update().digest(), which allocates a Hash
 * object per call; signing a new page is mostly this sha1. Older Node 20 releases fall back to createHash.
 */
const oneShotHash = typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

export function sha1(text: string): string {
  // Strings are hashed as UTF-8 by both.
  return oneShotHash ? oneShotHash('sha1', text, 'hex') : createHash('sha1').update(text, 'utf8').digest('hex');
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// Refilled in blocks: one randomBytes call per 256 nonces keeps signing fast without weakening the source.
let pool = Buffer.alloc(0);
let offset = 0;
// Character codes are collected here and turned into one flat string: appending char by char builds a chain of
// string pieces, which every signature kept in the cache would carry into the old generation.
const codes: number[] = [];

/** A random string of [A-Za-z0-9] (WeChat limits nonceStr to 32 characters). */
export function nonceStr(length = 16): string {
  let n = 0;
  while (n < length) {
    if (offset >= pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const byte = pool[offset++];
    // 248 = 4 * 62: dropping the rest keeps every character equally likely.
    if (byte < 248) codes[n++] = NONCE_ALPHABET.charCodeAt(byte % 62);
  }
  codes.length = n;
  if (n <= 4096) return String.fromCharCode.apply(null, codes);
  // Very long strings: stay below the engine's limit on the number of call arguments.
  let out = '';
  for (let i = 0; i < n; i += 4096) out += String.fromCharCode.apply(null, codes.slice(i, i + 4096));
  return out;
}

/** Constant-time comparison of two strings (signature checks). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
