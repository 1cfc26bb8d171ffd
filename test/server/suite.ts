/**
 * One suite for both server helpers (express and koa): each test file starts its framework with the helper on a
 * real port, in front of a Wechat talking to the sandbox over HTTP, and sends real HTTP requests.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { sha1 } from '../../lib/crypto';
import type { Sandbox } from '../../lib/sandbox';
import type { Wechat, WechatOptions } from '../../lib/Wechat';
import type { OAuthLogin } from '../../lib/server/routes';
import { APP, sandboxWith, wechatOn } from '../helpers';

export interface HelperOptions {
  prefix?: string;
  allowedHosts?: string[];
  /** OAuth routes on; `onLogin` gets the user (throwing in it must become a 500). */
  onLogin?: (login: OAuthLogin) => void;
}

/** Start the framework with the helper; other paths answer 'app' (to see requests pass through). */
export type StartApp = (wx: Wechat, options: HelperOptions) => Server;

const TOKEN = 'server-config-token';

export function helperSuite(name: string, startApp: StartApp): void {
  describe(`${name} helper`, () => {
    let sandbox: Sandbox;
    const servers: Server[] = [];
    const wechats: Wechat[] = [];

    beforeAll(async () => {
      sandbox = await sandboxWith(APP);
    });

    afterEach(() => sandbox.clearFaults());

    afterAll(async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
      for (const wx of wechats) await wx.close();
      await sandbox.close();
    });

    /** A Wechat on the sandbox (own memory store, so no cached ticket) behind the helper; returns its base URL. */
    async function serve(options: HelperOptions = {}, wxOptions: Partial<WechatOptions> = {}) {
      const wx = wechatOn(sandbox, {
        wechatToken: TOKEN,
        oauthUrl: `${sandbox.url}/connect/oauth2/authorize`,
        ...wxOptions,
      } as Partial<WechatOptions>);
      wechats.push(wx);
      const server = startApp(wx, options);
      servers.push(server);
      if (!server.listening) await new Promise((r) => server.once('listening', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return { wx, base };
    }

    const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: 'manual', headers });

    async function json(response: Response): Promise<any> {
      expect(response.headers.get('content-type')).toContain('application/json');
      return response.json();
    }

    /** A body must not carry an upstream page, a stack trace or a credential. */
    function expectClean(body: unknown, ...secrets: string[]): void {
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
      for (const secret of secrets) expect(text).not.toContain(secret);
    }

    describe('GET <prefix>/signature', () => {
      it('signs the page URL without its #hash, with the live jsapi_ticket', async () => {
        const { base } = await serve();
        const page = `${base}/shop/item?id=7&from=timeline#reviews`;
        const response = await get(`${base}/wechat/signature?url=${encodeURIComponent(page)}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('cache-control')).toBe('no-store');
        const body = await json(response);
        expect(body).toEqual({
          appId: APP.appId,
          timestamp: expect.stringMatching(/^\d+$/),
          nonceStr: expect.any(String),
          signature: expect.stringMatching(/^[0-9a-f]{40}$/),
          url: `${base}/shop/item?id=7&from=timeline`,
        });
        const valid = sandbox
          .liveTickets(APP.appId)
          .some(
            (ticket) =>
              signJsapiTicket({ ticket, nonceStr: body.nonceStr, timestamp: body.timestamp, url: body.url }) ===
              body.signature,
          );
        expect(valid).toBe(true);
      });

      it.each([
        ['missing', ''],
        ['empty', '?url='],
        ['not absolute', '?url=%2Fpage'],
        ['not http', `?url=${encodeURIComponent('javascript:alert(1)')}`],
        ['given twice', '?url=http%3A%2F%2F127.0.0.1%2Fa&url=http%3A%2F%2F127.0.0.1%2Fb'],
      ])('answers 400 when the url is %s', async (_case, query) => {
        const { base } = await serve();
        const response = await get(`${base}/wechat/signature${query}`);
        expect(response.status).toBe(400);
        const body = await json(response);
        expect(body).toEqual({ error: 'bad_url', message: expect.any(String) });
        expectClean(body);
      });

      it("answers 403 for a page on another host (default: only the request's own host)", async () => {
        const { base } = await serve();
        const ticketCalls = sandbox.calls('/cgi-bin/ticket/getticket');
        const response = await get(`${base}/wechat/signature?url=${encodeURIComponent('https://evil.example/x')}`);
        expect(response.status).toBe(403);
        expect(await json(response)).toEqual({
          error: 'host_not_allowed',
          message: expect.stringContaining('evil.example'),
        });
        expect(sandbox.calls('/cgi-bin/ticket/getticket')).toBe(ticketCalls);
      });

      it('follows allowedHosts (helper option first, then wx.options.allowedHosts)', async () => {
        const { base } = await serve({ allowedHosts: ['.example.com'] });
        const sign = (url: string) => get(`${base}/wechat/signature?url=${encodeURIComponent(url)}`);
        expect((await sign('https://m.example.com/a')).status).toBe(200);
        expect((await sign('https://example.com/a')).status).toBe(200);
        expect((await sign(`${base}/a`)).status).toBe(403);
        expect((await sign('https://example.com.evil.io/a')).status).toBe(403);

        const second = await serve({}, { allowedHosts: ['shop.example.org'] });
        const viaWx = (url: string) => get(`${second.base}/wechat/signature?url=${encodeURIComponent(url)}`);
        expect((await viaWx('https://shop.example.org/')).status).toBe(200);
        expect((await viaWx(`${second.base}/`)).status).toBe(403);
      });

      it('answers 502 without the upstream body when WeChat fails (HTTP 500 page)', async () => {
        const { base } = await serve();
        sandbox.fault('/cgi-bin/ticket/getticket', {
          status: 500,
          body: '<html>Internal error UPSTREAM_PAGE_MARKER</html>',
        });
        const response = await get(`${base}/wechat/signature?url=${encodeURIComponent(`${base}/p`)}`);
        expect(response.status).toBe(502);
        const body = await json(response);
        expect(body).toEqual({ error: 'upstream', message: expect.any(String) });
        expectClean(body, 'UPSTREAM_PAGE_MARKER', APP.appSecret);
      });

      it('answers 502 with only the errcode when WeChat refuses (errmsg and tokens stay out)', async () => {
        const { base } = await serve();
        sandbox.fault('/cgi-bin/stable_token', { errcode: 40164, errmsg: 'invalid ip 203.0.113.9, not in whitelist' });
        const response = await get(`${base}/wechat/signature?url=${encodeURIComponent(`${base}/p`)}`);
        expect(response.status).toBe(502);
        const body = await json(response);
        expect(body.error).toBe('upstream');
        expect(body.message).toContain('40164');
        expectClean(body, '203.0.113.9', 'whitelist', APP.appSecret);
      });

      it('leaves other methods and paths to the app', async () => {
        const { base } = await serve();
        const post = await fetch(`${base}/wechat/signature?url=x`, { method: 'POST' });
        expect(post.status).toBe(404);
        const other = await get(`${base}/other`);
        expect(await other.text()).toBe('app');
      });

      it('serves under a custom prefix', async () => {
        const { base } = await serve({ prefix: '/api/wx/' });
        const url = encodeURIComponent(`${base}/p`);
        expect((await get(`${base}/api/wx/signature?url=${url}`)).status).toBe(200);
        expect((await get(`${base}/wechat/signature?url=${url}`)).status).toBe(404);
      });
    });

    describe('GET <prefix> (server URL verification)', () => {
      const signed = (token: string, echostr = 'echo-1234567890') => {
        const timestamp = '1700000000';
        const nonce = 'n0nce';
        const signature = sha1([token, timestamp, nonce].sort().join(''));
        return `?${new URLSearchParams({ signature, timestamp, nonce, echostr })}`;
      };

      it('echoes echostr as plain text when the signature matches the Token', async () => {
        const { base } = await serve();
        const response = await get(`${base}/wechat${signed(TOKEN, '<b>6543</b>')}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toContain('text/plain');
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(await response.text()).toBe('<b>6543</b>');
      });

      it('answers 401 when the signature was made with another Token', async () => {
        const { base } = await serve();
        const response = await get(`${base}/wechat${signed('some-other-token')}`);
        expect(response.status).toBe(401);
        const body = await json(response);
        expect(body.error).toBe('bad_signature');
        expectClean(body, 'echo-1234567890', TOKEN);
      });

      it('answers 400 without the parameters, and 500 naming the option when no wechatToken is set', async () => {
        const { base } = await serve();
        expect((await get(`${base}/wechat`)).status).toBe(400);
        const noToken = await serve({}, { wechatToken: undefined });
        const response = await get(`${noToken.base}/wechat${signed(TOKEN)}`);
        expect(response.status).toBe(500);
        expect(await json(response)).toEqual({
          error: 'not_configured',
          message: expect.stringContaining('wechatToken'),
        });
      });
    });

    describe('OAuth routes', () => {
      async function startLogin(base: string, query = '?scope=snsapi_userinfo&returnTo=%2Fme%3Ftab%3D1') {
        const response = await get(`${base}/wechat/oauth${query}`);
        expect(response.status).toBe(302);
        const location = new URL(response.headers.get('location')!);
        const cookie = response.headers.get('set-cookie') ?? '';
        return { location, state: location.searchParams.get('state')!, cookie: cookie.split(';')[0] };
      }

      it('sends the user to the consent page with a session-bound state, and completes the login', async () => {
        const logins: OAuthLogin[] = [];
        const { base } = await serve({ onLogin: (login) => logins.push(login) });
        const { location, state, cookie } = await startLogin(base);
        expect(`${location.origin}${location.pathname}`).toBe(`${sandbox.url}/connect/oauth2/authorize`);
        expect(location.searchParams.get('scope')).toBe('snsapi_userinfo');
        expect(location.searchParams.get('redirect_uri')).toBe(`${base}/wechat/oauth-callback`);
        expect(location.hash).toBe('#wechat_redirect');
        expect(cookie).toMatch(/^wechat_sid=[A-Za-z0-9_-]{32}$/);

        const code = sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo');
        const callback = await get(`${base}/wechat/oauth-callback?code=${code}&state=${state}`, { cookie });
        expect(callback.status).toBe(302);
        expect(callback.headers.get('location')).toBe('/me?tab=1');
        expect(logins).toHaveLength(1);
        expect(logins[0]).toMatchObject({
          scope: 'snsapi_userinfo',
          openid: sandbox.openid(APP.appId, 'alice'),
          sessionId: cookie.split('=')[1],
          returnTo: '/me?tab=1',
          profile: expect.objectContaining({ nickname: 'Alice 爱丽丝', city: 'Shenzhen' }),
        });
        expectClean(logins[0], code);
        expect(JSON.stringify(logins[0])).not.toMatch(/access_token|refresh_token/);
      });

      it('logs in silently with snsapi_base (openid, no profile)', async () => {
        const logins: OAuthLogin[] = [];
        const { base } = await serve({ onLogin: (login) => logins.push(login) });
        const { state, cookie } = await startLogin(base, '?scope=snsapi_base');
        const code = sandbox.authorize(APP.appId, 'bob', 'snsapi_base');
        const callback = await get(`${base}/wechat/oauth-callback?code=${code}&state=${state}`, { cookie });
        expect(callback.status).toBe(302);
        expect(callback.headers.get('location')).toBe('/');
        expect(logins[0]).toMatchObject({ scope: 'snsapi_base', openid: sandbox.openid(APP.appId, 'bob') });
        expect(logins[0].profile).toBeUndefined();
      });

      it('answers 403 for a state from another session, a missing session or a reused state', async () => {
        const logins: OAuthLogin[] = [];
        const { base } = await serve({ onLogin: (login) => logins.push(login) });
        const mine = await startLogin(base);
        const theirs = await startLogin(base);
        const code = () => sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo');
        const callback = (state: string, cookie?: string) =>
          get(`${base}/wechat/oauth-callback?code=${code()}&state=${state}`, cookie ? { cookie } : {});

        const foreign = await callback(theirs.state, mine.cookie);
        expect(foreign.status).toBe(403);
        expect((await json(foreign)).error).toBe('bad_state');
        expect((await callback(mine.state)).status).toBe(403);
        expect((await callback('forged123', mine.cookie)).status).toBe(403);
        expect((await callback(mine.state, mine.cookie)).status).toBe(302);
        expect((await callback(mine.state, mine.cookie)).status).toBe(403);
        expect(logins).toHaveLength(1);
      });

      it('answers 400 for no code, a used code, a bad scope or an absolute returnTo', async () => {
        const { base } = await serve({ onLogin: () => undefined });
        const first = await startLogin(base);
        const noCode = await get(`${base}/wechat/oauth-callback?state=${first.state}`, { cookie: first.cookie });
        expect(noCode.status).toBe(400);
        expect((await json(noCode)).error).toBe('no_code');

        const code = sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo');
        const ok = await get(`${base}/wechat/oauth-callback?code=${code}&state=${first.state}`, {
          cookie: first.cookie,
        });
        expect(ok.status).toBe(302);
        const second = await startLogin(base);
        const reused = await get(`${base}/wechat/oauth-callback?code=${code}&state=${second.state}`, {
          cookie: second.cookie,
        });
        expect(reused.status).toBe(400);
        const body = await json(reused);
        expect(body.error).toBe('bad_code');
        expectClean(body, code);

        expect((await get(`${base}/wechat/oauth?scope=snsapi_login`)).status).toBe(400);
        const open = await get(`${base}/wechat/oauth?returnTo=${encodeURIComponent('https://evil.example/')}`);
        expect(open.status).toBe(400);
        expect((await json(open)).error).toBe('bad_return_to');
      });

      it('answers 502 when WeChat fails the code exchange, and 500 when onLogin throws', async () => {
        const { base } = await serve({
          onLogin: () => {
            throw new Error('database down at /srv/app/users.ts:12');
          },
        });
        const first = await startLogin(base);
        sandbox.fault('/sns/oauth2/access_token', { status: 503, body: 'UPSTREAM_OAUTH_MARKER' });
        const code = sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo');
        const failed = await get(`${base}/wechat/oauth-callback?code=${code}&state=${first.state}`, {
          cookie: first.cookie,
        });
        expect(failed.status).toBe(502);
        expectClean(await json(failed), 'UPSTREAM_OAUTH_MARKER', code, APP.appSecret);
        sandbox.clearFaults();

        const second = await startLogin(base);
        const code2 = sandbox.authorize(APP.appId, 'alice', 'snsapi_userinfo');
        const broken = await get(`${base}/wechat/oauth-callback?code=${code2}&state=${second.state}`, {
          cookie: second.cookie,
        });
        expect(broken.status).toBe(500);
        const body = await json(broken);
        expect(body.error).toBe('internal');
        expectClean(body, 'database down', '/srv/app');
      });

      it('has no OAuth routes without onLogin', async () => {
        const { base } = await serve();
        expect((await get(`${base}/wechat/oauth`)).status).toBe(404);
      });
    });
  });
}
