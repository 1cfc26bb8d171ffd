/**
 * wx.jssdk against the sandbox over HTTP: cold bursts (single flight), caching and re-signing, recovery from
 * revoked tokens, refresh-ahead and hard expiry on the sandbox clock, URL validation and the server-URL check.
 */
import { once } from 'node:events';
import { WechatError } from '../../lib/errors';
import { sha1 } from '../../lib/crypto';
import { HARD_EXPIRY_MARGIN_MS, REFRESH_AHEAD_MS } from '../../lib/credentials/Credential';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { MAX_URL_LENGTH } from '../../lib/jssdk/url';
import { Store } from '../../lib/store/Store';
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import type { ClientSignature } from '../../lib/jssdk/JSSDK';
import type { Wechat } from '../../lib/Wechat';
import { sandboxWith, wechatOn } from '../helpers';

const TOKEN = '/cgi-bin/stable_token';
const TICKET = '/cgi-bin/ticket/getticket';
const app = (n: number): SandboxApp => ({
  appId: `wxjssdk${String(n).padStart(9, '0')}`,
  appSecret: `jssdk-secret-${n}`,
});
const APPS = Array.from({ length: 32 }, (_, i) => app(i + 1));

let sandbox: Sandbox;
const opened: Wechat[] = [];
let nextApp = 0;

/** A Wechat on its own sandbox app, so one test's tokens never leak into another's. */
function freshWechat(options: Parameters<typeof wechatOn>[1] = {}): { wx: Wechat; appId: string } {
  const a = APPS[nextApp++];
  const wx = wechatOn(sandbox, options, a);
  opened.push(wx);
  return { wx, appId: a.appId };
}

function counter(): () => { token: number; ticket: number } {
  const token0 = sandbox.calls(TOKEN);
  const ticket0 = sandbox.calls(TICKET);
  return () => ({ token: sandbox.calls(TOKEN) - token0, ticket: sandbox.calls(TICKET) - ticket0 });
}

/** The ticket a signature was made with, among the app's live tickets (undefined when none verifies). */
function ticketOf(appId: string, sig: ClientSignature): string | undefined {
  return sandbox
    .liveTickets(appId)
    .find(
      (ticket) =>
        signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: sig.url }) === sig.signature,
    );
}

async function rejection(promise: Promise<unknown>): Promise<WechatError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WechatError);
  return err as WechatError;
}

beforeAll(async () => {
  sandbox = await sandboxWith(...APPS);
});

afterAll(async () => {
  for (const wx of opened) await wx.close();
  await sandbox.close();
});

describe('cold burst (single flight)', () => {
  it('1000 concurrent getSignature on one URL: one token request, one ticket request, every signature verifies', async () => {
    const { wx, appId } = freshWechat();
    const calls = counter();
    const url = 'https://example.com/page?from=burst';
    const sigs = await Promise.all(Array.from({ length: 1000 }, () => wx.jssdk.getSignature(url)));
    expect(calls()).toEqual({ token: 1, ticket: 1 });
    const live = sandbox.liveTickets(appId);
    expect(live).toHaveLength(1);
    for (const sig of sigs) {
      expect(sig.appId).toBe(appId);
      expect(sig.url).toBe(url);
      expect(sig.signature).toBe(
        signJsapiTicket({ ticket: live[0], nonceStr: sig.nonceStr, timestamp: sig.timestamp, url }),
      );
    }
  });

  it('1000 concurrent getSignature on 1000 different URLs: one token request, one ticket request, all verify', async () => {
    const { wx, appId } = freshWechat();
    const calls = counter();
    const urls = Array.from({ length: 1000 }, (_, i) => `https://example.com/item/${i}?q=${i}`);
    const sigs = await Promise.all(urls.map((url) => wx.jssdk.getSignature(url)));
    expect(calls()).toEqual({ token: 1, ticket: 1 });
    sigs.forEach((sig, i) => {
      expect(sig.url).toBe(urls[i]);
      expect(ticketOf(appId, sig)).toBeDefined();
    });
    expect(Object.keys(wx.store.store.urls)).toHaveLength(1000);
  });

  it('the classic token source also makes exactly one /cgi-bin/token request for a cold burst', async () => {
    const { wx, appId } = freshWechat({ tokenSource: 'classic' });
    const classic0 = sandbox.calls('/cgi-bin/token');
    const calls = counter();
    const sigs = await Promise.all(
      Array.from({ length: 300 }, (_, i) => wx.jssdk.getSignature(`https://example.com/c/${i % 7}`)),
    );
    expect(sandbox.calls('/cgi-bin/token') - classic0).toBe(1);
    expect(calls()).toEqual({ token: 0, ticket: 1 });
    for (const sig of sigs) expect(ticketOf(appId, sig)).toBeDefined();
  });
});

