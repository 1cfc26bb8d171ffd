/**
 * WeChat cards (卡券): the `wx_card` api_ticket, the signatures of wx.addCard (cardExt) and wx.chooseCard
 * (cardSign), and decrypting a card's encrypt_code. Method names follow wechat-jssdk 5.x (`wx.card`).
 *
 * The api_ticket is a credential of its own (separate from the jsapi_ticket, kept in the store's card record)
 * fetched with the official account's access_token; WeChat limits how often it may be fetched, so it is cached and
 * shared through the store like every other credential.
 */
import { WechatError, isTokenInvalidError } from '../errors';
import { nonceStr as randomNonce } from '../crypto';
import type { HttpClient } from '../http/HttpClient';
import { Credential, withCredential, type CredentialRecord } from '../credentials/Credential';
import { cardTicketBackend } from '../credentials/backends';
import { ticketFetcher } from '../credentials/sources';
import type { Store } from '../store/Store';
import { CARD_TYPE, CODE_TYPE } from './constants';
import { cardExtSignature, cardSignature } from './signature';

export interface CardOptions {
  /** The official account's appId (it owns the cards). */
  appId: string;
  http: HttpClient;
  store: Store;
  /** The official account's access_token credential. */
  accessToken: Credential;
  /** wechat-jssdk override: absolute URL of the ticket endpoint. */
  ticketUrl?: string;
  now?: () => number;
  onRefresh?(record: CredentialRecord, name: string): void;
  onError?(err: unknown, name?: string): void;
}

export interface CardExtOptions {
  cardId: string;
  /** Only for cards created with use_custom_code. */
  code?: string;
  /** Only for cards created with bind_openid: the one user who may take it. */
  openid?: string;
  /** Channel value reported back in the card events (not signed). */
  outerStr?: string;
  /** Real start time (seconds, UTC+8) for DATE_TYPE_FIX_TERM cards (not signed). */
  fixedBeginTimestamp?: number | string;
  /** Override the random nonce (at most 32 characters). */
  nonceStr?: string;
}

export interface CardSignOptions {
  cardId?: string;
  cardType?: string;
  /** The store id (`shopId` of wx.chooseCard, `location_id` in the signature). */
  locationId?: string | number;
}

/** Exactly the parameters of wx.chooseCard. */
export interface ChooseCardSignature {
  shopId: string;
  cardType: string;
  cardId: string;
  timestamp: string;
  nonceStr: string;
  signType: 'SHA1';
  cardSign: string;
}

export interface CardTicket {
  ticket: string;
  expiresAt: number;
  fetchedAt: number;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new WechatError(`${name} must be a string`, 'BAD_CARD_INPUT');
  }
  return String(value);
}

export class Card {
  static readonly CODE_TYPE = CODE_TYPE;
  static readonly CARD_TYPE = CARD_TYPE;

  readonly appId: string;
  /** The wx_card api_ticket. */
  readonly apiTicket: Credential;
  private readonly now: () => number;

  constructor(private readonly options: CardOptions) {
    this.appId = options.appId;
    this.now = options.now ?? Date.now;
    this.apiTicket = new Credential({
      name: 'wx_card_ticket',
      backend: cardTicketBackend(options.store),
      fetch: ticketFetcher({
        http: options.http,
        token: options.accessToken,
        type: 'wx_card',
        ticketUrl: options.ticketUrl,
        now: this.now,
      }),
      now: this.now,
      onRefresh: options.onRefresh,
      onError: options.onError,
    });
  }

  /** The live api_ticket with its expiry (wechat-jssdk resolves the ticket record too). */
  async getApiTicket(): Promise<CardTicket> {
    const ticket = await this.apiTicket.get();
    const record = this.apiTicket.record;
    return { ticket, expiresAt: record?.expiresAt ?? 0, fetchedAt: record?.fetchedAt ?? 0 };
  }

