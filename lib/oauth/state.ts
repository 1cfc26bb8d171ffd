/**
 * CSRF-safe OAuth `state`. WeChat echoes `state` back to the callback untouched, so it is where we prove that the
 * callback belongs to a login this server started for this browser session (RFC 6749 §10.12). Without it an
 * attacker can make a victim's browser complete the attacker's login.
 *
 * A state is self-contained (no server storage needed across processes):
 *
 *   version(1) | expiresAt seconds(4) | nonce(8) | binding tag(8) | returnTo (UTF-8, optional) | HMAC(16)
 *
 * - the HMAC-SHA256 (truncated to 128 bits) covers everything before it, so nothing can be altered or forged;
 * - the binding tag is an HMAC of the caller's session id, so a state minted for one session fails for another;
 * - the expiry makes it short-lived (default 10 minutes, on the injected clock);
 * - the nonce makes every state unique, and lets this process refuse a second use (see `UsedStates`).
 *
 * WeChat only accepts `[A-Za-z0-9]`, at most 128 characters, so the bytes are written in base62 (base64url would
 * bring `-` and `_`, which WeChat rejects). That leaves room for a return path of up to 58 bytes.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { WechatError } from '../errors';
import { STATE_PATTERN } from './urls';

export const DEFAULT_STATE_TTL_MS = 10 * 60_000;
export const MAX_STATE_LENGTH = 128;
/** The longest returnTo (UTF-8 bytes) that fits: 37 fixed bytes + 58 = 95 bytes = 761 bits <= 128 base62 chars. */
export const MAX_RETURN_TO_BYTES = 58;
/** Most remembered used states per process; beyond it the oldest are forgotten first. */
export const MAX_USED_STATES = 100_000;

const VERSION = 1;
const NONCE_BYTES = 8;
const TAG_BYTES = 8;
const MAC_BYTES = 16;
const HEADER_BYTES = 1 + 4 + NONCE_BYTES + TAG_BYTES;
/** Fixed HKDF label: keys derived for states can never collide with keys derived for anything else. */
const KEY_LABEL = 'wechat-jssdk-ts/oauth-state/v1';

/**
 * The state key: HKDF-SHA256 of `stateSecret` (or the appSecret when none is given), salted with the appId.
 * Every server of one app derives the same key, so a login started on one node verifies on another.
 */
export function deriveStateKey(secret: string, appId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, appId, KEY_LABEL, 32));
}

// ---- base62 -------------------------------------------------------------------------------------------------

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** 62^8 < 2^53: eight base62 digits at a time keep the BigInt work small. */
const CHUNK = 62n ** 8n;

/** Bytes → base62. A leading 0x01 byte keeps leading zero bytes; the output never starts with '0'. */
export function base62Encode(bytes: Buffer): string {
  let n = BigInt(`0x01${bytes.toString('hex')}`);
  const chunks: string[] = [];
  while (n > 0n) {
    let part = Number(n % CHUNK);
    n /= CHUNK;
    let digits = '';
    for (let i = 0; i < 8 && (n > 0n || part > 0); i++) {
      digits = ALPHABET[part % 62] + digits;
      part = Math.floor(part / 62);
    }
    chunks.push(n > 0n ? digits.padStart(8, '0') : digits);
  }
  return chunks.reverse().join('');
}

export function base62Decode(text: string): Buffer | undefined {
  if (text.length === 0 || text[0] === '0') return undefined;
  let n = 0n;
  const head = text.length % 8 || 8;
  for (let start = 0, end = head; start < text.length; start = end, end += 8) {
    let part = 0;
    for (let i = start; i < end; i++) {
      const digit = ALPHABET.indexOf(text[i]);
      if (digit < 0) return undefined;
      part = part * 62 + digit;
    }
    n = n * (end - start === 8 ? CHUNK : 62n ** BigInt(end - start)) + BigInt(part);
  }
  let hex = n.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (!hex.startsWith('01')) return undefined;
  return Buffer.from(hex.slice(2), 'hex');
}

// ---- replay memory --------------------------------------------------------------------------------------------

/**
 * Nonces of states already verified in this process, each kept until its state expires (after that the expiry
 * check refuses it anyway). Bounded; expired entries are swept at most once per TTL. Across several processes a
 * replay is still limited by the expiry and by WeChat's one-time codes.
 */
class UsedStates {
  private readonly used = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    private readonly max: number,
    private readonly sweepEveryMs: number,
  ) {}

  has(nonce: string): boolean {
    return this.used.has(nonce);
  }

  add(nonce: string, expiresAt: number, now: number): void {
    if (now >= this.nextSweep) {
      for (const [key, until] of this.used) if (until <= now) this.used.delete(key);
      this.nextSweep = now + this.sweepEveryMs;
    }
    while (this.used.size >= this.max) this.used.delete(this.used.keys().next().value as string);
    this.used.set(nonce, expiresAt);
  }

  get size(): number {
    return this.used.size;
  }
}

// ---- signer ---------------------------------------------------------------------------------------------------

export interface CreateStateOptions {
  /** A path on your site to go back to after login, e.g. `/orders?id=3`. Must start with a single `/`. */
  returnTo?: string;
}

