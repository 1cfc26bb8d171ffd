/**
 * Warm signing: getSignature on one URL that is already cached, awaited one after the other (the cost a page view
 * pays on a busy server). Several timed rounds per child; the best round of all repeats is compared, because
 * other load on the machine only ever makes a round slower. Target: >= 3x the reference.
 */
import { SDK_LABELS, createSdk } from '../sdks';
import { best, formatInt, formatRatio, median, type BenchCase } from './types';

interface Params extends Record<string, unknown> {
  url: string;
  warmupMs: number;
  roundMs: number;
  rounds: number;
}

interface Result {
  opsPerSec: number[];
}

export const WARM_TARGET = 3;

/** Call `op` (awaited, in batches) for about `ms`; returns ops per second. */
export async function timedLoop(ms: number, op: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let done = 0;
  let elapsed = 0;
  do {
    for (let i = 0; i < 1000; i++) await op();
    done += 1000;
    elapsed = performance.now() - started;
  } while (elapsed < ms);
  return (done * 1000) / elapsed;
}

export const warmSignature: BenchCase<Result, Params> = {
  id: 'warm',
  title: 'Warm getSignature on one cached URL',
  variants: ['ours', 'reference'],
  params: { url: 'https://example.com/warm/page?id=42', warmupMs: 500, roundMs: 1000, rounds: 3 },
  quickParams: { warmupMs: 200, roundMs: 300, rounds: 2 },
  repeats: 2,

  async measure({ variant, sandboxUrl, app, params }) {
    const sdk = createSdk(variant, { sandboxUrl, app });
    const first = await sdk.getSignature(params.url);
    const same = await sdk.getSignature(params.url);
    if (same.signature !== first.signature) throw new Error(`${variant}: the second call did not come from the cache`);
    const op = () => sdk.getSignature(params.url);
    await timedLoop(params.warmupMs, op);
    const opsPerSec: number[] = [];
    for (let round = 0; round < params.rounds; round++) opsPerSec.push(await timedLoop(params.roundMs, op));
    await sdk.close();
    return { opsPerSec };
  },

  report(runs) {
    const rounds = (variant: string) => runs[variant].flatMap((run) => run.result.opsPerSec);
    const ours = rounds('ours');
    const ref = rounds('reference');
    const ratio = best(ours) / best(ref);
    return {
      table: {
        head: ['Metric', SDK_LABELS.ours, SDK_LABELS.reference, 'Ratio'],
        rows: [
          ['ops/s (best round)', formatInt(best(ours)), formatInt(best(ref)), formatRatio(ratio)],
          [
            'ops/s (median round)',
            formatInt(median(ours)),
            formatInt(median(ref)),
            formatRatio(median(ours) / median(ref)),
          ],
          ['µs per call (best)', (1e6 / best(ours)).toFixed(2), (1e6 / best(ref)).toFixed(2), ''],
          ['rounds measured', String(ours.length), String(ref.length), ''],
        ],
      },
      targets: [
        {
          name: 'warm getSignature',
          target: `>= ${WARM_TARGET}x the reference`,
          actual: `${formatRatio(ratio)} (${formatInt(best(ours))} vs ${formatInt(best(ref))} ops/s)`,
          pass: ratio >= WARM_TARGET,
        },
      ],
      notes: [],
    };
  },
};