describe('signature cache', () => {
  it('reuses the signature for the same URL while the ticket lives, and asks WeChat nothing more', async () => {
    const { wx } = freshWechat();
    const url = 'https://example.com/cached';
    const first = await wx.jssdk.getSignature(url);
    const calls = counter();
    const again = await wx.jssdk.getSignature(`${url}#other-hash`);
    expect(again).toEqual(first);
    expect(calls()).toEqual({ token: 0, ticket: 0 });
  });

  it('re-signs after a ticket refresh, with the new ticket', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/resign';
    const first = await wx.jssdk.getSignature(url);
    const oldTicket = ticketOf(appId, first);
    const { jsapi_ticket: newTicket } = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(newTicket).not.toBe(oldTicket);
    const second = await wx.jssdk.getSignature(url);
    expect(second.signature).not.toBe(first.signature);
    expect(second.signature).toBe(
      signJsapiTicket({ ticket: newTicket, nonceStr: second.nonceStr, timestamp: second.timestamp, url }),
    );
  });

  it('getCachedSignature returns {} before signing and the cached signature after, without calling WeChat', async () => {
    const { wx } = freshWechat();
    const url = 'https://example.com/peek?a=1';
    const calls = counter();
    expect(await wx.jssdk.getCachedSignature(url)).toEqual({});
    expect(calls()).toEqual({ token: 0, ticket: 0 });
    const sig = await wx.jssdk.getSignature(url);
    expect(await wx.jssdk.getCachedSignature(`${url}#x`)).toEqual(sig);
  });

  it('createSignature always signs anew and replaces the cached one', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/create';
    const first = await wx.jssdk.getSignature(url);
    const created = await wx.jssdk.createSignature(url);
    expect(created.nonceStr).not.toBe(first.nonceStr);
    expect(ticketOf(appId, created)).toBeDefined();
    expect(await wx.jssdk.getCachedSignature(url)).toEqual(created);
    expect(await wx.jssdk.getSignature(url)).toEqual(created);
  });

  it('getSignature(url, true) (forceNew) signs anew; both signatures verify', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/force';
    const first = await wx.jssdk.getSignature(url);
    const calls = counter();
    const forced = await wx.jssdk.getSignature(url, true);
    expect(forced.nonceStr).not.toBe(first.nonceStr);
    expect(forced.signature).not.toBe(first.signature);
    expect(ticketOf(appId, first)).toBeDefined();
    expect(ticketOf(appId, forced)).toBeDefined();
    // A new nonce does not need a new ticket.
    expect(calls()).toEqual({ token: 0, ticket: 0 });
    expect(await wx.jssdk.getSignature(url)).toEqual(forced);
  });

  it('a store whose getSignature fails does not stop signing (it is treated as a miss and reported)', async () => {
    class NoReadStore extends Store {
      override getSignature(): Promise<undefined> {
        return Promise.reject(new Error('signature cache unavailable'));
      }
    }
    const { wx, appId } = freshWechat({ store: new NoReadStore({ noInterval: true, now: () => sandbox.now() }) });
    const errors: unknown[] = [];
    wx.on('refreshError', (err) => errors.push(err));
    const sig = await wx.jssdk.getSignature('https://example.com/no-read');
    expect(ticketOf(appId, sig)).toBeDefined();
    expect(errors.map((e) => (e as Error).message)).toContain('signature cache unavailable');
  });
});

