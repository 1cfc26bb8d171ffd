/**
 * The keys that verify WeChat Pay v3 responses and callbacks, found by the Wechatpay-Serial header:
 * - `PUB_KEY_ID_...`: the WeChat Pay public key (the scheme for merchants created since late 2024);
 * - anything else: a platform certificate serial. Certificates come from the options and from
 *   GET /v3/certificates, whose entries are AES-256-GCM encrypted with the APIv3 key (decrypting them proves they
 *   come from WeChat Pay). The downloaded list goes through the credential engine: cached in the store (global
 *   token field `payPlatformCerts_<merchantId>`) so processes share it, refreshed every CERT_REFRESH_MS, and refetched early
 *   when a message names a serial we do not know (WeChat adds a new certificate 24 h before using it), at most
 *   once per UNKNOWN_SERIAL_REFRESH_MS so forged serials cannot make us hammer the API.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import createDebug from 'debug';
import { Credential } from '../../credentials/Credential';
import { globalTokenBackend } from '../../credentials/backends';
import { WechatPayError } from '../../errors';
import type { Store } from '../../store/Store';
import { decryptResource, type EncryptedResource } from './crypto';
import { PUBLIC_KEY_ID_PREFIX, signedMessageOf, verifySignedMessage } from './sign';

const log = createDebug('wechat:pay');

/** Downloaded certificates are re-fetched this often (WeChat publishes a replacement 24 h ahead). */
export const CERT_REFRESH_MS = 12 * 60 * 60_000;
/** An unknown serial triggers a download at most this often. */
export const UNKNOWN_SERIAL_REFRESH_MS = 60_000;
/**
 * Global token field of the store holding a merchant's downloaded list (JSON). Per merchant: each merchant's list
 * is encrypted with its own APIv3 key, and two merchants may share an app's store.
 */
export function platformCertsField(merchantId: string): string {
  return `payPlatformCerts_${merchantId}`;
}

export interface PlatformCertificate {
  /** Upper-case hex, as in Wechatpay-Serial. */
  serialNo: string;
  pem: string;
  /** Validity (ms since the epoch). */
  notBefore: number;
  notAfter: number;
}

