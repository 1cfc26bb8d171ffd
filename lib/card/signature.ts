/**
 * Pure card signatures (JS-SDK documentation, appendix 4). Unlike the JS-SDK page signature, a card signature
 * is sha1 over the VALUES only, sorted as strings and concatenated. Empty values contribute nothing to the
 * concatenation, so omitting an empty field and including it give the same signature.
 */
import { sha1 } from '../crypto';

type Value = string | number | undefined | null;

function signValues(values: Value[]): string {
  const strings = values.filter((v): v is string | number => v !== undefined && v !== null && v !== '').map(String);
  // Default sort compares UTF-16 code units: byte order for the ASCII values WeChat uses.
  return sha1(strings.sort().join(''));
}

/** Inputs of the cardExt `signature` (wx.addCard). */
export interface CardExtSignInput {
  apiTicket: string;
  timestamp: string | number;
  cardId: string;
  code?: string;
  openid?: string;
  nonceStr?: string;
}

/** sha1 of the sorted values of api_ticket, timestamp, card_id, code, openid, nonce_str. */
export function cardExtSignature(input: CardExtSignInput): string {
  return signValues([input.apiTicket, input.timestamp, input.cardId, input.code, input.openid, input.nonceStr]);
}

/** Inputs of `cardSign` (wx.chooseCard). */
export interface CardSignInput {
  apiTicket: string;
  appId: string;
  /** The store (shop) id, `shopId` in wx.chooseCard. */
  locationId?: string | number;
  timestamp: string | number;
  nonceStr: string;
  cardId?: string;
  cardType?: string;
}

/** sha1 of the sorted values of api_ticket, appid, location_id, timestamp, nonce_str, card_id, card_type. */
export function cardSignature(input: CardSignInput): string {
  return signValues([
    input.apiTicket,
    input.appId,
    input.locationId,
    input.timestamp,
    input.nonceStr,
    input.cardId,
    input.cardType,
  ]);
}