describe('recovery from tokens killed behind our back', () => {
  it('after rotateToken, getGlobalTokenAndTicket(true) recovers with exactly one token refetch and no error', async () => {
    const { wx, appId } = freshWechat();
    const before = await wx.jssdk.getGlobalTokenAndTicket();
    sandbox.rotateToken(appId);
    const calls = counter();
    const after = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.jsapi_ticket).not.toBe(before.jsapi_ticket);
    // One failed getticket with the dead token, one refetch, one replay.
    expect(calls()).toEqual({ token: 1, ticket: 2 });
    const sig = await wx.jssdk.getSignature('https://example.com/after-rotate');
    expect(ticketOf(appId, sig)).toBe(after.jsapi_ticket);
  });

  it('after revokeStableToken: one normal stable_token call, then one force_refresh recorded in the store; a second revoke within 30 s is a clear error, no loop', async () => {
    const { wx, appId } = freshWechat();
    const before = await wx.jssdk.getGlobalTokenAndTicket();
    const revoked = sandbox.revokeStableToken(appId);
    expect(revoked).toBe(before.accessToken);

    const calls = counter();
    const after = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(calls()).toEqual({ token: 2, ticket: 2 });
    const global = await wx.store.getGlobalToken();
    expect(global.forceRefreshTimes).toHaveLength(1);
    expect(Math.abs(global.forceRefreshTimes![0] - sandbox.now())).toBeLessThan(5_000);
    expect(global.accessToken).toBe(after.accessToken);

    // Revoked again before the 30 s force_refresh interval has passed.
    sandbox.advance(10_000);
    sandbox.revokeStableToken(appId);
    const calls2 = counter();
    const err = await rejection(wx.jssdk.getGlobalTokenAndTicket(true));
    expect(err.code).toBe('FORCE_REFRESH_BUDGET');
    expect(err.message).toMatch(/force_refresh/);
    expect(err.message).not.toContain(after.accessToken);
    // One failed getticket, one normal stable_token that returned the dead token, no force, no replay.
    expect(calls2()).toEqual({ token: 1, ticket: 1 });
    expect((await wx.store.getGlobalToken()).forceRefreshTimes).toHaveLength(1);

    // Once the interval has passed, the next call recovers with a second force_refresh.
    sandbox.advance(30_000);
    const calls3 = counter();
    const recovered = await wx.jssdk.getGlobalTokenAndTicket(true);
    expect(recovered.accessToken).not.toBe(after.accessToken);
    expect(calls3().token).toBe(2);
    expect((await wx.store.getGlobalToken()).forceRefreshTimes).toHaveLength(2);
  });
});

