/** Whole-run set-up and tear-down: the reliability counts every suite recorded, summed and printed at the end. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RELIABILITY_DIR, RELIABILITY_LOG, type ReliabilityCounts } from './helpers/reliability.js';

export function setup(): void {
  rmSync(RELIABILITY_LOG, { force: true });
  rmSync(path.join(RELIABILITY_DIR, 'load.json'), { force: true });
  rmSync(path.join(RELIABILITY_DIR, 'serve-attack.json'), { force: true });
}

export function teardown(): void {
  if (!existsSync(RELIABILITY_LOG)) return;
  const totals: ReliabilityCounts = { badInputs: 0, faults: 0, hostileMessages: 0, dataLost: 0 };
  const sources = new Set<string>();
  for (const line of readFileSync(RELIABILITY_LOG, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as Partial<ReliabilityCounts> & { source: string };
    sources.add(entry.source);
    for (const key of Object.keys(totals) as Array<keyof ReliabilityCounts>) totals[key] += entry[key] ?? 0;
  }
  mkdirSync(RELIABILITY_DIR, { recursive: true });
  writeFileSync(
    path.join(RELIABILITY_DIR, 'summary.json'),
    `${JSON.stringify({ ...totals, sources: [...sources].sort() }, null, 2)}\n`,
  );
  console.log(
    `\nreliability: ${totals.badInputs} bad inputs tried, ${totals.faults} faults injected, ` +
      `${totals.hostileMessages} hostile messages sent, data lost: ${totals.dataLost} ` +
      `(${sources.size} suites; test-output/reliability/summary.json)`,
  );
  const load = path.join(RELIABILITY_DIR, 'load.json');
  if (existsSync(load)) console.log(`load (serve mode, many clients, long run): ${readFileSync(load, 'utf8').trim()}`);
  const attack = path.join(RELIABILITY_DIR, 'serve-attack.json');
  if (existsSync(attack))
    console.log(`serve under attack (memory, open files): ${readFileSync(attack, 'utf8').trim()}`);
}
