/**
 * Signing many distinct URLs (crawlers, share links with unique query strings): ops/s and heap growth, measured
 * in a child started with --expose-gc (gc before and after). This SDK signs 1M URLs with its default LRU bound;
 * the reference keeps every URL forever. The reference run stops early at `maxMs` on a slow machine, in which case
 * its per-operation numbers are compared and its heap growth is extrapolated to the same count (noted).
 * Targets: >= 4x the reference's rate and <= 50 MB heap growth for this SDK.
 */
import { SDK_LABELS, createSdk } from '../sdks';
import { collectGarbage, formatInt, formatMB, formatRatio, type BenchCase, type VariantRun } from './types';

interface Params extends Record<string, unknown> {
  urls: number;
  /** Stop a variant's loop after this long (the reference on a slow machine); this SDK must finish `urls`. */
  maxMs: number;
}

interface Result {
  signed: number;
  elapsedMs: number;
  /** CPU time of the whole process during the loop (all threads, GC helpers included). */
  cpuMs: number;
  heapBefore: number;
  heapAfter: number;
  rssAfter: number;
}

export const DISTINCT_RATE_TARGET = 4;
export const DISTINCT_HEAP_TARGET_MB = 50;

export const distinctUrls: BenchCase<Result, Params> = {
  id: 'distinct',
  title: 'Signing distinct URLs: rate and heap growth',
  variants: ['ours', 'reference'],
  params: { urls: 1_000_000, maxMs: 120_000 },
  quickParams: { urls: 100_000 },
  repeats: 1,
  nodeFlags: ['--expose-gc'],

  async measure({ variant, sandboxUrl, app, params }) {
    const sdk = createSdk(variant, { sandboxUrl, app });
    // Token and ticket first: the loop measures signing, not the first upstream round trip.
    await sdk.getSignature('https://example.com/warm-up');
    await collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    let signed = 0;
    while (signed < params.urls) {
      await sdk.getSignature(`https://example.com/article/${signed}?utm_source=share&n=${signed}`);
      signed++;
      if ((signed & 4095) === 0 && performance.now() - started > params.maxMs) break;
    }
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    await collectGarbage();
    const { heapUsed: heapAfter, rss: rssAfter } = process.memoryUsage();
    await sdk.close();
    return { signed, elapsedMs, cpuMs, heapBefore, heapAfter, rssAfter };
  },

  report(runs, params) {
    const pick = (variant: string) => {
      // With several repeats, the fastest run (least disturbed by other load); heap growth from that run.
      const all = runs[variant];
      return all.reduce((a, b) => (rate(b) > rate(a) ? b : a));
    };
    const rate = (run: VariantRun<Result>) => (run.result.signed * 1000) / run.result.elapsedMs;
    const cpuRate = (run: VariantRun<Result>) => (run.result.signed * 1000) / run.result.cpuMs;
    const growth = (run: VariantRun<Result>) => run.result.heapAfter - run.result.heapBefore;
    const ours = pick('ours');
    const ref = pick('reference');
    const ratio = rate(ours) / rate(ref);
    const notes: string[] = [];
    const refPartial = ref.result.signed < params.urls;
    const refGrowthAtN = refPartial ? (growth(ref) / ref.result.signed) * params.urls : growth(ref);
    if (refPartial) {
      notes.push(
        `${SDK_LABELS.reference} stopped after ${formatInt(ref.result.signed)} URLs (${Math.round(params.maxMs / 1000)} s cap); ` +
          `its rate is per operation over those, and its heap growth at ${formatInt(params.urls)} URLs is extrapolated linearly.`,
      );
    }
    const oursComplete = ours.result.signed >= params.urls;
    if (!oursComplete) notes.push(`this SDK did not finish ${formatInt(params.urls)} URLs within the cap.`);
    return {
      table: {
        head: ['Metric', SDK_LABELS.ours, SDK_LABELS.reference, 'Ratio'],
        rows: [
          ['URLs signed', formatInt(ours.result.signed), formatInt(ref.result.signed), ''],
          ['ops/s', formatInt(rate(ours)), formatInt(rate(ref)), formatRatio(ratio)],
          [
            'ops per CPU-second (all threads)',
            formatInt(cpuRate(ours)),
            formatInt(cpuRate(ref)),
            formatRatio(cpuRate(ours) / cpuRate(ref)),
          ],
          ['µs per URL', (1e6 / rate(ours)).toFixed(2), (1e6 / rate(ref)).toFixed(2), ''],
          ['time (s)', (ours.result.elapsedMs / 1000).toFixed(1), (ref.result.elapsedMs / 1000).toFixed(1), ''],
          [
            'heap growth (after gc)',
            formatMB(growth(ours)),
            refPartial
              ? `${formatMB(growth(ref))} (≈ ${formatMB(refGrowthAtN)} at ${formatInt(params.urls)})`
              : formatMB(growth(ref)),
            `${formatRatio(refGrowthAtN / Math.max(growth(ours), 1))} less`,
          ],
          [
            'heap growth per URL signed (bytes)',
            (growth(ours) / ours.result.signed).toFixed(1),
            (growth(ref) / ref.result.signed).toFixed(1),
            '',
          ],
          ['rss after (MB)', formatMB(ours.result.rssAfter), formatMB(ref.result.rssAfter), ''],
        ],
      },
      targets: [
        {
          name: `distinct URLs rate (${formatInt(params.urls)} URLs)`,
          target: `>= ${DISTINCT_RATE_TARGET}x the reference`,
          actual: `${formatRatio(ratio)} (${formatInt(rate(ours))} vs ${formatInt(rate(ref))} ops/s)`,
          pass: oursComplete && ratio >= DISTINCT_RATE_TARGET,
        },
        {
          name: `distinct URLs heap growth (${formatInt(ours.result.signed)} URLs)`,
          target: `<= ${DISTINCT_HEAP_TARGET_MB} MB`,
          actual: `${formatMB(growth(ours))} (reference: ${formatMB(refGrowthAtN)})`,
          pass: oursComplete && growth(ours) <= DISTINCT_HEAP_TARGET_MB * 1024 * 1024,
        },
      ],
      notes,
    };
  },
};
