/**
 * Child process entry: runs `measure` of one case for one variant and prints one line `RESULT <json>`.
 * Started by run.ts as `node [flags] --import tsx bench/child.ts '<ChildInput as JSON>'`. Each measurement gets a
 * fresh process, so one SDK's heap, caches and JIT state never affect the other's numbers.
 */
import { findCase } from './cases';
import type { ChildInput } from './cases/types';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  const result = await findCase(input.caseId).measure(input);
  // Exit explicitly: wechat-jssdk leaves a never-cleared interval behind.
  process.stdout.write(`\nRESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench child failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
