/**
 * wx.card against the sandbox over HTTP: cardExt and cardSign verified with the sandbox's live wx_card tickets,
 * the api_ticket as its own cached credential (apart from the jsapi_ticket), its refresh after the access_token
 * was rotated elsewhere, and decrypting encrypt_codes with the 40001 recovery.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { HARD_EXPIRY_MARGIN_MS, REFRESH_AHEAD_MS } from '../../lib/credentials/Credential';
import { WechatApiError, WechatError } from '../../lib/errors';
import { cardExtSignature, cardSignature } from '../../lib/card/signature';
import { FileStore } from '../../lib/store/FileStore';
import type { Sandbox } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { APP, APP2, HOUR, MINUTE, sandboxWith, tempDir, wechatOn } from '../helpers';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';
const DECRYPT = '/card/code/decrypt';
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

let sandbox: Sandbox;
const opened: Wechat[] = [];

/** The ticket this instance signs with, checked to be one the sandbox (WeChat) considers live. */
async function liveCardTicket(wx: Wechat, appId = APP.appId): Promise<string> {
  const { ticket } = await wx.card!.getApiTicket();
  expect(sandbox.liveTickets(appId, 'wx_card')).toContain(ticket);
  return ticket;
}

function cardWechat(options: Parameters<typeof wechatOn>[1] = {}, app = APP): Wechat {
  const wx = wechatOn(sandbox, { card: true, ...options }, app);
  opened.push(wx);
  return wx;
}

beforeAll(async () => {
  sandbox = await sandboxWith(APP, APP2);
});
afterEach(async () => {
  for (const wx of opened.splice(0)) await wx.close();
});
afterAll(() => sandbox.close());

describe('getCardExt', () => {
  it('returns the cardExt JSON of wx.addCard, signed with a live wx_card ticket', async () => {
    const wx = cardWechat();
    const ext = JSON.parse(
      await wx.card!.getCardExt({
        cardId: 'pCard0001',
        code: '1434008071',
        openid: 'oUser0001',
        outerStr: 'channel-7',
        fixedBeginTimestamp: 1700000000,
      }),
    );
    expect(Object.keys(ext)).toEqual([
      'code',
      'openid',
      'timestamp',
      'nonce_str',
      'fixed_begintimestamp',
      'outer_str',
      'signature',
    ]);
    expect(ext.timestamp).toBe(String(Math.floor(sandbox.now() / 1000)));
    expect(ext.fixed_begintimestamp).toBe(1700000000);
    expect(ext.outer_str).toBe('channel-7');
    const ticket = await liveCardTicket(wx);
    // outer_str and fixed_begintimestamp are not signed; the six documented values are.
    const values = [ticket, ext.timestamp, 'pCard0001', '1434008071', 'oUser0001', ext.nonce_str].sort();
    expect(ext.signature).toBe(sha1(values.join('')));
    expect(ext.signature).toBe(
      cardExtSignature({
        apiTicket: ticket,
        timestamp: ext.timestamp,
        cardId: 'pCard0001',
        code: '1434008071',
        openid: 'oUser0001',
        nonceStr: ext.nonce_str,
      }),
    );
    expect(JSON.stringify(ext)).not.toContain(ticket);
  });

  it("leaves out what is not given and accepts wechat-jssdk's positional form", async () => {
    const wx = cardWechat();
    const minimal = JSON.parse(await wx.card!.getCardExt({ cardId: 'pCard0002' }));
    expect(Object.keys(minimal)).toEqual(['timestamp', 'nonce_str', 'signature']);
    const positional = JSON.parse(await wx.card!.getCardExt('pCard0003', 'C0DE', undefined, undefined, 'outer'));
    expect(positional.code).toBe('C0DE');
    expect(positional.outer_str).toBe('outer');
    const ticket = await liveCardTicket(wx);
    expect(positional.signature).toBe(
      cardExtSignature({
        apiTicket: ticket,
        timestamp: positional.timestamp,
        cardId: 'pCard0003',
        code: 'C0DE',
        nonceStr: positional.nonce_str,
      }),
    );
  });

  it('refuses bad input before touching WeChat', async () => {
    const wx = cardWechat();
    const before = sandbox.calls(TICKET);
    await expect(wx.card!.getCardExt({} as never)).rejects.toMatchObject({ code: 'BAD_CARD_INPUT' });
    await expect(wx.card!.getCardExt({ cardId: 'p', nonceStr: 'x'.repeat(33) })).rejects.toThrow(/1 to 32 characters/);
    await expect(wx.card!.getCardExt({ cardId: 'p', fixedBeginTimestamp: 'soon' })).rejects.toThrow(/seconds/);
    await expect(wx.card!.getCardExt({ cardId: 'p', code: {} as never })).rejects.toBeInstanceOf(WechatError);
    expect(sandbox.calls(TICKET)).toBe(before);
  });
});

describe('getCardSign', () => {
  it('returns the parameters of wx.chooseCard with a cardSign that verifies', async () => {
    const wx = cardWechat();
    const sign = await wx.card!.getCardSign({ cardId: 'pCard0004', cardType: 'GROUPON', locationId: 42 });
    expect(sign).toMatchObject({ shopId: '42', cardType: 'GROUPON', cardId: 'pCard0004', signType: 'SHA1' });
    expect(sign.timestamp).toBe(String(Math.floor(sandbox.now() / 1000)));
    const ticket = await liveCardTicket(wx);
    expect(sign.cardSign).toBe(
      sha1([ticket, APP.appId, '42', sign.timestamp, sign.nonceStr, 'pCard0004', 'GROUPON'].sort().join('')),
    );
    const all = await wx.card!.getCardSignature();
    expect(all).toMatchObject({ shopId: '', cardType: '', cardId: '' });
    expect(all.cardSign).toBe(
      cardSignature({ apiTicket: ticket, appId: APP.appId, timestamp: all.timestamp, nonceStr: all.nonceStr }),
    );
  });
});

