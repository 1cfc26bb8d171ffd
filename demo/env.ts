/**
 * Demo configuration from the environment and `.env` (see .env.example). No dotenv dependency: Node 20.12+ has
 * process.loadEnvFile; older versions get the few lines below. Variables already set in the environment win.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface DemoEnv {
  WECHAT_APP_ID?: string;
  WECHAT_APP_SECRET?: string;
  WECHAT_TOKEN?: string;
  PUBLIC_URL?: string;
  PORT?: string;
  [name: string]: string | undefined;
}

export function loadEnvFile(file = '.env'): void {
  if (!existsSync(file)) return;
  const load = (process as { loadEnvFile?: (path: string) => void }).loadEnvFile;
  if (typeof load === 'function') {
    load(file);
    return;
  }
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || match[1] in process.env) continue;
    process.env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
}

export type DemoMode =
  { kind: 'sandbox' } | { kind: 'wechat'; appId: string; appSecret: string; wechatToken?: string; publicUrl?: string };

/** Sandbox unless both the app id and secret are set; half a configuration is an error, not a silent fallback. */
export function demoMode(env: DemoEnv): DemoMode {
  const appId = env.WECHAT_APP_ID?.trim();
  const appSecret = env.WECHAT_APP_SECRET?.trim();
  if (!appId && !appSecret) return { kind: 'sandbox' };
  if (!appId || !appSecret) {
    throw new Error(
      `.env has ${appId ? 'WECHAT_APP_ID but no WECHAT_APP_SECRET' : 'WECHAT_APP_SECRET but no WECHAT_APP_ID'}: ` +
        'fill in both to use WeChat, or leave both empty to use the built-in sandbox',
    );
  }
  const publicUrl = env.PUBLIC_URL?.trim().replace(/\/+$/, '') || undefined;
  if (publicUrl && !/^https?:\/\/[^/]+$/.test(publicUrl)) {
    throw new Error(`PUBLIC_URL must be the site's origin like https://your.domain, got ${publicUrl}`);
  }
  return { kind: 'wechat', appId, appSecret, wechatToken: env.WECHAT_TOKEN?.trim() || undefined, publicUrl };
}
