import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, scratch } from '../helpers/paths.js';

interface Finding {
  id: string;
  file: string;
  manualReview: boolean;
  severity: { name: string };
  sample: string;
}

/**
 * Checks Electronegativity asks a person to review, each reviewed here: what it found and why it stands.
 * Anything else it reports fails the test.
 */
const REVIEWED: Record<string, string> = {
  // The preload exposes one typed bridge (invoke/on/pickPath) through contextBridge, validated on both sides.
  PRELOAD_JS_CHECK: 'electron/main.js',
  // style-src keeps 'unsafe-inline' for Svelte's style attributes; scripts stay 'self' only.
  CSP_GLOBAL_CHECK: 'renderer/index.html',
};

describe('Electron security scan (Electronegativity)', () => {
  it('finds no misconfiguration in the main process, preload and renderer page; what needs review is reviewed', async () => {
    // What ships: the compiled main process and preload, the renderer page, and package.json (the Electron version).
    // The renderer's bundle is left out: the scanner's parser predates its syntax, and it holds no Electron API.
    const app = path.join(scratch('electron-scan'), 'app');
    mkdirSync(app, { recursive: true });
    cpSync(path.join(REPO, 'dist/src-main/electron'), path.join(app, 'electron'), { recursive: true });
    mkdirSync(path.join(app, 'renderer'));
    cpSync(path.join(REPO, 'dist/renderer/index.html'), path.join(app, 'renderer/index.html'));
    writeFileSync(path.join(app, 'package.json'), readFileSync(path.join(REPO, 'package.json')));
    const require = createRequire(import.meta.url);
    const run = require('@doyensec/electronegativity') as (options: {
      input: string;
      isRelative: boolean;
    }) => Promise<{ issues: Finding[]; errors: unknown[] }>;
    const result = await run({ input: app, isRelative: true });
    expect(result.errors).toEqual([]);
    const unreviewed = result.issues.filter((issue) => REVIEWED[issue.id] !== issue.file.replace(/\\/g, '/'));
    expect(unreviewed.map((i) => `${i.id} ${i.severity.name} ${i.file}: ${i.sample}`)).toEqual([]);
    expect(result.issues.every((issue) => issue.manualReview)).toBe(true);
  });
});
