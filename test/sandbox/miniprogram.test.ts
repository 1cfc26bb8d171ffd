/**
 * The sandbox's mini-program login over HTTP: js_code → openid + session_key via /sns/jscode2session, a new
 * session_key on every login, single-use and short-lived codes.
 */
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import { CODE_TTL_MS } from '../../lib/sandbox/routes/oauth';
import { APP, sandboxWith } from '../helpers';
import { errcode, getJson, postJson, type Body } from './wire';

const MP: SandboxApp = { appId: 'wxmini0000000001', appSecret: 'mini-secret-0001', kind: 'miniprogram' };
const MP_UNION: SandboxApp = {
  appId: 'wxmini0000000002',
  appSecret: 'mini-secret-0002',
  kind: 'miniprogram',
  unionid: true,
};

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await sandboxWith(APP, MP, MP_UNION);
  sandbox.freeze();
});

afterAll(async () => {
  await sandbox.close();
});

const session = (app: SandboxApp, jsCode: string): Promise<Body> =>
  getJson(sandbox, '/sns/jscode2session', {
    appid: app.appId,
    secret: app.appSecret,
    js_code: jsCode,
    grant_type: 'authorization_code',
  });

test('a js_code gives the openid and a session_key', async () => {
  const body = await session(MP, sandbox.mpLogin(MP.appId, 'alice'));
  expect(errcode(body)).toBe(0);
  expect(body.openid).toBe(sandbox.openid(MP.appId, 'alice'));
  // WeChat's session_key is 16 bytes, base64: the AES key for wx.getUserInfo / phone number data.
  expect(Buffer.from(body.session_key, 'base64')).toHaveLength(16);
  expect(body.unionid).toBeUndefined();
  expect(sandbox.miniProgramState.sessionKey(MP.appId, 'alice')).toBe(body.session_key);
});

test('every login gives a new session_key for the same openid', async () => {
  const first = await session(MP, sandbox.mpLogin(MP.appId, 'bob'));
  const second = await session(MP, sandbox.mpLogin(MP.appId, 'bob'));
  expect(second.openid).toBe(first.openid);
  expect(second.session_key).not.toBe(first.session_key);
  expect(sandbox.miniProgramState.sessionKey(MP.appId, 'bob')).toBe(second.session_key);
});

test('a js_code works once (40163 on reuse); unknown or another app’s code gives 40029', async () => {
  const code = sandbox.mpLogin(MP.appId, 'alice');
  expect(errcode(await session(MP, code))).toBe(0);
  const reused = await session(MP, code);
  expect(errcode(reused)).toBe(40163);
  expect(reused.session_key).toBeUndefined();
  expect(errcode(await session(MP, 'no-such-code'))).toBe(40029);
  expect(errcode(await session(MP_UNION, sandbox.mpLogin(MP.appId, 'alice')))).toBe(40029);
});

test('a js_code expires after 5 minutes with 40029', async () => {
  const early = sandbox.mpLogin(MP.appId, 'carol');
  const late = sandbox.mpLogin(MP.appId, 'carol');
  sandbox.advance(CODE_TTL_MS - 1000);
  expect(errcode(await session(MP, early))).toBe(0);
  sandbox.advance(1000);
  expect(errcode(await session(MP, late))).toBe(40029);
});

test('wrong appid 40013, wrong secret 40125 (the code stays usable), wrong grant_type 40002', async () => {
  const code = sandbox.mpLogin(MP.appId, 'alice');
  expect(errcode(await session({ appId: 'wxnosuchapp00000', appSecret: MP.appSecret }, code))).toBe(40013);
  expect(errcode(await session({ ...MP, appSecret: 'wrong' }, code))).toBe(40125);
  expect(
    errcode(
      await getJson(sandbox, '/sns/jscode2session', {
        appid: MP.appId,
        secret: MP.appSecret,
        js_code: code,
        grant_type: 'client_credential',
      }),
    ),
  ).toBe(40002);
  expect(errcode(await session(MP, code))).toBe(0);
});

test('unionid is returned when the app is configured for it, shared across apps', async () => {
  const body = await session(MP_UNION, sandbox.mpLogin(MP_UNION.appId, 'carol'));
  expect(body.unionid).toBe(sandbox.unionid('carol'));
  expect(body.openid).not.toBe(sandbox.openid(MP.appId, 'carol'));
});

test('POST /__sandbox/mp/login mints a js_code over HTTP; unknown app or user gives 400', async () => {
  const minted = await postJson(sandbox, '/__sandbox/mp/login', { appid: MP.appId, user: 'bob' });
  expect(minted.code).toEqual(expect.any(String));
  const body = await session(MP, minted.code);
  expect(body.openid).toBe(sandbox.openid(MP.appId, 'bob'));

  const res = await fetch(`${sandbox.url}/__sandbox/mp/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ appid: 'wxnosuchapp00000' }),
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as Body).errmsg).toMatch(/unknown appId/);
  expect(() => sandbox.mpLogin(MP.appId, 'mallory')).toThrow(/unknown user/);
});