export interface VerifiedState {
  returnTo?: string;
  /** When the state stops being accepted (ms). */
  expiresAt: number;
}

export interface StateSignerOptions {
  key: Buffer;
  ttlMs?: number;
  now?: () => number;
  maxUsed?: number;
}

const restart = 'restart the login';

export class StateSigner {
  readonly ttlMs: number;
  readonly #key: Buffer;
  private readonly now: () => number;
  private readonly used: UsedStates;

  constructor(options: StateSignerOptions) {
    this.#key = options.key;
    this.ttlMs = options.ttlMs ?? DEFAULT_STATE_TTL_MS;
    this.now = options.now ?? Date.now;
    this.used = new UsedStates(options.maxUsed ?? MAX_USED_STATES, this.ttlMs);
  }

  /** A signed state for the session `bindTo` (your session id), optionally carrying a return path. */
  create(bindTo: string, options: CreateStateOptions = {}): string {
    const tag = this.bindingTag(bindTo);
    const returnTo = options.returnTo === undefined ? Buffer.alloc(0) : Buffer.from(checkReturnTo(options.returnTo));
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(VERSION, 0);
    header.writeUInt32BE(Math.floor((this.now() + this.ttlMs) / 1000), 1);
    randomBytes(NONCE_BYTES).copy(header, 5);
    tag.copy(header, 5 + NONCE_BYTES);
    const payload = Buffer.concat([header, returnTo]);
    const state = base62Encode(Buffer.concat([payload, this.mac(payload)]));
    if (state.length > MAX_STATE_LENGTH) {
      throw new WechatError(
        `returnTo is too long for WeChat's 128-character state (${returnTo.length} bytes); keep return paths within ` +
          `${MAX_RETURN_TO_BYTES} bytes, or keep the return path in your session instead`,
        'STATE_TOO_LONG',
      );
    }
    return state;
  }

  /** Check a state from the callback against the session; throws a WechatError (code STATE_*) when it fails. */
  verify(state: unknown, bindTo: string): VerifiedState {
    const tag = this.bindingTag(bindTo);
    if (state === undefined || state === null || state === '') {
      throw new WechatError(`the OAuth callback has no state; ${restart}`, 'STATE_MISSING');
    }
    const bytes = typeof state === 'string' && STATE_PATTERN.test(state) ? base62Decode(state) : undefined;
    if (!bytes || bytes.length < HEADER_BYTES + MAC_BYTES || bytes[0] !== VERSION) {
      throw invalid();
    }
    const payload = bytes.subarray(0, bytes.length - MAC_BYTES);
    if (!timingSafeEqual(this.mac(payload), bytes.subarray(bytes.length - MAC_BYTES))) throw invalid();
    if (!timingSafeEqual(tag, payload.subarray(5 + NONCE_BYTES, HEADER_BYTES))) {
      throw new WechatError(
        `the OAuth state was issued for another session (a possible CSRF attempt, or the session changed during login); ${restart}`,
        'STATE_FOREIGN',
      );
    }
    const now = this.now();
    const expiresAt = payload.readUInt32BE(1) * 1000;
    if (now >= expiresAt) {
      throw new WechatError(
        `the OAuth state expired (states live ${Math.round(this.ttlMs / 1000)} s); ${restart}`,
        'STATE_EXPIRED',
      );
    }
    const nonce = payload.subarray(5, 5 + NONCE_BYTES).toString('hex');
    if (this.used.has(nonce)) {
      throw new WechatError(`the OAuth state was already used (each works once); ${restart}`, 'STATE_REPLAYED');
    }
    this.used.add(nonce, expiresAt, now);
    const returnTo = payload.subarray(HEADER_BYTES);
    return returnTo.length > 0 ? { returnTo: returnTo.toString('utf8'), expiresAt } : { expiresAt };
  }

  /** How many used states this process remembers (for tests and metrics). */
  get rememberedStates(): number {
    return this.used.size;
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.#key).update('state\0').update(payload).digest().subarray(0, MAC_BYTES);
  }

  private bindingTag(bindTo: unknown): Buffer {
    if (typeof bindTo !== 'string' || bindTo === '') {
      throw new WechatError(
        'bindTo must be a non-empty string identifying the browser session (e.g. your session id): a state bound to nothing cannot stop CSRF',
        'BAD_STATE_BINDING',
      );
    }
    return createHmac('sha256', this.#key).update('bind\0').update(bindTo).digest().subarray(0, TAG_BYTES);
  }
}

function invalid(): WechatError {
  return new WechatError(
    `the OAuth state was not issued by this server or was altered (a possible CSRF attempt); ${restart}`,
    'STATE_INVALID',
  );
}

/** Only same-site paths: an absolute URL here would make the callback an open redirector (RFC 6749 §10.15). */
function checkReturnTo(returnTo: unknown): string {
  if (
    typeof returnTo !== 'string' ||
    !returnTo.startsWith('/') ||
    returnTo.startsWith('//') ||
    returnTo.includes('\\') ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(returnTo)
  ) {
    throw new WechatError(
      'returnTo must be a path on your own site starting with a single "/" (e.g. "/orders?id=3"), not a URL',
      'BAD_RETURN_TO',
    );
  }
  return returnTo;
}
