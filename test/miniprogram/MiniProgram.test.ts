/**
 * MiniProgram against the sandbox over HTTP: login replacing the session, the stale-key error after a second
 * wx.login, stored sessions, phone numbers with the mini program's own token (and its 40001 recovery), and the
 * official account's and the mini program's tokens living side by side in one Store and one FileStore.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, DecryptError, WechatApiError, WechatError } from '../../lib/errors';
import { MiniProgram } from '../../lib/miniprogram/MiniProgram';
import { FileStore } from '../../lib/store/FileStore';
import { Store } from '../../lib/store/Store';
import type { Sandbox, SandboxApp } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { APP, sandboxWith, tempDir, wechatOn } from '../helpers';

const MP: SandboxApp = { appId: 'wxminiprog0000001', appSecret: 'mp-secret-0000001', kind: 'miniprogram' };
const MP2: SandboxApp = { appId: 'wxminiprog0000002', appSecret: 'mp-secret-0000002', kind: 'miniprogram' };
const TOKEN = '/cgi-bin/stable_token';
const PHONE = '/wxa/business/getuserphonenumber';
const mpConfig = (app: SandboxApp = MP) => ({ appId: app.appId, appSecret: app.appSecret });

let sandbox: Sandbox;
const opened: Array<Wechat | MiniProgram> = [];

function wechatWithMp(options: Parameters<typeof wechatOn>[1] = {}, app: SandboxApp = MP): Wechat {
  const wx = wechatOn(sandbox, { miniProgram: mpConfig(app), ...options });
  opened.push(wx);
  return wx;
}

beforeAll(async () => {
  sandbox = await sandboxWith(APP, MP, MP2);
});
afterEach(async () => {
  for (const x of opened.splice(0)) await x.close();
});
afterAll(() => sandbox.close());

describe('getSession and decryptData', () => {
  it('login twice: data made after the second login fails with the first key (stale) and works with the second', async () => {
    const mp = wechatWithMp().miniProgram!;
    const first = await mp.getSession(sandbox.mpLogin(MP.appId, 'alice'));
    const second = await mp.getSession(sandbox.mpLogin(MP.appId, 'alice'));
    expect(second.openid).toBe(first.openid);
    expect(second.session_key).not.toBe(first.session_key);
    const data = sandbox.mpEncryptedUserData(MP.appId, 'alice');

    const err = await mp.decryptData(data.encryptedData, data.iv, first.session_key).catch((e) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect(err.reason).toBe('stale_session_key');
    expect(err.message).toMatch(/wx\.login again/);
    expect(err.message).not.toContain(first.session_key);

    const decrypted = await mp.decryptData(data.encryptedData, data.iv, second.session_key);
    expect(decrypted.openId).toBe(second.openid);
    expect(decrypted.watermark.appid).toBe(MP.appId);
    expect(decrypted.nickName).toBe('Alice 爱丽丝');
  });

  it('stores one session per user, replaced by each login; decryptData(..., key) uses the stored one', async () => {
    const wx = wechatWithMp();
    const mp = wx.miniProgram!;
    const first = await mp.getSession(sandbox.mpLogin(MP.appId, 'bob'));
    const oldData = sandbox.mpEncryptedUserData(MP.appId, 'bob');
    await expect(mp.decryptData(oldData.encryptedData, oldData.iv, undefined, first.openid)).resolves.toMatchObject({
      openId: first.openid,
    });

    const second = await mp.getSession(sandbox.mpLogin(MP.appId, 'bob'));
    expect((await mp.getStoredSession(second.openid))?.session_key).toBe(second.session_key);
    // The old data was encrypted for the replaced session: the stored (new) key no longer fits it.
    await expect(mp.decryptData(oldData.encryptedData, oldData.iv, undefined, second.openid)).rejects.toMatchObject({
      reason: 'stale_session_key',
    });
    const newData = sandbox.mpEncryptedUserData(MP.appId, 'bob');
    await expect(mp.decryptData(newData.encryptedData, newData.iv, undefined, second.openid)).resolves.toMatchObject({
      openId: second.openid,
    });
  });

  it('a custom key is used instead of the openid, and is namespaced by the mini program appId', async () => {
    const store = new Store({ noInterval: true, now: () => sandbox.now() });
    const wx = wechatWithMp({ store });
    const session = await wx.miniProgram!.getSession(sandbox.mpLogin(MP.appId, 'carol'), 'user-42');
    expect(await store.getMPSessionKey(`${MP.appId}:user-42`)).toBe(session.session_key);
    expect(await store.getMPSession(`${MP.appId}:${session.openid}`)).toBeUndefined();
    const data = sandbox.mpEncryptedUserData(MP.appId, 'carol');
    await expect(wx.miniProgram!.decryptData(data.encryptedData, data.iv, undefined, 'user-42')).resolves.toMatchObject(
      {
        openId: session.openid,
      },
    );
  });

  it("another mini program's data fails the watermark check even with the right key", async () => {
    const mp = wechatWithMp().miniProgram!;
    const other = wechatWithMp({}, MP2).miniProgram!;
    const session = await other.getSession(sandbox.mpLogin(MP2.appId, 'alice'));
    const data = sandbox.mpEncryptedUserData(MP2.appId, 'alice');
    await expect(mp.decryptData(data.encryptedData, data.iv, session.session_key)).rejects.toMatchObject({
      reason: 'watermark_mismatch',
      code: 'WATERMARK_MISMATCH',
    });
    await expect(other.decryptData(data.encryptedData, data.iv, session.session_key)).resolves.toBeTruthy();
  });

  it('the rawData signature of wx.getUserInfo verifies with the current key only', async () => {
    const mp = wechatWithMp().miniProgram!;
    const first = await mp.getSession(sandbox.mpLogin(MP.appId, 'alice'));
    const data = sandbox.mpEncryptedUserData(MP.appId, 'alice');
    await expect(mp.verifySignature(data.rawData, data.signature, first.session_key)).resolves.toBe(true);
    const second = await mp.getSession(sandbox.mpLogin(MP.appId, 'alice'));
    await expect(mp.verifySignature(data.rawData, data.signature, second.session_key)).rejects.toMatchObject({
      code: 'SIGNATURE_MISMATCH',
    });
  });

  it('a used or unknown code is a typed WeChat error without the secret', async () => {
    const mp = wechatWithMp().miniProgram!;
    const code = sandbox.mpLogin(MP.appId, 'alice');
    await mp.getSession(code);
    const used = await mp.getSession(code).catch((e) => e);
    expect(used).toBeInstanceOf(WechatApiError);
    expect(used.kind).toBe('code_used');
    expect(used.appId).toBe(MP.appId);
    const unknown = await mp.getSession('JSCODE_nope').catch((e) => e);
    expect(unknown.kind).toBe('code_invalid');
    for (const err of [used, unknown]) expect(`${err.message} ${JSON.stringify(err)}`).not.toContain(MP.appSecret);
    await expect(mp.getSession('')).rejects.toMatchObject({ code: 'NO_CODE' });
  });
});

describe("getPhoneNumber with the mini program's own access_token", () => {
  it('returns phone_info, using a token of the mini program and never the official account one', async () => {
    const wx = wechatWithMp();
    const phone = await wx.miniProgram!.getPhoneNumber(sandbox.mpPhoneCode(MP.appId, 'alice'));
    expect(phone).toMatchObject({ phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
    expect(phone.watermark.appid).toBe(MP.appId);
    const mpToken = wx.miniProgram!.accessToken.record!.value;
    expect(sandbox.checkToken(mpToken).appId).toBe(MP.appId);
    // The official account's token was not needed and not fetched.
    expect((await wx.store.getGlobalToken()).accessToken).toBeUndefined();
    // A code of the mini program cannot be redeemed with the official account's token (what a mixed-up SDK would do).
    const officialToken = await wx.credentials.accessToken.get();
    const res = await fetch(`${sandbox.url}${PHONE}?access_token=${officialToken}`, {
      method: 'POST',
      body: JSON.stringify({ code: sandbox.mpPhoneCode(MP.appId, 'bob') }),
    });
    expect((await res.json()).errcode).toBe(40029);
  });

  it('recovers once from a token rotated elsewhere (40001): one new token, one replayed call', async () => {
    const wx = wechatWithMp();
    await wx.miniProgram!.getPhoneNumber(sandbox.mpPhoneCode(MP.appId, 'alice'));
    const dead = wx.miniProgram!.accessToken.record!.value;
    sandbox.rotateToken(MP.appId);
    const tokens = sandbox.calls(TOKEN);
    const phones = sandbox.calls(PHONE);
    const phone = await wx.miniProgram!.getPhoneNumber(sandbox.mpPhoneCode(MP.appId, 'bob'));
    expect(phone.phoneNumber).toBe('13900139000');
    expect(sandbox.calls(TOKEN) - tokens).toBe(1);
    expect(sandbox.calls(PHONE) - phones).toBe(2);
    expect(wx.miniProgram!.accessToken.record!.value).not.toBe(dead);
  });

  it('a used code is a typed error; a missing code is refused before any call', async () => {
    const mp = wechatWithMp().miniProgram!;
    const code = sandbox.mpPhoneCode(MP.appId, 'carol');
    await mp.getPhoneNumber(code);
    await expect(mp.getPhoneNumber(code)).rejects.toMatchObject({ errcode: 40029, kind: 'code_invalid' });
    const before = sandbox.calls(PHONE);
    await expect(mp.getPhoneNumber(undefined as unknown as string)).rejects.toMatchObject({ code: 'NO_CODE' });
    expect(sandbox.calls(PHONE)).toBe(before);
  });
});

describe('official account and mini program tokens never collide', () => {
  it('in one Store: separate fields, each token of its own app, force_refresh budgets apart', async () => {
    const store = new Store({ noInterval: true, now: () => sandbox.now() });
    const wx = wechatWithMp({ store });
    const official = await wx.credentials.accessToken.get();
    const mini = await wx.miniProgram!.getAccessToken();
    expect(official).not.toBe(mini);
    expect(sandbox.checkToken(official).appId).toBe(APP.appId);
    expect(sandbox.checkToken(mini).appId).toBe(MP.appId);
    const record = await store.getGlobalToken();
    expect(record.accessToken).toBe(official);
    expect(record[`mp:${MP.appId}:accessToken`]).toBe(mini);
    expect(record[`mp:${MP.appId}:accessTokenExpiresAt`]).toBeGreaterThan(sandbox.now());

    // Revoked behind stable_token's cache: recovering needs a force_refresh, counted in the mini program's budget.
    sandbox.revokeStableToken(MP.appId);
    await wx.miniProgram!.getPhoneNumber(sandbox.mpPhoneCode(MP.appId, 'alice'));
    const after = await store.getGlobalToken();
    expect(after[`mp:${MP.appId}:forceRefreshTimes`]).toHaveLength(1);
    expect(after.forceRefreshTimes ?? []).toHaveLength(0);
    expect(after.accessToken).toBe(official);
    expect(after[`mp:${MP.appId}:accessToken`]).not.toBe(mini);
    // The official account's token is untouched and still valid.
    expect(sandbox.checkToken(official).appId).toBe(APP.appId);
    await expect(wx.credentials.accessToken.get()).resolves.toBe(official);
  });

  it('in one FileStore file shared by two processes, and after a restart', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fileStorePath = path.join(dir, 'wechat.json');
      const fileStore = () => new FileStore({ fileStorePath, noInterval: true, now: () => sandbox.now() });
      // Two "processes" on one file: one uses the official account, the other the mini program.
      const a = wechatWithMp({ store: fileStore() });
      const b = wechatWithMp({ store: fileStore() });
      const official = await a.credentials.accessToken.get();
      const mini = await b.miniProgram!.getAccessToken();
      await a.close();
      await b.close();
      const onDisk = JSON.parse(readFileSync(fileStorePath, 'utf8'));
      expect(onDisk.globalToken.accessToken).toBe(official);
      expect(onDisk.globalToken[`mp:${MP.appId}:accessToken`]).toBe(mini);
      expect(JSON.stringify(onDisk)).not.toContain(MP.appSecret);

      const calls = sandbox.calls(TOKEN);
      const c = wechatWithMp({ store: fileStore() });
      await expect(c.credentials.accessToken.get()).resolves.toBe(official);
      await expect(c.miniProgram!.getAccessToken()).resolves.toBe(mini);
      expect(sandbox.calls(TOKEN)).toBe(calls);
    } finally {
      cleanup();
    }
  });
});

describe('wiring, standalone use and secrets', () => {
  it('new MiniProgram(options) works on its own with a default FileStore', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fileStorePath = path.join(dir, 'mp.json');
      const mp = new MiniProgram({
        miniProgram: mpConfig(),
        apiUrl: sandbox.url,
        now: () => sandbox.now(),
        storeOptions: { fileStorePath, noInterval: true },
      });
      opened.push(mp);
      expect(mp.store).toBeInstanceOf(FileStore);
      const session = await mp.getSession(sandbox.mpLogin(MP.appId, 'alice'));
      const phone = await mp.getPhoneNumber(sandbox.mpPhoneCode(MP.appId, 'alice'));
      expect(phone.watermark.appid).toBe(MP.appId);
      await mp.close();
      const onDisk = JSON.parse(readFileSync(fileStorePath, 'utf8'));
      expect(onDisk.wechatConfig.appId).toBe(MP.appId);
      expect(onDisk.mp[`${MP.appId}:${session.openid}`].session_key).toBe(session.session_key);
      expect(onDisk.globalToken[`mp:${MP.appId}:accessToken`]).toBe(mp.accessToken.record!.value);
    } finally {
      cleanup();
    }
  });

  it('new MiniProgram(options) uses options.store when given', async () => {
    const store = new Store({ noInterval: true });
    const mp = new MiniProgram({ miniProgram: mpConfig(), apiUrl: sandbox.url, now: () => sandbox.now(), store });
    opened.push(mp);
    const session = await mp.getSession(sandbox.mpLogin(MP.appId, 'bob'));
    expect(await store.getMPSessionKey(`${MP.appId}:${session.openid}`)).toBe(session.session_key);
    expect(mp.store).toBe(store);
  });

  it('keeps the appSecret off wx.options and out of what the instances print', () => {
    const wx = wechatWithMp();
    expect(wx.options.miniProgram).toEqual({ appId: MP.appId });
    expect(JSON.stringify(wx.options)).not.toContain(MP.appSecret);
    expect(inspect(wx.miniProgram, { depth: 3 })).not.toContain(MP.appSecret);
    expect(JSON.stringify(wx.miniProgram)).not.toContain(MP.appSecret);
    expect(wechatOn(sandbox).miniProgram).toBeUndefined();
  });

  it('emits a token event for the mini program token', async () => {
    const wx = wechatWithMp();
    const names: string[] = [];
    wx.on('token', (e) => names.push(e.name));
    await wx.miniProgram!.getAccessToken();
    expect(names).toEqual(['mp_access_token']);
  });

  it('refuses a configuration without the mini program appSecret, naming the option', () => {
    const build = () => wechatOn(sandbox, { miniProgram: { appId: MP.appId } as never });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/miniProgram\.appSecret/);
    expect(() => new MiniProgram({} as never)).toThrow(/miniProgram/);
    expect(() => new MiniProgram({ miniProgram: mpConfig(), store: {} as never })).toThrow(/not a Store/);
  });

  it('an unreachable WeChat is a WechatError, not a crash', async () => {
    sandbox.fault('/sns/jscode2session', { status: 502, times: 1 });
    const mp = wechatWithMp().miniProgram!;
    await expect(mp.getSession(sandbox.mpLogin(MP.appId, 'alice'))).rejects.toBeInstanceOf(WechatError);
  });
});