  /**
   * The `cardExt` JSON string of wx.addCard for one card. Also accepts wechat-jssdk's positional form
   * `getCardExt(cardId, code, openid, fixedBeginTimestamp, outerStr)`.
   */
  getCardExt(options: CardExtOptions): Promise<string>;
  getCardExt(
    cardId: string,
    code?: string,
    openid?: string,
    fixedBeginTimestamp?: number | string,
    outerStr?: string,
  ): Promise<string>;
  async getCardExt(
    first: CardExtOptions | string,
    code?: string,
    openid?: string,
    fixedBeginTimestamp?: number | string,
    outerStr?: string,
  ): Promise<string> {
    const o: CardExtOptions =
      typeof first === 'string'
        ? { cardId: first, code, openid, fixedBeginTimestamp, outerStr }
        : (first ?? ({} as CardExtOptions));
    if (typeof o.cardId !== 'string' || o.cardId === '') {
      throw new WechatError('getCardExt needs cardId (the id of the card to add)', 'BAD_CARD_INPUT');
    }
    const ext: Record<string, string | number> = {};
    const cardCode = optionalString('code', o.code);
    const cardOpenid = optionalString('openid', o.openid);
    const outer = optionalString('outerStr', o.outerStr);
    let fixedBegin: number | undefined;
    if (o.fixedBeginTimestamp !== undefined && o.fixedBeginTimestamp !== null && o.fixedBeginTimestamp !== '') {
      fixedBegin = Number(o.fixedBeginTimestamp);
      if (!Number.isInteger(fixedBegin) || fixedBegin <= 0) {
        throw new WechatError('fixedBeginTimestamp must be a time in seconds', 'BAD_CARD_INPUT');
      }
    }
    const nonce = this.nonce(o.nonceStr);
    const timestamp = this.timestamp();
    const apiTicket = await this.apiTicket.get();

    if (cardCode !== undefined) ext.code = cardCode;
    if (cardOpenid !== undefined) ext.openid = cardOpenid;
    ext.timestamp = timestamp;
    ext.nonce_str = nonce;
    if (fixedBegin !== undefined) ext.fixed_begintimestamp = fixedBegin;
    if (outer !== undefined) ext.outer_str = outer;
    ext.signature = cardExtSignature({
      apiTicket,
      timestamp,
      cardId: o.cardId,
      code: cardCode,
      openid: cardOpenid,
      nonceStr: nonce,
    });
    return JSON.stringify(ext);
  }

  /** The parameters of wx.chooseCard, signed (`cardSign`). All filters are optional. */
  async getCardSign(options: CardSignOptions = {}): Promise<ChooseCardSignature> {
    const cardId = optionalString('cardId', options.cardId) ?? '';
    const cardType = optionalString('cardType', options.cardType) ?? '';
    const shopId = optionalString('locationId', options.locationId) ?? '';
    const nonce = this.nonce();
    const timestamp = this.timestamp();
    const apiTicket = await this.apiTicket.get();
    const cardSign = cardSignature({
      apiTicket,
      appId: this.appId,
      locationId: shopId,
      timestamp,
      nonceStr: nonce,
      cardId,
      cardType,
    });
    return { shopId, cardType, cardId, timestamp, nonceStr: nonce, signType: 'SHA1', cardSign };
  }

  /** wechat-jssdk's name and argument order for getCardSign. */
  getCardSignature(shopId?: string, cardType?: string, cardId?: string): Promise<ChooseCardSignature> {
    return this.getCardSign({ locationId: shopId, cardType, cardId });
  }

  /**
   * The real code of a card from the `encrypt_code` WeChat hands to pages (POST /card/code/decrypt); resolves
   * WeChat's answer (`code` inside). A revoked access_token is replaced once.
   */
  async decryptCardCode(encryptCode: string): Promise<{ code: string; errcode?: number; errmsg?: string }> {
    if (typeof encryptCode !== 'string' || encryptCode === '') {
      throw new WechatError('decryptCardCode needs the encrypt_code string', 'BAD_CARD_INPUT');
    }
    const body = await withCredential(
      this.options.accessToken,
      (accessToken) =>
        this.options.http.post<{ code?: unknown; errcode?: number; errmsg?: string }>(
          '/card/code/decrypt',
          { encrypt_code: encryptCode },
          { access_token: accessToken },
          { idempotent: true, label: '/card/code/decrypt' },
        ),
      isTokenInvalidError,
    );
    if (typeof body.code !== 'string')
      throw new WechatError('WeChat /card/code/decrypt returned no code', 'BAD_RESPONSE');
    return body as { code: string; errcode?: number; errmsg?: string };
  }

  close(): void {
    this.apiTicket.close();
  }

  private timestamp(): string {
    return String(Math.floor(this.now() / 1000));
  }

  private nonce(given?: string): string {
    if (given === undefined) return randomNonce();
    if (typeof given !== 'string' || given === '' || given.length > 32) {
      throw new WechatError('nonceStr must be a string of 1 to 32 characters', 'BAD_CARD_INPUT');
    }
    return given;
  }
}

export default Card;
