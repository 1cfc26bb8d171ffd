/**
 * The SDKs under test, behind one small interface, built inside a child process and pointed at the sandbox.
 * - `ours`: this SDK with its in-memory `Store` (default LRU bound) and default options.
 * - `reference`: wechat-jssdk 5.1.0 with its own in-memory `Store` (noInterval), its `accessTokenUrl`,
 *   `ticketUrl` and `apiUrl` options pointed at the same sandbox.
 * Store cases can build `ours` with another store through `createOurs(env, { store })`.
 */
import { Wechat, type WechatOptions } from '../lib/Wechat';
import { Store } from '../lib/store/Store';
import type { SandboxApp } from '../lib/sandbox';

export interface SignatureResult {
  appId?: string;
  timestamp: string;
  nonceStr: string;
  signature: string;
  url: string;
}

export interface SdkUnderTest {
  readonly label: string;
  getSignature(url: string): Promise<SignatureResult>;
  close(): Promise<void>;
}

export interface SdkEnv {
  sandboxUrl: string;
  app: SandboxApp;
}

export const SDK_LABELS: Record<string, string> = {
  ours: 'this SDK',
  reference: `wechat-jssdk ${referenceVersion()}`,
};

export function referenceVersion(): string {
  return (require('wechat-jssdk/package.json') as { version: string }).version;
}

export function createOurs(env: SdkEnv, extra: Partial<WechatOptions> = {}): SdkUnderTest & { wx: Wechat } {
  const wx = new Wechat({
    appId: env.app.appId,
    appSecret: env.app.appSecret,
    apiUrl: env.sandboxUrl,
    store: new Store({ noInterval: true }),
    ...extra,
  });
  return {
    label: SDK_LABELS.ours,
    wx,
    getSignature: (url) => wx.jssdk.getSignature(url),
    close: () => wx.close(),
  };
}

/** The parts of wechat-jssdk 5.1 the benchmark uses (it ships no types). */
interface ReferenceModule {
  Wechat: new (options: Record<string, unknown>) => {
    jssdk: { getSignature(url: string): Promise<SignatureResult> };
    store: { destroy(): void };
  };
  Store: new (options: { noInterval?: boolean }) => object;
}

export function createReference(env: SdkEnv): SdkUnderTest {
  const ref = require('wechat-jssdk') as ReferenceModule;
  const wx = new ref.Wechat({
    appId: env.app.appId,
    appSecret: env.app.appSecret,
    accessTokenUrl: `${env.sandboxUrl}/cgi-bin/token`,
    ticketUrl: `${env.sandboxUrl}/cgi-bin/ticket/getticket`,
    apiUrl: env.sandboxUrl,
    store: new ref.Store({ noInterval: true }),
  });
  return {
    label: SDK_LABELS.reference,
    getSignature: (url) => wx.jssdk.getSignature(url),
    // wechat-jssdk keeps a never-cleared interval in JSSDK; the child process exits explicitly after measuring.
    close: async () => wx.store.destroy(),
  };
}

export function createSdk(variant: string, env: SdkEnv): SdkUnderTest {
  if (variant === 'ours') return createOurs(env);
  if (variant === 'reference') return createReference(env);
  throw new Error(`unknown SDK variant ${variant}`);
}
