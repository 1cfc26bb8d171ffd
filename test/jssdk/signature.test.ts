/**
 * JS-SDK signing against WeChat's published example (JS-SDK documentation, appendix 1), through the pure
 * `signJsapiTicket`, the static `JSSDK.generateSignature`, and the facade reading the ticket from its store.
 */
import { createHash } from 'node:crypto';
import vectors from '../fixtures/wechat-vectors.json';
import { JSSDK } from '../../lib/jssdk/JSSDK';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { Store } from '../../lib/store/Store';
import type { Sandbox } from '../../lib/sandbox';
import { APP, HOUR, sandboxWith, wechatOn } from '../helpers';

const vector = vectors.jssdkSignature;
const input = {
  ticket: vector.input.jsapi_ticket,
  nonceStr: vector.input.noncestr,
  timestamp: vector.input.timestamp,
  url: vector.input.url,
};

describe('signJsapiTicket: WeChat published vector', () => {
  it('gives the published signature', () => {
    expect(signJsapiTicket(input)).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
    expect(signJsapiTicket(input)).toBe(vector.signature);
  });

  it('hashes exactly the documented string (keys in ASCII order, raw values)', () => {
    expect(createHash('sha1').update(vector.stringToSign).digest('hex')).toBe(signJsapiTicket(input));
  });

  it('accepts the timestamp as a number', () => {
    expect(signJsapiTicket({ ...input, timestamp: Number(input.timestamp) })).toBe(vector.signature);
  });

  it.each([
    ['ticket', { ticket: input.ticket + 'x' }],
    ['nonceStr', { nonceStr: 'Wm3WZYTPz0wzccnX' }],
    ['timestamp', { timestamp: '1414587458' }],
    ['url', { url: 'http://mp.weixin.qq.com?params=value2' }],
  ])('changes when %s changes', (_field, change) => {
    expect(signJsapiTicket({ ...input, ...change })).not.toBe(vector.signature);
  });
});

describe('JSSDK.generateSignature', () => {
  it('signs with the given ticket at the given time; the result recomputes to its own signature', () => {
    const info = JSSDK.generateSignature(input.url, undefined, input.ticket, Number(input.timestamp) * 1000);
    expect(info.timestamp).toBe(vector.input.timestamp);
    expect(info.url).toBe(vector.input.url);
    expect(info.nonceStr).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(info.signature).toBe(signJsapiTicket({ ...input, nonceStr: info.nonceStr }));
  });

  it('with the published nonce it would produce the published signature (same formula, same inputs)', () => {
    const info = JSSDK.generateSignature(input.url, 'ignored-token', input.ticket, Number(input.timestamp) * 1000);
    // generateSignature draws its nonce from crypto; swapping in the published nonce must give the vector.
    expect(
      signJsapiTicket({
        ticket: input.ticket,
        nonceStr: vector.input.noncestr,
        timestamp: info.timestamp,
        url: info.url,
      }),
    ).toBe(vector.signature);
  });

  it('drops the #hash and keeps the query string exactly', () => {
    const info = JSSDK.generateSignature(`${input.url}#/route?x=1`, undefined, input.ticket);
    expect(info.url).toBe(input.url);
  });

  it('draws a fresh nonce each time', () => {
    const nonces = new Set(
      Array.from({ length: 200 }, () => JSSDK.generateSignature(input.url, undefined, input.ticket).nonceStr),
    );
    expect(nonces.size).toBe(200);
  });
});

describe('the facade signs with the ticket it holds, exactly as the vector does', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await sandboxWith(APP);
  });
  afterAll(() => sandbox.close());

  it('adopts the published ticket from the store (read-through) and signs the published URL at the published time', async () => {
    // Frozen so that the timestamp is exactly the published one.
    sandbox.freeze(true);
    sandbox.setTime(Number(vector.input.timestamp) * 1000);
    const store = new Store({ noInterval: true, now: () => sandbox.now() });
    const wx = wechatOn(sandbox, { store });
    try {
      await store.updateGlobalToken({
        jsapi_ticket: input.ticket,
        jsapi_ticketExpiresAt: sandbox.now() + HOUR,
        jsapi_ticketFetchedAt: sandbox.now(),
      });
      const sig = await wx.jssdk.getSignature(`${input.url}#section`);
      expect(sig.url).toBe(input.url);
      expect(sig.timestamp).toBe(vector.input.timestamp);
      expect(sig.appId).toBe(APP.appId);
      expect(sig.signature).toBe(signJsapiTicket({ ...input, nonceStr: sig.nonceStr }));
      // The ticket came from the store: WeChat was not asked.
      expect(sandbox.calls('/cgi-bin/ticket/getticket')).toBe(0);
      expect(sandbox.calls('/cgi-bin/stable_token')).toBe(0);
    } finally {
      await wx.close();
    }
  });
});
