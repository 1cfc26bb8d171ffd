/**
 * AEAD_AES_256_GCM, as WeChat Pay v3 uses it for callback resources and downloaded platform certificates:
 * key = the 32-byte APIv3 key, nonce = the 12-character `nonce` string, AAD = `associated_data` (may be empty),
 * `ciphertext` = base64(encrypted bytes || 16-byte tag). GCM authenticates: an altered ciphertext, nonce,
 * associated_data or tag, or the wrong key, fails instead of decrypting to garbage.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nonceStr } from '../../crypto';
import { WechatPayError } from '../../errors';

export const AEAD_ALGORITHM = 'AEAD_AES_256_GCM';
const TAG_LENGTH = 16;

export interface EncryptedResource {
  algorithm?: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
  original_type?: string;
}

/** The APIv3 key as AES key bytes; it must be 32 bytes (the merchant platform issues 32 ASCII characters). */
export function apiV3KeyBytes(apiV3Key: string): Buffer {
  const key = Buffer.from(String(apiV3Key ?? ''), 'utf8');
  if (key.length !== 32)
    throw new WechatPayError({
      version: 'v3',
      payCode: 'BAD_APIV3_KEY',
      kind: 'other',
      path: 'decrypt',
      message: 'apiV3Key must be 32 bytes',
    });
  return key;
}

/** Decrypt a resource to its plaintext (JSON text for callbacks, PEM for certificates). */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  const fail = (message: string, cause?: unknown) =>
    new WechatPayError({
      version: 'v3',
      payCode: 'DECRYPT_FAILED',
      kind: 'untrusted',
      path: 'resource',
      message,
      cause,
    });
  if (!resource || typeof resource.ciphertext !== 'string' || typeof resource.nonce !== 'string') {
    throw fail('the resource needs ciphertext and nonce');
  }
  if (resource.algorithm !== undefined && resource.algorithm !== AEAD_ALGORITHM) {
    throw fail(`unsupported algorithm ${JSON.stringify(resource.algorithm)}`);
  }
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length <= TAG_LENGTH) throw fail('the ciphertext is too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', apiV3KeyBytes(apiV3Key), Buffer.from(resource.nonce, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_LENGTH)), decipher.final()]).toString(
      'utf8',
    );
  } catch (err) {
    if (err instanceof WechatPayError) throw err;
    throw fail(
      'authentication failed: the ciphertext, nonce, associated_data or tag was altered, or apiV3Key is wrong',
    );
  }
}

/** Encrypt like WeChat Pay does (the sandbox uses this; tests use it to build callbacks). */
export function encryptResource(
  plaintext: string,
  apiV3Key: string,
  associatedData = '',
  nonce = nonceStr(12),
): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', apiV3KeyBytes(apiV3Key), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: AEAD_ALGORITHM,
    ciphertext: encrypted.toString('base64'),
    nonce,
    associated_data: associatedData,
  };
}
