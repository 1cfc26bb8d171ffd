/**
 * Mini-program crypto against WeChat's published vectors (the WXBizDataCrypt decryption demo and the rawData
 * signature sample), through the pure functions and through MiniProgram's Promise API; plus every way the input
 * can be wrong, each with its own error and never an echo of the key.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import vectors from '../fixtures/miniprogram-vectors.json';
import { DecryptError, WechatError } from '../../lib/errors';
import { decryptMiniProgramData, miniProgramSignature, verifyMiniProgramSignature } from '../../lib/miniprogram/crypto';
import { MiniProgram } from '../../lib/miniprogram/MiniProgram';
import { Store } from '../../lib/store/Store';

const dec = vectors.miniProgramDecrypt;
const sig = vectors.miniProgramRawDataSignature;
const input = { encryptedData: dec.encryptedData, iv: dec.iv, sessionKey: dec.sessionKey, appId: dec.appId };

function caught(fn: () => unknown): DecryptError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DecryptError);
    return err as DecryptError;
  }
  throw new Error('expected a DecryptError');
}

/** Encrypt `plaintext` the way WeChat does (AES-128-CBC, PKCS#7), to build inputs the vectors do not cover. */
function encrypt(plaintext: string, key = randomBytes(16), iv = randomBytes(16)) {
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64'), sessionKey: key.toString('base64') };
}

describe('decryptMiniProgramData: WeChat published sample', () => {
  it('decrypts the WXBizDataCrypt demo to the published user', () => {
    const data = decryptMiniProgramData(input);
    expect(data.openId).toBe('oGZUI0egBJY1zhBYw2KhdUfwVJJE');
    expect(data.watermark).toEqual({ timestamp: 1477314187, appid: 'wx4f4bc4dec97d474b' });
    expect(data).toEqual(JSON.parse(dec.decrypted));
  });

  it('refuses the data for another appId (watermark check)', () => {
    const err = caught(() => decryptMiniProgramData({ ...input, appId: 'wx0000000000000000' }));
    expect(err.reason).toBe('watermark_mismatch');
    expect(err.code).toBe('WATERMARK_MISMATCH');
    expect(err.message).toContain('wx4f4bc4dec97d474b');
    expect(err.message).toContain('wx0000000000000000');
  });

  it('a wrong session_key is reported as a probably stale key, with the hint to log in again', () => {
    const err = caught(() => decryptMiniProgramData({ ...input, sessionKey: randomBytes(16).toString('base64') }));
    expect(err.reason).toBe('stale_session_key');
    expect(err.code).toBe('DECRYPT_FAILED');
    expect(err.message).toMatch(/stale/);
    expect(err.message).toMatch(/wx\.login/);
  });

  it('garbage input fails with a clear error naming the input', () => {
    expect(caught(() => decryptMiniProgramData({ ...input, encryptedData: 'not base64 at all!' })).message).toMatch(
      /encryptedData contains whitespace/,
    );
    expect(caught(() => decryptMiniProgramData({ ...input, encryptedData: '@@@@' })).message).toBe(
      'encryptedData is not base64',
    );
    const short = caught(() => decryptMiniProgramData({ ...input, encryptedData: randomBytes(17).toString('base64') }));
    expect(short.reason).toBe('bad_input');
    expect(short.message).toMatch(/17 bytes, not whole 16-byte AES blocks/);
    // Whole blocks of random bytes: can only fail as "key does not fit" (padding or JSON).
    const blocks = caught(() =>
      decryptMiniProgramData({ ...input, encryptedData: randomBytes(64).toString('base64') }),
    );
    expect(blocks.reason).toBe('stale_session_key');
    expect(caught(() => decryptMiniProgramData({ ...input, encryptedData: '' })).message).toMatch(/non-empty base64/);
  });

  it('checks the key and iv sizes and explains a "+" turned into a space', () => {
    const key = caught(() => decryptMiniProgramData({ ...input, sessionKey: randomBytes(24).toString('base64') }));
    expect(key.reason).toBe('bad_input');
    expect(key.message).toBe('sessionKey must decode to 16 bytes, got 24');
    expect(caught(() => decryptMiniProgramData({ ...input, iv: randomBytes(8).toString('base64') })).message).toBe(
      'iv must decode to 16 bytes, got 8',
    );
    expect(dec.encryptedData).toContain('+');
    const spaced = caught(() =>
      decryptMiniProgramData({ ...input, encryptedData: dec.encryptedData.replace(/\+/g, ' ') }),
    );
    expect(spaced.message).toMatch(/^encryptedData contains whitespace: a '\+' was probably turned into ' '/);
    expect(
      caught(() => decryptMiniProgramData({ ...input, sessionKey: undefined as unknown as string })).message,
    ).toMatch(/sessionKey must be a non-empty base64 string/);
  });

  it('valid padding but not JSON, and JSON without watermark, are told apart', () => {
    const notJson = encrypt('hello, not json');
    expect(caught(() => decryptMiniProgramData({ ...notJson, appId: dec.appId })).reason).toBe('stale_session_key');
    const noMark = encrypt(JSON.stringify({ openId: 'x' }));
    const err = caught(() => decryptMiniProgramData({ ...noMark, appId: dec.appId }));
    expect(err.reason).toBe('watermark_mismatch');
    expect(err.message).toMatch(/no watermark\.appid/);
  });

  it('never puts the key, the iv or the data into an error', () => {
    const wrongKey = randomBytes(16).toString('base64');
    const errors = [
      caught(() => decryptMiniProgramData({ ...input, sessionKey: wrongKey })),
      caught(() => decryptMiniProgramData({ ...input, appId: 'wxother' })),
      caught(() => decryptMiniProgramData({ ...input, sessionKey: dec.sessionKey + 'AAAA' })),
    ];
    for (const err of errors) {
      const text = `${err.message} ${JSON.stringify(err)} ${String(err.cause ?? '')}`;
      for (const secret of [wrongKey, dec.sessionKey, dec.iv, dec.encryptedData.slice(0, 24)])
        expect(text).not.toContain(secret);
    }
  });
});

