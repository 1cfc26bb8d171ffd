/**
 * Card signatures: the cardExt example of the JS-SDK documentation (appendix 4), and the chooseCard cardSign
 * built from the documented field list (values sorted as strings, concatenated, sha1).
 */
import { createHash } from 'node:crypto';
import vectors from '../fixtures/card-vectors.json';
import { cardExtSignature, cardSignature } from '../../lib/card/signature';
import { CARD_TYPE, CODE_TYPE } from '../../lib/card/constants';
import { Card } from '../../lib/card/Card';

const v = vectors.cardExtSignature;
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const input = {
  apiTicket: v.input.api_ticket,
  timestamp: v.input.timestamp,
  cardId: v.input.card_id,
  code: v.input.code,
  nonceStr: v.input.nonce_str,
};

describe('cardExtSignature: WeChat published example', () => {
  it('gives the published signature', () => {
    expect(cardExtSignature(input)).toBe('f137ab68b7f8112d20ee528ab6074564e2796250');
    expect(cardExtSignature(input)).toBe(v.signature);
  });

  it('hashes exactly the documented sorted concatenation', () => {
    expect(sha1(v.sortedJoined)).toBe(v.signature);
    expect(v.sortedJoined).toBe('12314048966881434008071ojZ8YtyVyr30HheH3CM73y7h4jJEpjZ8Yt1XGILfi-FUsewpnnolGgZk');
  });

  it('a numeric timestamp signs like its string, and empty fields change nothing', () => {
    expect(cardExtSignature({ ...input, timestamp: Number(v.input.timestamp) })).toBe(v.signature);
    expect(cardExtSignature({ ...input, openid: '' })).toBe(v.signature);
    expect(cardExtSignature({ ...input, openid: undefined })).toBe(v.signature);
  });

  it('every signed field matters', () => {
    const changed = [
      { ...input, apiTicket: 'x' },
      { ...input, timestamp: '1404896689' },
      { ...input, cardId: 'other' },
      { ...input, code: '1' },
      { ...input, nonceStr: '124' },
      { ...input, openid: 'oUser' },
    ];
    for (const c of changed) expect(cardExtSignature(c)).not.toBe(v.signature);
  });
});

describe('cardSignature (wx.chooseCard)', () => {
  it('is sha1 of the sorted values of api_ticket, appid, location_id, timestamp, nonce_str, card_id, card_type', () => {
    const sign = cardSignature({
      apiTicket: 'ticketT',
      appId: 'wxAPP',
      locationId: 1234,
      timestamp: '1404896688',
      nonceStr: 'nonceN',
      cardId: 'pCard',
      cardType: 'GROUPON',
    });
    // Sorted by hand: digits, then upper case, then lower case.
    expect(sign).toBe(sha1('12341404896688GROUPONnonceNpCardticketTwxAPP'));
  });

  it('optional filters left out sign only the rest', () => {
    const sign = cardSignature({ apiTicket: 'ticketT', appId: 'wxAPP', timestamp: '1404896688', nonceStr: 'nonceN' });
    expect(sign).toBe(sha1('1404896688nonceNticketTwxAPP'));
    expect(
      cardSignature({
        apiTicket: 'ticketT',
        appId: 'wxAPP',
        timestamp: '1404896688',
        nonceStr: 'nonceN',
        cardType: '',
      }),
    ).toBe(sign);
  });
});

describe('constants', () => {
  it('keeps wechat-jssdk names and WeChat values, also as static Card properties', () => {
    expect(CODE_TYPE.CODE_TYPE_QRCODE).toBe('CODE_TYPE_QRCODE');
    expect(Object.keys(CODE_TYPE)).toEqual([
      'CODE_TYPE_QRCODE',
      'CODE_TYPE_BARCODE',
      'CODE_TYPE_ONLY_QRCODE',
      'CODE_TYPE_TEXT',
      'CODE_TYPE_NONE',
    ]);
    for (const name of ['GROUPON', 'CASH', 'DISCOUNT', 'GIFT', 'GENERAL_COUPON']) {
      expect(CARD_TYPE[name as keyof typeof CARD_TYPE]).toBe(name);
    }
    expect(Card.CODE_TYPE).toBe(CODE_TYPE);
    expect(Card.CARD_TYPE).toBe(CARD_TYPE);
  });
});
