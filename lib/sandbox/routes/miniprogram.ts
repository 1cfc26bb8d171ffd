/**
 * Mini-program login: `wx.login` gives a js_code (here: `sandbox.mpLogin(appId, userId)` or
 * POST /__sandbox/mp/login); `/sns/jscode2session` exchanges it once for openid and a new session_key.
 *
 * Open data: `sandbox.mpEncryptedUserData(appId, userId)` (or POST /__sandbox/mp/userdata) plays wx.getUserInfo:
 * rawData, its signature and the encryptedData/iv, all made with the user's LATEST session_key, so data taken
 * before a newer login no longer decrypts with the newer key, as in WeChat.
 *
 * Phone number: `sandbox.mpPhoneCode(appId, userId)` (or POST /__sandbox/mp/phonecode) plays the getPhoneNumber
 * button; POST /wxa/business/getuserphonenumber exchanges that code once, with a live access_token of the SAME
 * mini program.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { badRequest, fail, ok, randomToken, type SandboxCore } from '../core';
import { CODE_TTL_MS } from './oauth';

interface LoginCode {
  appId: string;
  userId: string;
  expiresAt: number;
  used?: boolean;
}

/** What wx.getUserInfo hands the mini program. */
export interface SandboxUserData {
  rawData: string;
  /** sha1(rawData + session_key) */
  signature: string;
  encryptedData: string;
  iv: string;
}

export class MiniProgramState {
  readonly codes = new Map<string, LoginCode>();
  /** The latest session_key per `${appId}:${userId}`; every login replaces it. */
  readonly sessionKeys = new Map<string, string>();
  /** getPhoneNumber button codes: one mini program, one use, 5 minutes. */
  readonly phoneCodes = new Map<string, LoginCode>();

  constructor(private readonly core: SandboxCore) {}

  login(appId: string, userId: string): string {
    if (!this.core.apps.get(appId)) throw new Error(`sandbox: unknown appId ${appId}`);
    if (!this.core.user(userId)) throw new Error(`sandbox: unknown user ${userId}`);
    const code = randomToken('JSCODE_', 18);
    this.codes.set(code, { appId, userId, expiresAt: this.core.now() + CODE_TTL_MS });
    return code;
  }

  sessionKey(appId: string, userId: string): string | undefined {
    return this.sessionKeys.get(`${appId}:${userId}`);
  }

  /** A code as if `userId` tapped "allow" on the getPhoneNumber button of mini program `appId`. */
  phoneCode(appId: string, userId: string): string {
    if (!this.core.apps.get(appId)) throw new Error(`sandbox: unknown appId ${appId}`);
    const user = this.core.user(userId);
    if (!user) throw new Error(`sandbox: unknown user ${userId}`);
    if (!user.phoneNumber) throw new Error(`sandbox: user ${userId} has no phoneNumber`);
    const code = randomToken('PHONE_', 18);
    this.phoneCodes.set(code, { appId, userId, expiresAt: this.core.now() + CODE_TTL_MS });
    return code;
  }

  /** wx.getUserInfo's answer, encrypted with the user's latest session_key (the user must have logged in). */
  userData(appId: string, userId: string): SandboxUserData {
    const user = this.core.user(userId);
    if (!user) throw new Error(`sandbox: unknown user ${userId}`);
    const sessionKey = this.sessionKey(appId, userId);
    if (!sessionKey)
      throw new Error(`sandbox: user ${userId} has no session in ${appId}; log in (mpLogin + jscode2session) first`);
    const profile = {
      nickName: user.nickname,
      gender: user.sex ?? 0,
      language: 'zh_CN',
      city: user.city ?? '',
      province: user.province ?? '',
      country: user.country ?? '',
      avatarUrl: user.headimgurl ?? '',
    };
    const rawData = JSON.stringify(profile);
    const app = this.core.apps.get(appId)!;
    const full = {
      openId: this.core.openid(appId, userId),
      ...profile,
      ...(app.unionid ? { unionId: this.core.unionid(userId) } : {}),
      watermark: { timestamp: Math.floor(this.core.now() / 1000), appid: appId },
    };
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
    const encrypted = Buffer.concat([cipher.update(JSON.stringify(full), 'utf8'), cipher.final()]);
    return {
      rawData,
      signature: createHash('sha1')
        .update(rawData + sessionKey, 'utf8')
        .digest('hex'),
      encryptedData: encrypted.toString('base64'),
      iv: iv.toString('base64'),
    };
  }
}

export function miniProgramRoutes(core: SandboxCore, state: MiniProgramState): void {
  core.route('GET', '/sns/jscode2session', ({ query }) => {
    const bad = core.checkApp(query.appid, query.secret);
    if (bad) return bad;
    if (query.grant_type !== 'authorization_code') return fail(40002, 'invalid grant_type');
    const login = state.codes.get(query.js_code ?? '');
    if (!login || login.appId !== query.appid || core.now() >= login.expiresAt) return fail(40029, 'invalid code');
    if (login.used) return fail(40163, 'code been used');
    login.used = true;
    const sessionKey = randomBytes(16).toString('base64');
    state.sessionKeys.set(`${login.appId}:${login.userId}`, sessionKey);
    const app = core.apps.get(login.appId)!;
    return ok({
      openid: core.openid(login.appId, login.userId),
      session_key: sessionKey,
      ...(app.unionid ? { unionid: core.unionid(login.userId) } : {}),
    });
  });

  core.route('POST', '/__sandbox/mp/login', ({ json }) => {
    try {
      return ok({ code: state.login(json?.appid, json?.user ?? core.users[0].id) });
    } catch (err) {
      return badRequest(err);
    }
  });

  core.route('POST', '/wxa/business/getuserphonenumber', ({ query, json }) => {
    const check = core.checkToken(query.access_token);
    if (check.error) return check.error;
    if (!json || typeof json.code !== 'string') return fail(47001, 'data format error');
    const grant = state.phoneCodes.get(json.code);
    // A code belongs to one mini program: a token of another app (e.g. the official account's) cannot redeem it.
    if (!grant || grant.appId !== check.appId || grant.used || core.now() >= grant.expiresAt)
      return fail(40029, 'invalid code');
    grant.used = true;
    const phone = core.user(grant.userId)!.phoneNumber!;
    return ok({
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: phone,
        purePhoneNumber: phone,
        countryCode: '86',
        watermark: { timestamp: Math.floor(core.now() / 1000), appid: grant.appId },
      },
    });
  });

  core.route('POST', '/__sandbox/mp/phonecode', ({ json }) => {
    try {
      return ok({ code: state.phoneCode(json?.appid, json?.user ?? core.users[0].id) });
    } catch (err) {
      return badRequest(err);
    }
  });

  core.route('POST', '/__sandbox/mp/userdata', ({ json }) => {
    try {
      return ok({ ...state.userData(json?.appid, json?.user ?? core.users[0].id) });
    } catch (err) {
      return badRequest(err);
    }
  });
}
