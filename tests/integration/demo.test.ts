import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { scratch } from '../helpers/paths.js';

describe('faceparts demo --quick (the README first command, small)', () => {
  it('makes the project, the videos and report.html from the bundled samples, and resumes when run again', async () => {
    const out = path.join(scratch('demo'), 'demo');
    const env = { FACEPARTS_HOME: path.join(out, '..', 'home') };
    const first = await runCli(['demo', '--out', out, '--quick', '--json'], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const result = first.json as { report: string; videos: Record<string, string>; iterations: number };
    expect(result.report).toBe(path.join(out, 'report.html'));
    const html = readFileSync(result.report, 'utf8');
    for (const part of [
      'Sources and extraction',
      'Training',
      'Conversion',
      '<svg',
      'demo-face.mp4',
      'demo-eyes.mp4',
      'frame-before.png',
      'changed outside',
      'FaceRes',
    ])
      expect(html).toContain(part);
    // The quality row of each conversion: the face keeps its lightness (within 3 L*), nothing beyond codec noise
    // changed outside the swap region.
    for (const name of ['demo-face.mp4', 'demo-eyes.mp4']) {
      const row = new RegExp(
        `${name.replace('.', '\\.')}</a></td>(?:<td>[^<]*</td>){4}<td>([^<]*)</td><td>(\\d+) of ([\\d.]+) M</td>`,
      ).exec(html);
      expect(row, name).not.toBeNull();
      const [, deltaL, changed, millions] = row as unknown as [string, string, string, string];
      expect(Math.abs(Number(deltaL)), `${name} lightness`).toBeLessThan(3);
      expect(Number(changed) / (Number(millions) * 1e6), `${name} outside`).toBeLessThan(1e-5);
    }
    for (const video of Object.values(result.videos)) expect(existsSync(video)).toBe(true);
    expect(result.iterations).toBeGreaterThan(0);
    const again = await runCli(['demo', '--out', out, '--quick', '--json'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/resuming/);
    expect(again.stderr).toMatch(/frames already indexed/);
  }, 300_000);
});
