/**
 * The one HTTP layer, against the sandbox over real HTTP: request shapes, response types, keep-alive, proxy,
 * and the bounded retry (what is retried, how often, and what never is).
 */
import type { Socket } from 'node:net';
import { WechatApiError, WechatTransportError } from '../../lib/errors';
import { HttpClient, MAX_ATTEMPTS } from '../../lib/http/HttpClient';
import type { Sandbox } from '../../lib/sandbox';
import { ok } from '../../lib/sandbox/core';
import { APP, sandboxWith } from '../helpers';
import { forwardProxy, resettingServer } from './servers';

const ECHO = '/test/echo';
const TICKET = '/cgi-bin/ticket/getticket';

let sandbox: Sandbox;
let client: HttpClient;

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
  // A test-only route that reports what arrived, so the request shape is checked on the server side.
  sandbox.route('ALL', ECHO, (req) =>
    ok({
      method: req.method,
      query: req.query,
      contentType: req.headers['content-type'] ?? null,
      custom: req.headers['x-custom'] ?? null,
      body: req.body.toString('utf8'),
      json: req.json ?? null,
    }),
  );
  client = new HttpClient({ apiUrl: sandbox.url, appId: APP.appId });
});

afterAll(async () => {
  client.close();
  await sandbox.close();
});