describe('expiry on the sandbox clock', () => {
  it('inside REFRESH_AHEAD_MS: serves the current ticket at once and refreshes once in the background', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/ahead';
    const first = await wx.jssdk.getSignature(url);
    const oldTicket = wx.credentials.jsapiTicket.record!.value;
    const ticketExpiresAt = wx.credentials.jsapiTicket.record!.expiresAt;
    sandbox.setTime(ticketExpiresAt - REFRESH_AHEAD_MS + 30_000);

    const calls = counter();
    const ticketEvent = once(wx, 'ticket');
    const tokenEvent = once(wx, 'token');
    const served = await Promise.all(Array.from({ length: 50 }, () => wx.jssdk.getSignature(url)));
    for (const sig of served) expect(sig).toEqual(first);
    expect(await wx.jssdk.getGlobalTokenAndTicket()).toMatchObject({ jsapi_ticket: oldTicket });

    const [event] = await ticketEvent;
    await tokenEvent;
    // One background refresh of the ticket (and of the token, which is in its own window too).
    expect(calls()).toEqual({ token: 1, ticket: 1 });
    expect(event.expiresAt).toBeGreaterThan(ticketExpiresAt);
    const newTicket = wx.credentials.jsapiTicket.record!.value;
    expect(newTicket).not.toBe(oldTicket);

    const resigned = await wx.jssdk.getSignature(url);
    expect(resigned.signature).toBe(
      signJsapiTicket({ ticket: newTicket, nonceStr: resigned.nonceStr, timestamp: resigned.timestamp, url }),
    );
    expect(ticketOf(appId, resigned)).toBe(newTicket);
    expect(calls()).toEqual({ token: 1, ticket: 1 });
  });

  it('inside HARD_EXPIRY_MARGIN_MS: the call waits for a new ticket instead of handing out the dying one', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/hard';
    const first = await wx.jssdk.getSignature(url);
    const oldTicket = wx.credentials.jsapiTicket.record!.value;
    sandbox.setTime(wx.credentials.jsapiTicket.record!.expiresAt - HARD_EXPIRY_MARGIN_MS + 5_000);

    const calls = counter();
    const sig = await wx.jssdk.getSignature(url);
    expect(calls().ticket).toBe(1);
    expect(sig.signature).not.toBe(first.signature);
    const newTicket = wx.credentials.jsapiTicket.record!.value;
    expect(newTicket).not.toBe(oldTicket);
    expect(ticketOf(appId, sig)).toBe(newTicket);
  });

  it('long after expiry: everything is fetched again and the stale signature is not reused', async () => {
    const { wx, appId } = freshWechat();
    const url = 'https://example.com/expired';
    const first = await wx.jssdk.getSignature(url);
    sandbox.advance(3 * 60 * 60_000);
    expect(sandbox.liveTickets(appId)).toHaveLength(0);
    const calls = counter();
    const sig = await wx.jssdk.getSignature(url);
    expect(calls()).toEqual({ token: 1, ticket: 1 });
    expect(sig.signature).not.toBe(first.signature);
    expect(ticketOf(appId, sig)).toBeDefined();
  });
});

describe('URL validation', () => {
  let wx: Wechat;
  beforeAll(() => {
    wx = freshWechat().wx;
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { href: 'https://example.com' }],
  ])('rejects %s with BAD_URL', async (_what, url) => {
    const err = await rejection(wx.jssdk.getSignature(url as unknown as string));
    expect(err.code).toBe('BAD_URL');
    expect(err.message).toMatch(/url is required/);
  });

  it.each([
    ['ftp:', 'ftp://example.com/file', /http or https, not ftp/],
    ['javascript:', 'javascript:alert(1)', /http or https, not javascript/],
    ['data:', 'data:text/html,<script>1</script>', /http or https, not data/],
    ['relative', '/page?x=1', /not a valid absolute URL/],
    ['unparsable', 'http://', /not a valid absolute URL/],
    ['unparsable host', 'https://exa mple.com/', /not a valid absolute URL/],
    ['over 4096 chars', `https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, /longer than 4096/],
  ])('rejects %s with a message naming the problem', async (_what, url, message) => {
    const calls = counter();
    const err = await rejection(wx.jssdk.getSignature(url));
    expect(err.code).toBe('BAD_URL');
    expect(err.message).toMatch(message);
    // Nothing was fetched or cached for it.
    expect(calls()).toEqual({ token: 0, ticket: 0 });
    expect(wx.store.store.urls[url]).toBeUndefined();
  });

  it('accepts a URL of exactly 4096 characters', async () => {
    const base = 'https://example.com/';
    const url = base + 'a'.repeat(MAX_URL_LENGTH - base.length);
    expect(url).toHaveLength(MAX_URL_LENGTH);
    expect((await wx.jssdk.getSignature(url)).url).toBe(url);
  });

  it('createSignature and getCachedSignature validate too', async () => {
    expect((await rejection(wx.jssdk.createSignature('ftp://example.com'))).code).toBe('BAD_URL');
    expect((await rejection(wx.jssdk.getCachedSignature(''))).code).toBe('BAD_URL');
  });

  it('drops the hash and keeps the query string exactly as given (no re-encoding, no reordering)', async () => {
    const query = '?b=2&a=1&name=%E4%B8%AD%E6%96%87&raw=中文&sp=a b&empty=&plus=1+1';
    const url = `https://Example.com:8443/path/./x${query}`;
    const sig = await wx.jssdk.getSignature(`${url}#/spa/route?y=2`);
    expect(sig.url).toBe(url);
    expect(sig.signature).toBe(
      signJsapiTicket({
        ticket: wx.credentials.jsapiTicket.record!.value,
        nonceStr: sig.nonceStr,
        timestamp: sig.timestamp,
        url,
      }),
    );
  });
});

