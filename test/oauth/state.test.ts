import { randomBytes } from 'node:crypto';
import { WechatError } from '../../lib/errors';
import { StateSigner, base62Decode, base62Encode, deriveStateKey } from '../../lib/oauth/state';
import type { Sandbox } from '../../lib/sandbox';
import type { Wechat } from '../../lib/Wechat';
import { APP, MINUTE, sandboxWith, wechatOn } from '../helpers';
import { thrown } from './consent';

let sandbox: Sandbox;
const open: Wechat[] = [];
const wechat = (...args: Parameters<typeof wechatOn>) => {
  const wx = wechatOn(...args);
  open.push(wx);
  return wx;
};
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

beforeAll(async () => {
  sandbox = await sandboxWith(APP);
});
afterAll(async () => {
  for (const wx of open) await wx.close();
  await sandbox.close();
});

function code(call: () => unknown): string {
  const err = thrown(call);
  expect(err).toBeInstanceOf(WechatError);
  return err.code as string;
}

describe('createState', () => {
  it('gives at most 128 characters of [A-Za-z0-9], different every time', () => {
    const wx = wechat(sandbox);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const session = randomBytes(1 + (i % 40)).toString('base64');
      const state = wx.oauth.createState(session, i % 2 ? { returnTo: `/p/${i}?q=${'z'.repeat(i % 30)}` } : undefined);
      expect(state).toMatch(/^[A-Za-z0-9]{1,128}$/);
      seen.add(state);
      expect(wx.oauth.verifyState(state, session).returnTo).toBe(i % 2 ? `/p/${i}?q=${'z'.repeat(i % 30)}` : undefined);
    }
    expect(seen.size).toBe(300);
  });

  it('carries a return path with any characters, and refuses one that does not fit 128 characters', () => {
    const wx = wechat(sandbox);
    const returnTo = '/订单?id=3&tab=all#top';
    expect(wx.oauth.verifyState(wx.oauth.createState('s', { returnTo }), 's').returnTo).toBe(returnTo);
    let longest = 0;
    for (let n = 1; n <= 120; n++) {
      try {
        const state = wx.oauth.createState('s', { returnTo: `/${'a'.repeat(n - 1)}` });
        expect(state.length).toBeLessThanOrEqual(128);
        longest = n;
      } catch (err) {
        expect((err as WechatError).code).toBe('STATE_TOO_LONG');
      }
    }
    // 37 fixed bytes + 58 of path = 95 bytes = 761 bits, the most that 128 base62 characters (762 bits) hold.
    expect(longest).toBe(58);
  });

  it('accepts only same-site paths as returnTo (no open redirect)', () => {
    const wx = wechat(sandbox);
    for (const returnTo of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'orders', '/a\nb']) {
      expect(code(() => wx.oauth.createState('s', { returnTo }))).toBe('BAD_RETURN_TO');
    }
  });

  it('needs a session to bind to', () => {
    const wx = wechat(sandbox);
    expect(code(() => wx.oauth.createState(''))).toBe('BAD_STATE_BINDING');
    expect(code(() => wx.oauth.createState(undefined as never))).toBe('BAD_STATE_BINDING');
    expect(code(() => wx.oauth.verifyState(wx.oauth.createState('s'), ''))).toBe('BAD_STATE_BINDING');
  });
});

