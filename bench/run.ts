/**
 * `npm run bench`: runs every case in bench/cases for this SDK and wechat-jssdk 5.1.0 side by side, prints the
 * tables with ratios and the targets, and writes bench/RESULTS.md. Exits 1 when a target is missed.
 *
 *   npm run bench                          all cases, full size
 *   npm run bench -- --only warm,distinct  some cases (RESULTS.md is marked partial)
 *   npm run bench -- --quick               reduced sizes for development (marked partial)
 *   npm run bench -- --repeats 3           more repeats of each case
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sandbox } from '../lib/sandbox';
import { CASES } from './cases';
import type { BenchCase, ChildInput, ParentContext, Runs } from './cases/types';
import { BENCH_APP, WORK_DIR, startBenchSandbox, upstreamCounts } from './env';
import { describeMachine, loadAverage, targetRows, textTable, writeResults, type Section } from './report';
import { SDK_LABELS } from './sdks';

const ROOT = path.resolve(__dirname, '..');
const CHILD = path.join(__dirname, 'child.ts');
const RESULTS = path.join(__dirname, 'RESULTS.md');

interface Args {
  only?: string[];
  quick: boolean;
  repeats?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',').filter(Boolean);
    else if (a === '--repeats') args.repeats = Number(argv[++i]);
    else if (a.startsWith('--repeats=')) args.repeats = Number(a.slice(10));
    else throw new Error(`unknown argument ${a} (use --only a,b --quick --repeats n)`);
  }
  if (args.repeats !== undefined && !(args.repeats >= 1)) throw new Error('--repeats needs a number >= 1');
  return args;
}

const log = (message: string) => process.stdout.write(`${message}\n`);

function spawnChild<R>(input: ChildInput, nodeFlags: string[] = []): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', CHILD, JSON.stringify(input)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DEBUG: '' },
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as R);
      else reject(new Error(`bench child ${input.caseId}/${input.variant} failed (${code ?? signal})`));
    });
  });
}

function context(): ParentContext {
  return {
    startSandbox: startBenchSandbox,
    spawnChild: <R>(
      caseId: string,
      variant: string,
      sandbox: Sandbox,
      params: Record<string, unknown>,
      nodeFlags?: string[],
    ) =>
      spawnChild<R>(
        { caseId, variant, sandboxUrl: sandbox.url, app: BENCH_APP, params, workDir: path.join(WORK_DIR, caseId) },
        nodeFlags,
      ),
    log,
  };
}

/** Fresh sandbox per child; variants alternate order between repeats so neither always runs first. */
async function defaultOrchestrate(
  c: BenchCase,
  params: Record<string, unknown>,
  repeats: number,
): Promise<Runs<unknown>> {
  const ctx = context();
  const runs: Runs<unknown> = Object.fromEntries(c.variants.map((v) => [v, []]));
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? c.variants : [...c.variants].reverse();
    for (const variant of order) {
      const sandbox = await ctx.startSandbox();
      try {
        log(`  ${c.id}: ${SDK_LABELS[variant] ?? variant} (run ${r + 1}/${repeats})...`);
        const result = await ctx.spawnChild(c.id, variant, sandbox, params, c.nodeFlags);
        runs[variant].push({
          variant,
          result,
          upstream: upstreamCounts(sandbox),
          checks: c.verify?.(sandbox, result, variant) ?? {},
        });
      } finally {
        await sandbox.close();
      }
    }
  }
  return runs;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cases = args.only ? args.only.map((id) => CASES.find((c) => c.id === id) ?? fail(`unknown case ${id}`)) : CASES;
  mkdirSync(WORK_DIR, { recursive: true });
  const machine = describeMachine();
  const ours = `wechat-jssdk-ts ${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;
  log(`Benchmark: ${ours} vs ${SDK_LABELS.reference}`);
  log(
    `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memory}, node ${machine.node}, load ${machine.loadAtStart}`,
  );
  const started = Date.now();
  const sections: Section[] = [];
  for (const c of cases) {
    const params = { ...c.params, ...(args.quick ? c.quickParams : {}) };
    log(`\n== ${c.title} ==`);
    const runs = c.orchestrate
      ? await c.orchestrate(context(), params)
      : await defaultOrchestrate(c, params, args.repeats ?? c.repeats);
    const report = c.report(runs, params);
    log(textTable(report.table.head, report.table.rows));
    for (const note of report.notes) log(`  note: ${note}`);
    sections.push({ id: c.id, title: c.title, params, report });
  }
  const targets = sections.flatMap((s) => s.report.targets);
  log('\n== Targets ==');
  log(textTable(['Target', 'Goal', 'Measured', 'Result'], targetRows(targets)));

  const partial = [args.only ? `only ${args.only.join(', ')}` : '', args.quick ? 'reduced sizes (--quick)' : '']
    .filter(Boolean)
    .join('; ');
  writeResults(RESULTS, {
    machine,
    loadAtEnd: loadAverage(),
    durationS: (Date.now() - started) / 1000,
    ours,
    reference: SDK_LABELS.reference,
    sections,
    partial: partial || undefined,
  });
  log(`\nWrote ${path.relative(ROOT, RESULTS)}`);
  if (targets.some((t) => !t.pass)) process.exitCode = 1;
}

function fail(message: string): never {
  throw new Error(message);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
