/** Console tables, the machine description, and bench/RESULTS.md. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import type { CaseReport, TargetCheck } from './cases/types';

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memory: string;
  node: string;
  os: string;
  loadAtStart: string;
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism?.() ?? os.cpus().length;
  }
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

export function describeMachine(): Machine {
  return {
    date: new Date().toISOString(),
    nproc: nproc(),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAtStart: loadAverage(),
  };
}

export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(head: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${head.map(escape).join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

export function targetRows(targets: TargetCheck[]): string[][] {
  return targets.map((t) => [t.name, t.target, t.actual, t.pass ? 'PASS' : 'FAIL']);
}

export interface Section {
  id: string;
  title: string;
  params: Record<string, unknown>;
  report: CaseReport;
}

export interface ResultsFile {
  machine: Machine;
  loadAtEnd: string;
  durationS: number;
  ours: string;
  reference: string;
  sections: Section[];
  /** Set when only some cases ran or parameters were reduced. */
  partial?: string;
}

export function writeResults(file: string, r: ResultsFile): void {
  const targets = r.sections.flatMap((s) => s.report.targets);
  const passed = targets.filter((t) => t.pass).length;
  const out: string[] = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${r.machine.date}; do not edit by hand.`,
    '',
    r.partial ? `> **Partial run:** ${r.partial}. Run \`npm run bench\` for the full set.\n` : '',
    `${r.ours} against ${r.reference}, side by side in one run, each measurement in its own Node process, both SDKs`,
    'talking over HTTP to the same local WeChat sandbox (lib/sandbox) with their in-memory stores.',
    '',
    '## Machine',
    '',
    markdownTable(
      ['', ''],
      [
        ['date', r.machine.date],
        ['nproc', String(r.machine.nproc)],
        ['cpu', r.machine.cpu],
        ['memory', r.machine.memory],
        ['node', r.machine.node],
        ['os', r.machine.os],
        ['load average (1/5/15 min) at start', r.machine.loadAtStart],
        ['load average at end', r.loadAtEnd],
        ['duration', `${r.durationS.toFixed(0)} s`],
      ],
    ),
    '',
    `## Targets: ${passed} of ${targets.length} passed`,
    '',
    markdownTable(['Target', 'Goal', 'Measured', 'Result'], targetRows(targets)),
    '',
  ];
  for (const s of r.sections) {
    out.push(`## ${s.title}`, '', `Case \`${s.id}\`, parameters: \`${JSON.stringify(s.params)}\``, '');
    out.push(markdownTable(s.report.table.head, s.report.table.rows), '');
    for (const note of s.report.notes) out.push(`- ${note}`);
    if (s.report.notes.length) out.push('');
  }
  out.push(
    '## Method',
    '',
    '- Cold burst: a fresh process per SDK with an empty in-memory store fires all calls at once on one URL; the',
    '  token and ticket counts are the requests that reached the sandbox (`/cgi-bin/token` + `/cgi-bin/stable_token`,',
    '  `/cgi-bin/ticket/getticket`), and every returned signature is checked against the tickets the sandbox issued.',
    '- Warm: one cached URL, calls awaited one after the other in timed rounds after a warm-up; repeats alternate the',
    '  SDK order; the best round is compared because other load on the machine only makes rounds slower.',
    '- Distinct URLs: a process started with `--expose-gc`; token and ticket fetched first; `gc()` before and after;',
    '  heap growth is `heapUsed` after minus before. This SDK keeps its default LRU bound (10000 URLs); wechat-jssdk',
    '  keeps every URL. A run is capped at 120 s: if wechat-jssdk does not finish 1M URLs in that time, its rate is',
    '  per operation over what it did and its heap growth is extrapolated (a note above says so). The CPU-second',
    '  rate counts every thread of the process (GC helpers included) and is less sensitive to other load.',
    '- Other processes on the machine slow both SDKs; the load averages above show how busy it was.',
    '- No number here is asserted by the test suite; the targets are checked only by this benchmark.',
    '',
  );
  writeFileSync(file, out.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n'));
}
