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
      'changed outside mask',
      'distance to target',
    ])
      expect(html).toContain(part);
    // The quality row of each conversion: nothing changed outside the blend mask.
    expect(html).toMatch(/demo-eyes\.mp4<\/a><\/td>(<td>[^<]*<\/td>){4}<td>0<\/td>/);
    for (const video of Object.values(result.videos)) expect(existsSync(video)).toBe(true);
    expect(result.iterations).toBeGreaterThan(0);
    const again = await runCli(['demo', '--out', out, '--quick', '--json'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/resuming/);
    expect(again.stderr).toMatch(/frames already indexed/);
  });
});
