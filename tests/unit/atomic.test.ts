import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  TEMP_MARKER,
  removeStaleTemps,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../src-main/engine/io/atomic.js';
import { resolveInside } from '../../src-main/engine/io/paths.js';
import { scratch } from '../helpers/paths.js';

describe('atomic writes', () => {
  it('replaces content whole and leaves no temp file', async () => {
    const dir = scratch('atomic');
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    writeFileAtomicSync(file, 'three');
    expect(readFileSync(file, 'utf8')).toBe('three');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('keeps the old file when the write fails', async () => {
    const dir = scratch('atomic-fail');
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, 'old');
    chmodSync(dir, 0o500);
    try {
      if (process.getuid?.() === 0) return; // root ignores permissions; the rename path is covered above
      await expect(writeFileAtomic(file, 'new')).rejects.toThrow();
    } finally {
      chmodSync(dir, 0o700);
    }
    expect(readFileSync(file, 'utf8')).toBe('old');
  });

  it('recovery removes temp files left by killed writes, and only those', async () => {
    const dir = scratch('atomic-stale');
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, `${TEMP_MARKER}x.jpg.1234`), 'partial');
    writeFileSync(path.join(dir, 'sub', `${TEMP_MARKER}y.png.99`), 'partial');
    writeFileSync(path.join(dir, 'keep.jpg'), 'whole');
    expect(await removeStaleTemps(dir)).toBe(2);
    expect(existsSync(path.join(dir, 'keep.jpg'))).toBe(true);
    expect(readdirSync(path.join(dir, 'sub'))).toEqual([]);
  });
});

describe('resolveInside', () => {
  it('accepts paths inside and refuses escapes', () => {
    const dir = scratch('inside');
    mkdirSync(path.join(dir, 'thumbs'));
    expect(resolveInside(dir, 'thumbs/x.jpg')).toBe(path.join(dir, 'thumbs/x.jpg'));
    for (const bad of ['../x', 'thumbs/../../x', '/etc/passwd', 'a\0b']) {
      expect(() => resolveInside(dir, bad), bad).toThrow(/outside|relative/);
    }
  });

  it('refuses a symlink that points outside the folder', () => {
    const dir = scratch('inside-link');
    symlinkSync('/etc', path.join(dir, 'link'));
    expect(() => resolveInside(dir, 'link/hostname')).toThrow(/outside/);
    expect(() => resolveInside(dir, 'link/not-there-yet')).toThrow(/outside/);
  });
});
