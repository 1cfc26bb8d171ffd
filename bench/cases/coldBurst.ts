/**
 * Cold burst: 1000 concurrent getSignature calls on the same URL with empty caches. Counts the token and ticket
 * requests that reach the sandbox, and checks every returned signature against the sandbox's live tickets.
 * Target: exactly 1 token request and 1 ticket request for this SDK.
 */
import type { Sandbox } from '../../lib/sandbox';
import { signJsapiTicket } from '../../lib/jssdk/signature';
import { BENCH_APP } from '../env';
import { SDK_LABELS, createSdk, type SignatureResult } from '../sdks';
import { formatInt, formatRatio, type BenchCase } from './types';

interface Params extends Record<string, unknown> {
  concurrency: number;
  url: string;
}

interface Result {
  elapsedMs: number;
  ok: number;
  failed: number;
  firstError?: string;
  /** Distinct signatures returned (wechat-jssdk makes one per call). */
  signatures: SignatureResult[];
}

export const coldBurst: BenchCase<Result, Params> = {
  id: 'cold',
  title: 'Cold burst: concurrent getSignature on one URL, empty cache',
  variants: ['ours', 'reference'],
  params: { concurrency: 1000, url: 'https://example.com/cold-burst?from=bench' },
  repeats: 1,

  async measure({ variant, sandboxUrl, app, params }) {
    const sdk = createSdk(variant, { sandboxUrl, app });
    const started = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: params.concurrency }, () => sdk.getSignature(params.url)),
    );
    const elapsedMs = performance.now() - started;
    const unique = new Map<string, SignatureResult>();
    let firstError: string | undefined;
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') {
        const { timestamp, nonceStr, signature, url } = outcome.value;
        unique.set(signature, { timestamp, nonceStr, signature, url });
      } else firstError ??= String((outcome.reason as Error)?.message ?? outcome.reason);
    }
    await sdk.close();
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    return { elapsedMs, ok, failed: settled.length - ok, firstError, signatures: [...unique.values()] };
  },

  verify(sandbox: Sandbox, result: Result) {
    const tickets = sandbox.liveTickets(BENCH_APP.appId);
    const valid = result.signatures.filter((sig) =>
      tickets.some(
        (ticket) =>
          signJsapiTicket({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: sig.url }) === sig.signature,
      ),
    ).length;
    return { validSignatures: valid, distinctSignatures: result.signatures.length };
  },

  report(runs, params) {
    const ours = runs.ours[0];
    const ref = runs.reference[0];
    const row = (label: string, get: (r: typeof ours) => number, ratio: boolean) => [
      label,
      formatInt(get(ours)),
      formatInt(get(ref)),
      ratio ? `${formatRatio(get(ref) / get(ours))} fewer` : '',
    ];
    const answered = (r: typeof ours) => `${formatInt(r.result.ok)} ok, ${formatInt(r.result.failed)} failed`;
    const valid = (r: typeof ours) =>
      `${r.checks.validSignatures} of ${r.checks.distinctSignatures} distinct ones verify`;
    return {
      table: {
        head: ['Metric', SDK_LABELS.ours, SDK_LABELS.reference, 'Ratio'],
        rows: [
          row('token requests', (r) => r.upstream.token, true),
          row('ticket requests', (r) => r.upstream.ticket, true),
          ['calls answered', answered(ours), answered(ref), ''],
          ['signatures returned', valid(ours), valid(ref), ''],
          ['burst time (ms)', formatInt(ours.result.elapsedMs), formatInt(ref.result.elapsedMs), ''],
        ],
      },
      targets: [
        {
          name: `cold burst (${formatInt(params.concurrency)} concurrent calls)`,
          target: '1 token + 1 ticket request',
          actual: `${ours.upstream.token} token + ${ours.upstream.ticket} ticket (reference: ${ref.upstream.token} + ${ref.upstream.ticket})`,
          pass:
            ours.upstream.token === 1 &&
            ours.upstream.ticket === 1 &&
            ours.result.failed === 0 &&
            ours.checks.validSignatures === ours.checks.distinctSignatures,
        },
      ],
      notes: ours.result.firstError ? [`this SDK: first error: ${ours.result.firstError}`] : [],
    };
  },
};