/** Parse a PEM certificate; when `expectedSerial` is given the certificate must carry it. */
export function loadCertificate(pem: string, expectedSerial?: string): PlatformCertificate {
  const cert = new X509Certificate(pem);
  const serialNo = cert.serialNumber.toUpperCase();
  if (expectedSerial !== undefined && expectedSerial.toUpperCase() !== serialNo) {
    throw new Error(`certificate serial ${serialNo} does not match the listed serial ${expectedSerial}`);
  }
  return { serialNo, pem: cert.toString(), notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

/** The `data` of a /v3/certificates answer, decrypted with the APIv3 key. */
export function decryptCertificateList(body: unknown, apiV3Key: string): PlatformCertificate[] {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) {
    throw new WechatPayError({
      version: 'v3',
      payCode: 'BAD_RESPONSE',
      path: '/v3/certificates',
      message: 'no data array',
    });
  }
  return data.map((entry: { serial_no?: string; encrypt_certificate?: EncryptedResource }) =>
    loadCertificate(decryptResource(entry.encrypt_certificate as EncryptedResource, apiV3Key), entry.serial_no),
  );
}

export interface PlatformKeysOptions {
  merchantId: string;
  apiV3Key: string;
  publicKey?: KeyObject;
  publicKeyId?: string;
  /** Certificates given in the options (not downloaded). */
  certificates?: PlatformCertificate[];
  store: Store;
  now: () => number;
  /** GET /v3/certificates, signed, NOT verified (the answer is verified here with the keys it carries). */
  download: () => Promise<{ headers: Record<string, string>; body: string }>;
  onError?: (err: unknown) => void;
}

export class PlatformKeys {
  private readonly credential: Credential;
  private readonly configured = new Map<string, PlatformCertificate>();
  private cachedValue?: string;
  private cached: PlatformCertificate[] = [];
  private readonly keyCache = new Map<string, KeyObject>();
  private lastUnknownRefresh = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PlatformKeysOptions) {
    for (const cert of options.certificates ?? []) this.configured.set(cert.serialNo, cert);
    this.credential = new Credential({
      name: 'wechatpay_platform_certificates',
      backend: globalTokenBackend(options.store, platformCertsField(options.merchantId)),
      fetch: () => this.fetch(),
      now: options.now,
      onError: options.onError,
    });
  }

  /** The public key for a Wechatpay-Serial, or undefined when there is none (the message is then refused). */
  async resolve(serial: string): Promise<KeyObject | undefined> {
    if (serial.startsWith(PUBLIC_KEY_ID_PREFIX)) {
      return serial === this.options.publicKeyId ? this.options.publicKey : undefined;
    }
    const serialNo = serial.toUpperCase();
    const known = this.usable(this.configured.get(serialNo)) ?? this.usable(await this.findDownloaded(serialNo));
    return known && this.keyOf(known);
  }

  /** Configured and downloaded certificates (downloads when nothing is cached). */
  async list(): Promise<PlatformCertificate[]> {
    return [...this.configured.values(), ...this.parse(await this.credential.get())];
  }

  close(): void {
    this.credential.close();
  }

  private async findDownloaded(serialNo: string): Promise<PlatformCertificate | undefined> {
    const find = (value: string) => this.parse(value).find((c) => c.serialNo === serialNo);
    const value = await this.credential.get();
    const found = find(value);
    if (found) return found;
    const now = this.options.now();
    if (now - this.lastUnknownRefresh < UNKNOWN_SERIAL_REFRESH_MS) return undefined;
    this.lastUnknownRefresh = now;
    log('unknown platform certificate serial %s: downloading the list again', serialNo);
    return find((await this.credential.refresh({ force: true })).value);
  }

  private usable(cert: PlatformCertificate | undefined): PlatformCertificate | undefined {
    const now = this.options.now();
    return cert && now >= cert.notBefore && now <= cert.notAfter ? cert : undefined;
  }

  private keyOf(cert: PlatformCertificate): KeyObject {
    let key = this.keyCache.get(cert.serialNo);
    if (!key) {
      key = createPublicKey(cert.pem);
      this.keyCache.set(cert.serialNo, key);
    }
    return key;
  }

  private parse(value: string): PlatformCertificate[] {
    if (value !== this.cachedValue) {
      try {
        const list = JSON.parse(value) as PlatformCertificate[];
        this.cached = Array.isArray(list) ? list.map((c) => loadCertificate(c.pem, c.serialNo)) : [];
      } catch (err) {
        this.options.onError?.(err);
        this.cached = [];
      }
      this.cachedValue = value;
    }
    return this.cached;
  }

  private async fetch(): Promise<{ value: string; expiresAt: number }> {
    const raw = await this.options.download();
    let body: unknown;
    try {
      body = JSON.parse(raw.body);
    } catch {
      throw new WechatPayError({
        version: 'v3',
        payCode: 'BAD_RESPONSE',
        path: '/v3/certificates',
        message: 'not JSON',
      });
    }
    const certs = decryptCertificateList(body, this.options.apiV3Key);
    // Decryption proved the certificates come from WeChat Pay; the signature proves the answer was not altered.
    await verifySignedMessage(signedMessageOf(raw.headers, raw.body), {
      what: '/v3/certificates',
      now: this.options.now(),
      resolveKey: async (serial) => {
        const cert =
          certs.find((c) => c.serialNo === serial.toUpperCase()) ?? this.configured.get(serial.toUpperCase());
        if (cert) return createPublicKey(cert.pem);
        return serial === this.options.publicKeyId ? this.options.publicKey : undefined;
      },
    });
    log('downloaded %d platform certificate(s): %s', certs.length, certs.map((c) => c.serialNo).join(', '));
    return { value: JSON.stringify(certs), expiresAt: this.options.now() + CERT_REFRESH_MS };
  }
}