describe('allowedHosts', () => {
  let wx: Wechat;
  beforeAll(() => {
    wx = freshWechat({ allowedHosts: ['example.com', '*.example.org'] }).wx;
  });

  it.each([
    'https://example.com/a',
    'http://EXAMPLE.com:8080/b?c=1',
    'https://shop.example.org/',
    'https://a.b.example.org/x',
  ])('signs %s', async (url) => {
    const sig = await wx.jssdk.getSignature(url);
    expect(sig.url).toBe(url);
  });

  it.each([
    'https://evil.com/',
    'https://sub.example.com/', // a plain entry is that host only
    'https://evilexample.org/',
    'https://example.org.evil.net/',
    'https://example.com.evil.net/',
  ])('refuses %s with HOST_NOT_ALLOWED and caches nothing', async (url) => {
    const err = await rejection(wx.jssdk.getSignature(url));
    expect(err.code).toBe('HOST_NOT_ALLOWED');
    expect(err.message).toContain(new URL(url).hostname);
    expect(wx.store.store.urls[url]).toBeUndefined();
  });
});

describe('verifySignature (server URL check)', () => {
  const wechatToken = 'my-server-token';
  const signed = (timestamp: string, nonce: string) => sha1([wechatToken, timestamp, nonce].sort().join(''));

  it('accepts the signature WeChat computes and refuses anything else', () => {
    const { wx } = freshWechat({ wechatToken });
    const query = { timestamp: '1700000000', nonce: '12345', signature: signed('1700000000', '12345'), echostr: 'e' };
    expect(wx.jssdk.verifySignature(query)).toBe(true);
    expect(wx.jssdk.verifySignature({ ...query, timestamp: '1700000001' })).toBe(false);
    expect(wx.jssdk.verifySignature({ ...query, nonce: '12346' })).toBe(false);
    expect(
      wx.jssdk.verifySignature({ ...query, signature: query.signature.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }),
    ).toBe(false);
    // Different length: no throw from the constant-time compare, just false.
    expect(wx.jssdk.verifySignature({ ...query, signature: query.signature.slice(1) })).toBe(false);
    expect(wx.jssdk.verifySignature({ ...query, signature: '' })).toBe(false);
    expect(wx.jssdk.verifySignature({ timestamp: query.timestamp, nonce: query.nonce })).toBe(false);
    expect(wx.jssdk.verifySignature({ ...query, nonce: 12345 })).toBe(false);
    expect(wx.jssdk.verifySignature({ ...query, signature: ['x'] })).toBe(false);
    expect(wx.jssdk.verifySignature(undefined as never)).toBe(false);
  });

  it('sorts the three values (not a fixed order)', () => {
    const { wx } = freshWechat({ wechatToken });
    const timestamp = '0000';
    const nonce = 'zzzz';
    const unsorted = sha1(wechatToken + timestamp + nonce);
    expect(wx.jssdk.verifySignature({ timestamp, nonce, signature: unsorted })).toBe(false);
    expect(wx.jssdk.verifySignature({ timestamp, nonce, signature: signed(timestamp, nonce) })).toBe(true);
  });

  it('without wechatToken: a clear error', () => {
    const { wx } = freshWechat();
    let err: unknown;
    try {
      wx.jssdk.verifySignature({ timestamp: '1', nonce: '2', signature: 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WechatError);
    expect((err as WechatError).code).toBe('NO_WECHAT_TOKEN');
    expect((err as WechatError).message).toMatch(/wechatToken/);
  });
});
