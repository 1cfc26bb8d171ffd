/** Every benchmark case, in the order run.ts runs them. Add a case here (and a file next to this one). */
import type { BenchCase } from './types';
import { coldBurst } from './coldBurst';
import { warmSignature } from './warmSignature';
import { distinctUrls } from './distinctUrls';
import { stores } from './stores';

export const CASES: BenchCase[] = [coldBurst, warmSignature, distinctUrls, stores];

export function findCase(id: string): BenchCase {
  const found = CASES.find((c) => c.id === id);
  if (!found) throw new Error(`unknown bench case "${id}" (known: ${CASES.map((c) => c.id).join(', ')})`);
  return found;
}