describe('verifyState', () => {
  it('rejects a state with any single character changed, cut or extended', () => {
    const wx = wechat(sandbox);
    const state = wx.oauth.createState('session', { returnTo: '/x' });
    for (let i = 0; i < state.length; i++) {
      const other = ALPHABET[(ALPHABET.indexOf(state[i]) + 1 + (i % 61)) % 62];
      const forged = state.slice(0, i) + other + state.slice(i + 1);
      expect(code(() => wx.oauth.verifyState(forged, 'session'))).toBe('STATE_INVALID');
    }
    expect(code(() => wx.oauth.verifyState(state.slice(0, -1), 'session'))).toBe('STATE_INVALID');
    expect(code(() => wx.oauth.verifyState(state + 'a', 'session'))).toBe('STATE_INVALID');
    // the untouched state is still good afterwards: failures do not burn it
    expect(wx.oauth.verifyState(state, 'session').returnTo).toBe('/x');
  });

  it('rejects states made by someone without the key', () => {
    const wx = wechat(sandbox);
    const attacker = wechat(sandbox, { appSecret: 'another-secret-value' });
    expect(code(() => wx.oauth.verifyState(attacker.oauth.createState('victim'), 'victim'))).toBe('STATE_INVALID');
    for (const junk of ['userAuth', 'abc', 'x'.repeat(128), '0abc', 'a-b', ['a'], 42]) {
      expect(code(() => wx.oauth.verifyState(junk, 'victim'))).toBe('STATE_INVALID');
    }
    expect(code(() => wx.oauth.verifyState(undefined, 'victim'))).toBe('STATE_MISSING');
    expect(code(() => wx.oauth.verifyState('', 'victim'))).toBe('STATE_MISSING');
  });

  it("rejects a state bound to another session (login CSRF: the attacker's state in the victim's browser)", () => {
    const wx = wechat(sandbox);
    const attackersState = wx.oauth.createState('attacker-session');
    const err = thrown(() => wx.oauth.verifyState(attackersState, 'victim-session'));
    expect(err.code).toBe('STATE_FOREIGN');
    expect(err.message).toContain('restart the login');
  });

  it('rejects an expired state, by the injected clock', () => {
    const wx = wechat(sandbox);
    const early = wx.oauth.createState('s');
    const late = wx.oauth.createState('s');
    sandbox.advance(9 * MINUTE);
    expect(wx.oauth.verifyState(early, 's').expiresAt).toBeGreaterThan(sandbox.now());
    sandbox.advance(1 * MINUTE + 1000);
    const err = thrown(() => wx.oauth.verifyState(late, 's'));
    expect(err.code).toBe('STATE_EXPIRED');
    expect(err.message).toContain('restart the login');
  });

  it('honours oauthStateTtlMs', () => {
    const wx = wechat(sandbox, { oauthStateTtlMs: MINUTE });
    const state = wx.oauth.createState('s');
    sandbox.advance(MINUTE + 1000);
    expect(code(() => wx.oauth.verifyState(state, 's'))).toBe('STATE_EXPIRED');
  });

  it('accepts a state once (replay refused)', () => {
    const wx = wechat(sandbox);
    const state = wx.oauth.createState('s', { returnTo: '/r' });
    expect(wx.oauth.verifyState(state, 's').returnTo).toBe('/r');
    const err = thrown(() => wx.oauth.verifyState(state, 's'));
    expect(err.code).toBe('STATE_REPLAYED');
    expect(err.message).toContain('restart the login');
  });

  it('verifies on every server sharing stateSecret (or the appSecret), not on others', () => {
    const a = wechat(sandbox, { stateSecret: 'shared-state-secret-0123' });
    const b = wechat(sandbox, { stateSecret: 'shared-state-secret-0123' });
    const c = wechat(sandbox, { stateSecret: 'another-state-secret-456' });
    const state = a.oauth.createState('s');
    expect(code(() => c.oauth.verifyState(state, 's'))).toBe('STATE_INVALID');
    expect(b.oauth.verifyState(state, 's').expiresAt).toBeGreaterThan(sandbox.now());
    // derived from the appSecret: two instances of one app agree
    expect(wechat(sandbox).oauth.verifyState(wechat(sandbox).oauth.createState('t'), 't')).toBeDefined();
  });
});

describe('StateSigner', () => {
  it('keeps its replay memory bounded and forgets states once they expire', () => {
    let now = 1_700_000_000_000;
    const signer = new StateSigner({
      key: deriveStateKey('k'.repeat(20), 'wx'),
      ttlMs: MINUTE,
      now: () => now,
      maxUsed: 50,
    });
    for (let i = 0; i < 200; i++) signer.verify(signer.create('s'), 's');
    expect(signer.rememberedStates).toBe(50);
    now += 2 * MINUTE;
    signer.verify(signer.create('s'), 's');
    expect(signer.rememberedStates).toBe(1);
  });

  it('base62 round-trips any bytes, leading zeros included', () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from([0, 0, 1]),
      Buffer.alloc(40),
      randomBytes(90),
      Buffer.alloc(10, 255),
    ]) {
      const text = base62Encode(bytes);
      expect(text).toMatch(/^[1-9A-Za-z][0-9A-Za-z]*$/);
      expect(base62Decode(text)).toEqual(bytes);
    }
    for (let length = 0; length <= 100; length++) {
      const bytes = randomBytes(length);
      const text = base62Encode(bytes);
      // the same digits as the textbook digit-by-digit conversion
      let n = BigInt(`0x01${bytes.toString('hex')}`);
      let slow = '';
      for (; n > 0n; n /= 62n) slow = ALPHABET[Number(n % 62n)] + slow;
      expect(text).toBe(slow);
      expect(base62Decode(text)).toEqual(bytes);
    }
    expect(base62Decode('0abc')).toBeUndefined();
    expect(base62Decode('ab-c')).toBeUndefined();
  });
});
