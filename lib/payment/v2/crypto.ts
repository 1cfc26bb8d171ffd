/**
 * The `req_info` of a v2 refund notification: AES-256-ECB (PKCS#7 padding) of an XML document, keyed with the
 * lower-case hex MD5 of the merchant API key (32 ASCII characters = 32 bytes), base64 encoded. The notification
 * carries no `sign`: only WeChat and the merchant know the key, so a req_info that decrypts is authentic.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

function refundKey(paymentKey: string): Buffer {
  return Buffer.from(createHash('md5').update(paymentKey, 'utf8').digest('hex'), 'ascii');
}

/** Decrypt `req_info` to its XML text. Throws when the key does not fit (bad padding) or the input is not base64. */
export function decryptReqInfo(reqInfo: string, paymentKey: string): string {
  const data = Buffer.from(reqInfo, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new Error('req_info is not AES-256-ECB ciphertext');
  const decipher = createDecipheriv('aes-256-ecb', refundKey(paymentKey), null);
  return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
}

/** The reverse, as WeChat does it (used by the sandbox and tests). */
export function encryptReqInfo(xml: string, paymentKey: string): string {
  const cipher = createCipheriv('aes-256-ecb', refundKey(paymentKey), null);
  return Buffer.concat([cipher.update(xml, 'utf8'), cipher.final()]).toString('base64');
}
