import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { TEST_OUTPUT } from './paths.js';

export interface ReliabilityCounts {
  badInputs: number;
  faults: number;
  hostileMessages: number;
  dataLost: number;
}

export const RELIABILITY_DIR = path.join(TEST_OUTPUT, 'reliability');
export const RELIABILITY_LOG = path.join(RELIABILITY_DIR, 'counts.jsonl');

/** Add to the run's reliability counts (summed and printed when the whole suite ends: tests/global-setup.ts). */
export function recordReliability(source: string, counts: Partial<ReliabilityCounts>): void {
  mkdirSync(RELIABILITY_DIR, { recursive: true });
  appendFileSync(RELIABILITY_LOG, `${JSON.stringify({ source, ...counts })}\n`);
}