describe('the wx_card api_ticket credential', () => {
  it('is fetched once, cached, and kept apart from the jsapi_ticket', async () => {
    const wx = cardWechat();
    const tickets = sandbox.calls(TICKET);
    await wx.card!.getCardExt({ cardId: 'pA' });
    await wx.card!.getCardSign();
    await wx.card!.getCardExt({ cardId: 'pB' });
    expect(sandbox.calls(TICKET) - tickets).toBe(1);
    const card = await wx.card!.getApiTicket();
    await wx.jssdk.getSignature('https://example.com/page');
    expect(sandbox.calls(TICKET) - tickets).toBe(2);
    const jsapi = await wx.credentials.jsapiTicket.get();
    expect(card.ticket).not.toBe(jsapi);
    expect(sandbox.liveTickets(APP.appId, 'wx_card')).toContain(card.ticket);
    expect(sandbox.liveTickets(APP.appId, 'jsapi')).toContain(jsapi);
    expect((await wx.store.getCardTicket()).ticket).toBe(card.ticket);
    expect((await wx.store.getGlobalToken()).jsapi_ticket).toBe(jsapi);
    expect(card.expiresAt).toBe(card.fetchedAt + 7200 * 1000);
  });

  it('is refetched once after the access_token was rotated elsewhere (40001, one new token)', async () => {
    const wx = cardWechat({}, APP2);
    await wx.card!.getCardExt({ cardId: 'pC' });
    const first = (await wx.card!.getApiTicket()).ticket;
    // Near the end of the token's life the SDK refreshes it ahead of expiry; the ticket keeps its older expiry.
    sandbox.advance(2 * HOUR - REFRESH_AHEAD_MS + MINUTE);
    await wx.credentials.accessToken.refresh({});
    // Another system rotates the token; then the ticket reaches its hard expiry while our token looks valid.
    sandbox.rotateToken(APP2.appId);
    sandbox.advance(REFRESH_AHEAD_MS - HARD_EXPIRY_MARGIN_MS);
    const tokens = sandbox.calls(TOKEN);
    const tickets = sandbox.calls(TICKET);
    const ext = JSON.parse(await wx.card!.getCardExt({ cardId: 'pC' }));
    expect(sandbox.calls(TOKEN) - tokens).toBe(1);
    expect(sandbox.calls(TICKET) - tickets).toBe(2);
    const second = (await wx.card!.getApiTicket()).ticket;
    expect(second).not.toBe(first);
    expect(ext.signature).toBe(
      cardExtSignature({ apiTicket: second, timestamp: ext.timestamp, cardId: 'pC', nonceStr: ext.nonce_str }),
    );
    expect(sandbox.liveTickets(APP2.appId, 'wx_card')).toContain(second);
  });

  it('is shared through a FileStore: a restarted process reuses it without calling WeChat', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fileStorePath = path.join(dir, 'wechat.json');
      const store = () => new FileStore({ fileStorePath, noInterval: true, now: () => sandbox.now() });
      const a = cardWechat({ store: store() });
      const ticket = (await a.card!.getApiTicket()).ticket;
      await a.close();
      const tickets = sandbox.calls(TICKET);
      const b = cardWechat({ store: store() });
      expect((await b.card!.getApiTicket()).ticket).toBe(ticket);
      expect(sandbox.calls(TICKET)).toBe(tickets);
    } finally {
      cleanup();
    }
  });

  it('emits a ticket event named wx_card_ticket, and wx.card is absent unless card: true', async () => {
    const wx = cardWechat();
    const names: string[] = [];
    wx.on('ticket', (e) => names.push(e.name));
    await wx.card!.getApiTicket();
    expect(names).toEqual(['wx_card_ticket']);
    const plain = wechatOn(sandbox);
    opened.push(plain);
    expect(plain.card).toBeUndefined();
  });
});

describe('decryptCardCode', () => {
  it('turns an encrypt_code back into the card code', async () => {
    const wx = cardWechat();
    const encrypted = sandbox.encryptCardCode(APP.appId, '751234212312');
    await expect(wx.card!.decryptCardCode(encrypted)).resolves.toMatchObject({ code: '751234212312' });
  });

  it('recovers once from a rotated token: one new token, one replayed call', async () => {
    const wx = cardWechat();
    await wx.card!.decryptCardCode(sandbox.encryptCardCode(APP.appId, '111'));
    sandbox.rotateToken(APP.appId);
    const tokens = sandbox.calls(TOKEN);
    const calls = sandbox.calls(DECRYPT);
    await expect(wx.card!.decryptCardCode(sandbox.encryptCardCode(APP.appId, '222'))).resolves.toMatchObject({
      code: '222',
    });
    expect(sandbox.calls(TOKEN) - tokens).toBe(1);
    expect(sandbox.calls(DECRYPT) - calls).toBe(2);
  });

  it("another app's or an unknown encrypt_code is a typed WeChat error without the code", async () => {
    const wx = cardWechat();
    const foreign = sandbox.encryptCardCode(APP2.appId, '333');
    const err = await wx.card!.decryptCardCode(foreign).catch((e) => e);
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.errcode).toBe(40056);
    expect(err.message).not.toContain(foreign);
    await expect(wx.card!.decryptCardCode('')).rejects.toMatchObject({ code: 'BAD_CARD_INPUT' });
  });
});
