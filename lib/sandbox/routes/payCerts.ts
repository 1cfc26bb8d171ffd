/**
 * Throw-away certificates for the payment sandbox, made with the `openssl` CLI (Node can sign data but cannot
 * issue X.509 certificates): a private CA, the sandbox's HTTPS server certificate (127.0.0.1 / localhost), one
 * merchant API certificate per merchant (CN = mch_id, the client certificate of v2 refunds and the v3 request
 * signing key, with a .p12 whose passphrase is the mch_id, as WeChat issues them) and a WeChat Pay platform
 * certificate (signs v3 responses and callbacks). Short-lived, generated per test run, never secrets.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PemPair {
  key: string;
  cert: string;
  /** Upper-case hex serial number of `cert`. */
  serialNo: string;
}

export interface MerchantCertificate extends PemPair {
  /** PKCS#12 of key + cert, passphrase = mch_id (like apiclient_cert.p12). */
  pfx: Buffer;
}

export interface PayCertificates {
  /** The CA that issued everything below; trust it with the SDK's `paymentCa` option. */
  ca: string;
  server: PemPair;
  platform: PemPair;
  merchants: Record<string, MerchantCertificate>;
}

/** Generate the certificates (about a second of openssl work). Requires `openssl` on PATH. */
export function generatePayCertificates(mchIds: string[], days = 7): PayCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wechat-pay-certs-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const read = (name: string) => readFileSync(file(name), 'utf8');
  // 20 random bytes with the top bit clear: a positive serial like WeChat's 40-hex-digit ones.
  const serial = () => {
    const bytes = randomBytes(20);
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    return `0x${bytes.toString('hex')}`;
  };
  const issue = (name: string, subject: string, extensions: string): PemPair => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(file(`${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial(),
      '-days',
      String(days),
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
    const cert = read(`${name}.crt`);
    return { key: read(`${name}.key`), cert, serialNo: new X509Certificate(cert).serialNumber.toUpperCase() };
  };
  try {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      String(days),
      '-sha256',
      '-subj',
      '/O=wechat-jssdk-ts sandbox/CN=Sandbox Pay CA',
    );
    const server = issue(
      'server',
      '/CN=127.0.0.1',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    const platform = issue(
      'platform',
      '/O=Tenpay.com sandbox/CN=Tenpay.com Sandbox Platform',
      'keyUsage=digitalSignature\n',
    );
    const merchants: Record<string, MerchantCertificate> = {};
    for (const mchId of mchIds) {
      if (!/^\w+$/.test(mchId)) throw new Error(`sandbox: bad mch_id ${mchId}`);
      const pair = issue(`m${mchId}`, `/O=sandbox merchant/CN=${mchId}`, 'extendedKeyUsage=clientAuth\n');
      openssl(
        'pkcs12',
        '-export',
        '-inkey',
        `m${mchId}.key`,
        '-in',
        `m${mchId}.crt`,
        '-out',
        `m${mchId}.p12`,
        '-passout',
        `pass:${mchId}`,
      );
      merchants[mchId] = { ...pair, pfx: readFileSync(file(`m${mchId}.p12`)) };
    }
    return { ca: read('ca.crt'), server, platform, merchants };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
