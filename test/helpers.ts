/**
 * Shared test helpers: a sandbox with one or more apps, and a Wechat instance pointed at it and sharing its clock.
 * Every suite talks to the sandbox over real HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox, type SandboxApp } from '../lib/sandbox';
import { Wechat, type WechatOptions } from '../lib/Wechat';
import { Store } from '../lib/store/Store';

export const APP: SandboxApp = { appId: 'wxtest0000000001', appSecret: 'test-app-secret-0001' };
export const APP2: SandboxApp = { appId: 'wxtest0000000002', appSecret: 'test-app-secret-0002' };

export async function sandboxWith(...apps: SandboxApp[]): Promise<Sandbox> {
  return startSandbox({ apps: apps.length ? apps : [APP, APP2] });
}

/** A Wechat on the sandbox with an in-memory store and the sandbox's clock; override anything. */
export function wechatOn(sandbox: Sandbox, options: Partial<WechatOptions> = {}, app: SandboxApp = APP): Wechat {
  return new Wechat({
    appId: app.appId,
    appSecret: app.appSecret,
    apiUrl: sandbox.url,
    store: new Store({ noInterval: true, now: () => sandbox.now() }),
    now: () => sandbox.now(),
    ...options,
  } as WechatOptions);
}

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = 'wechat-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
