/**
 * WeChat Pay v2 pure helpers: the published sign example, verification, XML (XXE refused), the refund req_info
 * cipher and the fen/yuan helpers.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WechatError } from '../../lib/errors';
import { paymentSignString, signPayment, verifyPayment, SIGN_TYPE } from '../../lib/payment/v2/sign';
import { buildXML, parseXML, XmlError } from '../../lib/payment/v2/xml';
import { decryptReqInfo, encryptReqInfo } from '../../lib/payment/v2/crypto';
import { assertFen, fenToYuan, formatCurrency, formatFen, yuanToFen } from '../../lib/payment/amounts';

const vectors = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/pay-vectors.json'), 'utf8')) as {
  payV2Sign: { params: Record<string, string>; key: string; stringSignTemp: string; md5: string; hmacSha256: string };
};
const v = vectors.payV2Sign;

describe('v2 signPayment (WeChat Pay published example)', () => {
  it('builds the documented string to sign', () => {
    expect(paymentSignString(v.params, v.key)).toBe(v.stringSignTemp);
  });

  it('MD5 gives the published signature', () => {
    expect(signPayment(v.params, v.key, 'MD5')).toBe(v.md5);
    expect(signPayment(v.params, v.key)).toBe(v.md5);
  });

  it('HMAC-SHA256 gives the published signature', () => {
    expect(signPayment(v.params, v.key, SIGN_TYPE.HMAC_SHA256)).toBe(v.hmacSha256);
  });

  it('ignores empty values and the sign field, whatever the key order', () => {
    const shuffled = {
      nonce_str: v.params.nonce_str,
      sign: 'X',
      empty: '',
      nothing: undefined,
      body: 'test',
      mch_id: '10000100',
      device_info: 1000,
      appid: v.params.appid,
    };
    expect(signPayment(shuffled, v.key)).toBe(v.md5);
  });

  it('verifyPayment accepts the right sign and refuses a tampered field, a missing sign and the wrong key', () => {
    const signed = { ...v.params, sign: v.md5 };
    expect(verifyPayment(signed, v.key)).toBe(true);
    expect(verifyPayment({ ...signed, sign: v.md5.toLowerCase() }, v.key)).toBe(true);
    expect(verifyPayment({ ...signed, body: 'test2' }, v.key)).toBe(false);
    expect(verifyPayment(v.params, v.key)).toBe(false);
    expect(verifyPayment(signed, 'another-key')).toBe(false);
    // sign_type in the message selects HMAC
    const hmac = { ...v.params, sign_type: 'HMAC-SHA256' };
    expect(verifyPayment({ ...hmac, sign: signPayment(hmac, v.key, 'HMAC-SHA256') }, v.key)).toBe(true);
    expect(verifyPayment({ ...hmac, sign: signPayment(hmac, v.key, 'MD5') }, v.key)).toBe(false);
  });
});

describe('v2 XML', () => {
  it('round-trips flat fields, CDATA with "]]>" and entities', () => {
    const fields = { return_code: 'SUCCESS', body: 'a <b> & "c" ]]> d', total_fee: 1, empty: '' };
    const xml = buildXML(fields);
    expect(xml).toContain('<total_fee>1</total_fee>');
    expect(parseXML(xml)).toEqual({ return_code: 'SUCCESS', body: 'a <b> & "c" ]]> d', total_fee: '1', empty: '' });
    expect(parseXML('<?xml version="1.0"?>\n<xml> <a>x &amp; &#65;&#x42;</a><b/><!-- c --></xml>')).toEqual({
      a: 'x & AB',
      b: '',
    });
    expect(parseXML('<root><out_refund_no><![CDATA[R1]]></out_refund_no></root>')).toEqual({ out_refund_no: 'R1' });
  });

  it.each([
    [
      'a DOCTYPE',
      '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
      /DOCTYPE and ENTITY/,
    ],
    ['a lower-case doctype', '<!doctype xml><xml><a>1</a></xml>', /DOCTYPE and ENTITY/],
    ['an ENTITY alone', '<xml><!ENTITY x "y"><a>1</a></xml>', /DOCTYPE and ENTITY/],
    ['an undefined entity', '<xml><a>&x;</a></xml>', /unknown entity/],
    ['a nested element', '<xml><a><b>1</b></a></xml>', /nested element/],
    ['a duplicate field', '<xml><a>1</a><a>2</a></xml>', /appears twice/],
    ['an unclosed root', '<xml><a>1</a>', /not closed/],
    ['trailing content', '<xml><a>1</a></xml><xml></xml>', /after/],
    ['text that is not XML', 'hello', /not XML/],
    ['a processing instruction', '<?php x ?><xml></xml>', /processing instructions/],
  ])('refuses %s', (_what, xml, message) => {
    expect(() => parseXML(xml)).toThrow(XmlError);
    expect(() => parseXML(xml)).toThrow(message);
  });

  it('refuses bodies larger than the limit', () => {
    expect(() => parseXML(`<xml><a>${'x'.repeat(1_000_001)}</a></xml>`)).toThrow(/larger than/);
  });
});

describe('v2 refund req_info (AES-256-ECB, key = md5(paymentKey))', () => {
  it('round-trips and fails with another key', () => {
    const inner = buildXML({ out_refund_no: 'R1', refund_fee: 50 }, 'root');
    const encrypted = encryptReqInfo(inner, v.key);
    expect(parseXML(decryptReqInfo(encrypted, v.key))).toEqual({ out_refund_no: 'R1', refund_fee: '50' });
    expect(() => decryptReqInfo(encrypted, 'another-key-another-key-another-k')).toThrow();
  });
});

describe('amounts in fen', () => {
  it('assertFen accepts positive integers and digit strings', () => {
    expect(assertFen(1, 'total_fee')).toBe(1);
    expect(assertFen('100', 'total_fee')).toBe(100);
  });

  it.each([0, -1, 1.5, '1.50', '', NaN, Infinity, null, undefined, '0', '-5', 2 ** 53])(
    'assertFen refuses %p',
    (bad) => {
      let caught: unknown;
      try {
        assertFen(bad, 'total_fee');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(WechatError);
      expect((caught as WechatError).code).toBe('BAD_AMOUNT');
      expect((caught as Error).message).toMatch(/^total_fee must be a positive integer number of fen/);
    },
  );

  it('converts yuan to fen exactly, refusing sub-fen amounts', () => {
    expect(yuanToFen('10.12')).toBe(1012);
    expect(yuanToFen(0.1)).toBe(10);
    expect(yuanToFen(1.1)).toBe(110);
    expect(yuanToFen(19.99)).toBe(1999);
    expect(yuanToFen('0.07')).toBe(7);
    expect(yuanToFen('3')).toBe(300);
    expect(yuanToFen('10.120')).toBe(1012);
    expect(() => yuanToFen('10.123')).toThrow(/more than 2 decimal places/);
    expect(() => yuanToFen('1e3')).toThrow(/plain decimal/);
    expect(() => yuanToFen(NaN)).toThrow(/finite/);
  });

  it('converts fen to yuan and formats', () => {
    expect(fenToYuan(1012)).toBe(10.12);
    expect(fenToYuan('5')).toBe(0.05);
    expect(formatFen(100001)).toBe('1000.01');
    expect(formatCurrency('10.125')).toBe('10.13');
    expect(formatCurrency(10)).toBe('10.00');
    expect(() => fenToYuan(1.5)).toThrow(/integer/);
  });
});
