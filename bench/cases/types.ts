/**
 * The contract of a benchmark case. A case measures one or more variants (SDKs, or stores of this SDK), each in
 * its own child process so that heap numbers and JIT state never leak from one to the other:
 *
 *   parent (run.ts)                                   child (child.ts)
 *   for each repeat, for each variant (alternating):
 *     start a fresh sandbox  ───── spawn ─────────►   case.measure({ variant, sandboxUrl, app, params })
 *     read its counters      ◄──── result JSON ────   exit
 *   case.report(runs) → a table, target checks and notes
 *
 * A case that needs another shape (several children sharing one sandbox, e.g. cluster upstream counts) implements
 * `orchestrate` and uses the same ParentContext helpers.
 */
import type { Sandbox, SandboxApp } from '../../lib/sandbox';

export interface ChildInput<P = Record<string, unknown>> {
  caseId: string;
  variant: string;
  sandboxUrl: string;
  app: SandboxApp;
  params: P;
  /** A scratch folder for this child (store files...). */
  workDir: string;
}

/** One measured child: what it returned, plus the sandbox's view of it. */
export interface VariantRun<R> {
  variant: string;
  result: R;
  upstream: { token: number; ticket: number; byPath: Record<string, number> };
  /** Checks the parent made against the sandbox while it was still up (e.g. signatures that verify). */
  checks: Record<string, number>;
}

export type Runs<R> = Record<string, Array<VariantRun<R>>>;

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

export interface CaseReport {
  table: { head: string[]; rows: string[][] };
  targets: TargetCheck[];
  notes: string[];
}

export interface ParentContext {
  startSandbox(): Promise<Sandbox>;
  /** Run `measure` of this case for `variant` in a child process against `sandbox`. */
  spawnChild<R>(
    caseId: string,
    variant: string,
    sandbox: Sandbox,
    params: Record<string, unknown>,
    nodeFlags?: string[],
  ): Promise<R>;
  log(message: string): void;
}

export interface BenchCase<R = any, P extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  title: string;
  /** Variants measured, in this order, alternating across repeats. */
  variants: readonly string[];
  params: P;
  /** Reduced parameters for `--quick` (development runs); not used for RESULTS.md targets. */
  quickParams?: Partial<P>;
  repeats: number;
  nodeFlags?: string[];
  /** Child side: measure one variant and return JSON-serialisable numbers. */
  measure(input: ChildInput<P>): Promise<R>;
  /** Parent side, optional: checks against the sandbox before it closes (stored in `VariantRun.checks`). */
  verify?(sandbox: Sandbox, result: R, variant: string): Record<string, number>;
  /** Parent side, optional: replaces the default "fresh sandbox + one child per variant and repeat". */
  orchestrate?(ctx: ParentContext, params: P): Promise<Runs<R>>;
  /** Parent side: the table, the targets, the notes. */
  report(runs: Runs<R>, params: P): CaseReport;
}

// ---- small helpers shared by cases --------------------------------------------------------------------------

export function best(values: number[]): number {
  return values.length ? Math.max(...values) : NaN;
}

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatInt(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 10 ? `${Math.round(value)}x` : `${value.toFixed(2)}x`;
}

export function formatMB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run the garbage collector if the child was started with --expose-gc (several passes settle weak refs). */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('this case needs node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
}