beforeEach(() => {
  sandbox.clearFaults();
  sandbox.resetCalls();
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

type Echo = {
  method: string;
  query: Record<string, string>;
  contentType: string | null;
  custom: string | null;
  body: string;
  json: unknown;
};

describe('requests', () => {
  test('GET sends the query (dropping undefined values) and resolves the parsed JSON', async () => {
    const echo = await client.get<Echo>(ECHO, { a: 'x y&z', n: 7, b: true, gone: undefined });
    expect(echo.method).toBe('GET');
    expect(echo.query).toEqual({ a: 'x y&z', n: '7', b: 'true' });
    expect(echo.body).toBe('');
  });

  test('POST serialises objects as JSON with a JSON content type, and sends strings and Buffers raw', async () => {
    const json = await client.post<Echo>(ECHO, { grant_type: 'client_credential', nested: { n: 1 } }, { q: '1' });
    expect(json.method).toBe('POST');
    expect(json.contentType).toMatch(/^application\/json/);
    expect(json.json).toEqual({ grant_type: 'client_credential', nested: { n: 1 } });
    expect(json.query).toEqual({ q: '1' });

    const xml = '<xml><appid>wx</appid></xml>';
    const raw = await client.post<Echo>(ECHO, xml, undefined, {
      headers: { 'Content-Type': 'text/xml', 'X-Custom': 'yes' },
    });
    expect(raw.body).toBe(xml);
    expect(raw.contentType).toBe('text/xml');
    expect(raw.custom).toBe('yes');

    const buf = await client.post<Echo>(ECHO, Buffer.from('{"a":1}'), undefined, {
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(buf.body).toBe('{"a":1}');
    expect(buf.contentType).toBe('application/octet-stream');
  });

  test('a real WeChat call: stable_token through post() returns the token', async () => {
    const body = await client.post<{ access_token: string; expires_in: number }>('/cgi-bin/stable_token', {
      grant_type: 'client_credential',
      appid: APP.appId,
      secret: APP.appSecret,
    });
    expect(body.access_token).toEqual(expect.any(String));
    expect(body.expires_in).toBeGreaterThan(7000);
    const ticket = await client.get<{ ticket: string }>(TICKET, { access_token: body.access_token, type: 'jsapi' });
    expect(sandbox.liveTickets(APP.appId)).toContain(ticket.ticket);
  });

  test('responseType text and buffer return the body as is, without errcode checks', async () => {
    const xml = '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>';
    sandbox.fault('/pay/orderquery', { body: xml });
    expect(
      await client.request<string>({ method: 'POST', path: '/pay/orderquery', body: xml, responseType: 'text' }),
    ).toBe(xml);
    const buf = await client.request<Buffer>({ path: '/pay/orderquery', responseType: 'buffer' });
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.toString('utf8')).toBe(xml);
    // An errcode in a text response is not interpreted either (payment and bills parse their own formats).
    sandbox.fault('/pay/orderquery', { errcode: 40001 });
    expect(await client.request<string>({ path: '/pay/orderquery', responseType: 'text' })).toContain(
      '"errcode":40001',
    );
  });

  test('requestRaw gives status and lower-cased headers', async () => {
    const raw = await client.requestRaw<Echo>({ path: ECHO, query: { x: '1' } });
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toMatch(/application\/json/);
    expect(raw.data.query).toEqual({ x: '1' });
  });

  test('absolute URLs bypass apiUrl; a path without a leading slash and a trailing slash in apiUrl join cleanly', async () => {
    const elsewhere = new HttpClient({ apiUrl: 'http://127.0.0.1:9/' });
    const slashed = new HttpClient({ apiUrl: `${sandbox.url}/` });
    try {
      expect((await elsewhere.get<Echo>(`${sandbox.url}${ECHO}`, { z: '1' })).query).toEqual({ z: '1' });
      expect((await slashed.get<Echo>(ECHO.slice(1))).method).toBe('GET');
      expect(sandbox.calls(ECHO)).toBe(2);
    } finally {
      elsewhere.close();
      slashed.close();
    }
  });

  test('errors use the label instead of the URL path when given', async () => {
    sandbox.fault('/custom/token/url', { errcode: 40013 });
    const err = (await failure(client.get('/custom/token/url', {}, { label: '/cgi-bin/token' }))) as WechatApiError;
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.path).toBe('/cgi-bin/token');
  });

  test('an HTTP 4xx with an errcode body is a WechatApiError; without one, a WechatTransportError', async () => {
    const err = (await failure(client.get('/no/such/api'))) as WechatApiError;
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.errcode).toBe(404);
    sandbox.fault(ECHO, { status: 403, body: '{"message":"forbidden"}' });
    const err2 = (await failure(client.get(ECHO))) as WechatTransportError;
    expect(err2).toBeInstanceOf(WechatTransportError);
    expect(err2.status).toBe(403);
  });

  test('keep-alive: sequential calls reuse one connection', async () => {
    const local = new HttpClient({ apiUrl: sandbox.url });
    const sockets = new Set<Socket>();
    const onConnection = (socket: Socket) => sockets.add(socket);
    sandbox.server!.on('connection', onConnection);
    try {
      for (let i = 0; i < 5; i++) await local.get(ECHO, { i });
      expect(sandbox.calls(ECHO)).toBe(5);
      expect(sockets.size).toBe(1);
    } finally {
      sandbox.server!.off('connection', onConnection);
      local.close();
    }
  });

  test('a proxy option routes calls through the proxy', async () => {
    const proxy = await forwardProxy();
    const viaProxy = new HttpClient({
      apiUrl: sandbox.url,
      proxy: { protocol: 'http', host: '127.0.0.1', port: proxy.port },
    });
    try {
      const raw = await viaProxy.requestRaw<Echo>({ path: ECHO, query: { p: '1' } });
      expect(raw.data.query).toEqual({ p: '1' });
      expect(raw.headers['x-via-test-proxy']).toBe('1');
      expect(proxy.seen).toEqual([`${sandbox.url}${ECHO}?p=1`]);
    } finally {
      viaProxy.close();
      await proxy.close();
    }
  });
});

describe('retry', () => {
  test(`errcode -1 on an idempotent call is retried, ${MAX_ATTEMPTS} attempts in total at most`, async () => {
    expect(MAX_ATTEMPTS).toBe(3);
    sandbox.fault(ECHO, { errcode: -1, times: 2 });
    const echo = await client.get<Echo>(ECHO, { r: '1' });
    expect(echo.query).toEqual({ r: '1' });
    expect(sandbox.calls(ECHO)).toBe(3);

    sandbox.resetCalls();
    sandbox.fault(ECHO, { errcode: -1 });
    const err = (await failure(client.get(ECHO))) as WechatApiError;
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err.kind).toBe('system_busy');
    expect(sandbox.calls(ECHO)).toBe(3);
  });

  test('HTTP 5xx on an idempotent call is retried, at most 3 attempts', async () => {
    sandbox.fault(ECHO, { status: 503, body: 'busy', times: 1 });
    expect((await client.get<Echo>(ECHO)).method).toBe('GET');
    expect(sandbox.calls(ECHO)).toBe(2);

    sandbox.resetCalls();
    sandbox.fault(ECHO, { status: 502, body: '<html>Bad Gateway</html>' });
    const err = (await failure(client.get(ECHO))) as WechatTransportError;
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(err.status).toBe(502);
    expect(sandbox.calls(ECHO)).toBe(3);
  });

  test('a timeout on an idempotent call is retried, at most 3 attempts', async () => {
    sandbox.fault(ECHO, { hang: true });
    const err = (await failure(client.get(ECHO, {}, { timeout: 150 }))) as WechatTransportError;
    expect(err).toBeInstanceOf(WechatTransportError);
    expect(err.message).toMatch(/timed out/);
    expect(sandbox.calls(ECHO)).toBe(3);
  });

  test('a reset connection on an idempotent call is retried, at most 3 attempts', async () => {
    const reset = await resettingServer();
    const dropped = new HttpClient({ apiUrl: reset.url });
    try {
      const err = (await failure(dropped.get('/cgi-bin/token'))) as WechatTransportError;
      expect(err).toBeInstanceOf(WechatTransportError);
      expect(err.message).toMatch(/network error/);
      expect(reset.count()).toBe(3);
    } finally {
      dropped.close();
      await reset.close();
    }
  });

  test.each([40001, 42001, 45009, 40164, 40125, 40029, 48001])(
    'errcode %i is never retried, even on an idempotent call',
    async (errcode) => {
      sandbox.fault(ECHO, { errcode });
      const err = (await failure(client.get(ECHO))) as WechatApiError;
      expect(err.errcode).toBe(errcode);
      expect(sandbox.calls(ECHO)).toBe(1);
    },
  );

  test('a 4xx, an HTML page with 200 and a non-object JSON body are not retried (a retry would not change them)', async () => {
    for (const spec of [{ status: 404, body: 'not found' }, { body: '<html>portal</html>' }, { body: 'null' }]) {
      sandbox.resetCalls();
      sandbox.fault(ECHO, spec);
      expect(await failure(client.get(ECHO))).toBeInstanceOf(WechatTransportError);
      expect(sandbox.calls(ECHO)).toBe(1);
    }
  });

  test('non-idempotent calls are never retried: POST by default, or idempotent: false', async () => {
    sandbox.fault(ECHO, { errcode: -1 });
    expect(((await failure(client.post(ECHO, { a: 1 }))) as WechatApiError).kind).toBe('system_busy');
    expect(sandbox.calls(ECHO)).toBe(1);

    sandbox.resetCalls();
    sandbox.fault(ECHO, { status: 502 });
    expect(((await failure(client.post(ECHO, { a: 1 }))) as WechatTransportError).status).toBe(502);
    expect(sandbox.calls(ECHO)).toBe(1);

    sandbox.resetCalls();
    sandbox.fault(ECHO, { hang: true });
    expect(await failure(client.get(ECHO, {}, { idempotent: false, timeout: 150 }))).toBeInstanceOf(
      WechatTransportError,
    );
    expect(sandbox.calls(ECHO)).toBe(1);

    const reset = await resettingServer();
    const dropped = new HttpClient({ apiUrl: reset.url });
    try {
      expect(await failure(dropped.post('/cgi-bin/stable_token', { force_refresh: true }))).toBeInstanceOf(
        WechatTransportError,
      );
      expect(reset.count()).toBe(1);
    } finally {
      dropped.close();
      await reset.close();
    }
  });

  test('a POST marked idempotent is retried', async () => {
    sandbox.fault(ECHO, { errcode: -1, times: 1 });
    expect((await client.post<Echo>(ECHO, { a: 1 }, undefined, { idempotent: true })).json).toEqual({ a: 1 });
    expect(sandbox.calls(ECHO)).toBe(2);
  });
});