describe('rawData signature: WeChat published sample', () => {
  it('sha1(rawData + session_key) gives the published signature', () => {
    expect(miniProgramSignature(sig.rawData, sig.sessionKey)).toBe('75e81ceda165f4ffa64f4068af58c64b8f54b88c');
    expect(verifyMiniProgramSignature(sig.rawData, sig.signature, sig.sessionKey)).toBe(true);
  });

  it('any change to rawData or the key fails verification', () => {
    expect(verifyMiniProgramSignature(sig.rawData.replace('Band', 'Bond'), sig.signature, sig.sessionKey)).toBe(false);
    expect(verifyMiniProgramSignature(sig.rawData, sig.signature, dec.sessionKey)).toBe(false);
    expect(verifyMiniProgramSignature(`${sig.rawData} `, sig.signature, sig.sessionKey)).toBe(false);
  });

  it('refuses an object instead of silently re-serialising it', () => {
    const parsed = JSON.parse(sig.rawData);
    expect(() => miniProgramSignature(parsed, sig.sessionKey)).toThrow(WechatError);
    expect(() => verifyMiniProgramSignature(parsed, sig.signature, sig.sessionKey)).toThrow(/exact string/);
    expect(() => miniProgramSignature(sig.rawData, '')).toThrow(/session_key/);
  });
});

describe('MiniProgram Promise API on the published vectors', () => {
  let mp: MiniProgram;
  beforeAll(() => {
    mp = new MiniProgram({
      miniProgram: { appId: dec.appId, appSecret: 'unused-secret' },
      store: new Store({ noInterval: true }),
    });
  });
  afterAll(() => mp.close());

  it('decryptData with a sessionKey resolves the published payload', async () => {
    const data = await mp.decryptData(dec.encryptedData, dec.iv, dec.sessionKey);
    expect(data.openId).toBe('oGZUI0egBJY1zhBYw2KhdUfwVJJE');
    expect(data.watermark.timestamp).toBe(1477314187);
  });

  it('decryptData with neither a key nor a stored session rejects clearly', async () => {
    await expect(mp.decryptData(dec.encryptedData, dec.iv)).rejects.toMatchObject({ reason: 'bad_input' });
    await expect(mp.decryptData(dec.encryptedData, dec.iv, undefined, 'nobody')).rejects.toMatchObject({
      reason: 'no_session',
      code: 'NO_SESSION',
    });
  });

  it('genSignature / verifySignature keep wechat-jssdk behaviour (resolve, or reject on mismatch)', async () => {
    await expect(mp.genSignature(sig.rawData, sig.sessionKey)).resolves.toBe(sig.signature);
    await expect(mp.verifySignature(sig.rawData, sig.signature, sig.sessionKey)).resolves.toBe(true);
    await expect(mp.verifySignature(sig.rawData, '0'.repeat(40), sig.sessionKey)).rejects.toMatchObject({
      code: 'SIGNATURE_MISMATCH',
    });
    await expect(mp.verifySignature(JSON.parse(sig.rawData), sig.signature, sig.sessionKey)).rejects.toMatchObject({
      code: 'BAD_RAW_DATA',
    });
  });
});
