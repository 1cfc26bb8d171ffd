/**
 * What every benchmark case shares: the app registered in the sandbox, the sandbox itself (started by the
 * orchestrator, one per measured child so upstream counters never mix), and where children may write files.
 */
import path from 'node:path';
import { startSandbox, type Sandbox, type SandboxApp } from '../lib/sandbox';

export const BENCH_APP: SandboxApp = {
  appId: 'wxbench000000001',
  appSecret: 'bench-app-secret-0001',
  // wechat-jssdk asks for one classic token per cold call: the daily quota must not end the run.
  tokenQuota: 10_000_000,
};

/** Scratch folder (git-ignored) for store files and other temporary data. */
export const WORK_DIR = path.join(__dirname, '.work');

export function startBenchSandbox(): Promise<Sandbox> {
  return startSandbox({ apps: [BENCH_APP] });
}

/** Upstream requests of the two token endpoints and the ticket endpoint, from the sandbox counters. */
export function upstreamCounts(sandbox: Sandbox): { token: number; ticket: number; byPath: Record<string, number> } {
  return {
    token: sandbox.calls('/cgi-bin/token') + sandbox.calls('/cgi-bin/stable_token'),
    ticket: sandbox.calls('/cgi-bin/ticket/getticket'),
    byPath: sandbox.calls(),
  };
}
