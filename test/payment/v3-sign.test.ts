/**
 * WeChat Pay v3 pure helpers with a key pair generated here: the Authorization header, response/callback
 * verification (window, serial, tampering) and AES-256-GCM resources.
 */
import { generateKeyPairSync } from 'node:crypto';
import { WechatPayError } from '../../lib/errors';
import {
  AUTH_SCHEMA,
  buildAuthorization,
  jsapiPaySign,
  parseAuthorization,
  requestSignString,
  responseSignString,
  rsaSign,
  rsaVerify,
  signedMessageOf,
  verifySignedMessage,
} from '../../lib/payment/v3/sign';
import { decryptResource, encryptResource } from '../../lib/payment/v3/crypto';

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const API_V3_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

describe('v3 request signature', () => {
  it('builds the Authorization header WeChat Pay verifies', () => {
    const body = JSON.stringify({ mchid: '1900000109', amount: { total: 1 } });
    const header = buildAuthorization({
      mchid: '1900000109',
      serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      privateKey: merchant.privateKey,
      method: 'POST',
      url: '/v3/pay/transactions/jsapi',
      body,
      timestamp: 1554208460,
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    expect(header).toMatch(
      new RegExp(
        `^${AUTH_SCHEMA} mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="[A-Za-z0-9+/=]+",timestamp="1554208460",serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"$`,
      ),
    );
    const fields = parseAuthorization(header)!;
    const signed = requestSignString('POST', '/v3/pay/transactions/jsapi', fields.timestamp, fields.nonce_str, body);
    expect(signed).toBe(`POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n${body}\n`);
    expect(rsaVerify(merchant.publicKey, signed, fields.signature)).toBe(true);
    // any change to what was signed breaks it
    expect(rsaVerify(merchant.publicKey, signed.replace('"total":1', '"total":2'), fields.signature)).toBe(false);
    expect(rsaVerify(platform.publicKey, signed, fields.signature)).toBe(false);
    expect(parseAuthorization('Bearer x')).toBeUndefined();
    expect(parseAuthorization(`${AUTH_SCHEMA} mchid="1"`)).toBeUndefined();
  });

  it('signs JSAPI pay parameters over appId, timeStamp, nonceStr and package', () => {
    const sign = jsapiPaySign(merchant.privateKey, 'wx8888888888888888', '1414561699', 'NONCE', 'prepay_id=wx1');
    expect(rsaVerify(merchant.publicKey, 'wx8888888888888888\n1414561699\nNONCE\nprepay_id=wx1\n', sign)).toBe(true);
  });
});

describe('v3 response and callback verification', () => {
  const now = 1_700_000_000_000;
  const serial = 'PLATFORM_SERIAL_1';
  const message = (body: string, ts = Math.floor(now / 1000), key = platform.privateKey) => {
    const nonce = 'n0nce';
    return signedMessageOf(
      {
        'Wechatpay-Timestamp': String(ts),
        'Wechatpay-Nonce': nonce,
        'Wechatpay-Serial': serial,
        'Wechatpay-Signature': rsaSign(key, responseSignString(ts, nonce, body)),
      },
      body,
    );
  };
  const verify = (m: ReturnType<typeof message>) =>
    verifySignedMessage(m, {
      what: 'test',
      now,
      resolveKey: async (s) => (s === serial ? platform.publicKey : undefined),
    });

  const rejected = async (promise: Promise<unknown>, reason: RegExp) => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WechatPayError);
    expect((err as WechatPayError).kind).toBe('untrusted');
    expect((err as Error).message).toMatch(reason);
  };

  it('accepts a fresh message signed by the key of its serial', async () => {
    await expect(verify(message('{"a":1}'))).resolves.toBeUndefined();
    await expect(verify(message(''))).resolves.toBeUndefined();
  });

  it('refuses a tampered body, another key, an unknown serial, a stale timestamp and missing headers', async () => {
    const good = message('{"a":1}');
    await rejected(verify({ ...good, body: '{"a":2}' }), /does not match/);
    await rejected(verify(message('{"a":1}', Math.floor(now / 1000), merchant.privateKey)), /does not match/);
    await rejected(verify({ ...good, serial: 'OTHER' }), /no platform certificate or public key/);
    await rejected(verify(message('{}', Math.floor(now / 1000) - 301)), /stale or replayed/);
    await rejected(verify(message('{}', Math.floor(now / 1000) + 301)), /stale or replayed/);
    await expect(verify(message('{}', Math.floor(now / 1000) - 299))).resolves.toBeUndefined();
    await rejected(verify({ ...good, signature: undefined }), /headers are required/);
  });
});

describe('v3 AES-256-GCM resources', () => {
  const plaintext = JSON.stringify({ out_trade_no: 'T1', amount: { total: 100 } });

  it('round-trips with associated_data', () => {
    const resource = encryptResource(plaintext, API_V3_KEY, 'transaction');
    expect(resource).toMatchObject({ algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' });
    expect(resource.nonce).toHaveLength(12);
    expect(decryptResource(resource, API_V3_KEY)).toBe(plaintext);
  });

  it('refuses a tampered tag, ciphertext, associated_data or nonce, and the wrong key', () => {
    const resource = encryptResource(plaintext, API_V3_KEY, 'transaction');
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    const flip = (i: number) => {
      const copy = Buffer.from(bytes);
      copy[i] ^= 1;
      return copy.toString('base64');
    };
    const cases = [
      { ...resource, ciphertext: flip(bytes.length - 1) }, // tag
      { ...resource, ciphertext: flip(0) }, // ciphertext
      { ...resource, associated_data: 'refund' },
      { ...resource, nonce: 'AAAAAAAAAAAA' },
    ];
    for (const bad of cases) {
      expect(() => decryptResource(bad, API_V3_KEY)).toThrow(/authentication failed/);
    }
    expect(() => decryptResource(resource, 'A'.repeat(32))).toThrow(WechatPayError);
    expect(() => decryptResource(resource, 'short')).toThrow(/32 bytes/);
    expect(() => decryptResource({ ...resource, algorithm: 'AES_128_CBC' }, API_V3_KEY)).toThrow(
      /unsupported algorithm/,
    );
  });
});
