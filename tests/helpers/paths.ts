import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The read-only public-domain media beside the repository (CI lays ../shared next to the clone). */
export const SHARED_MEDIA = path.resolve(REPO, '../shared/media');
export const TEST_OUTPUT = path.join(REPO, 'test-output');
export const CLI = path.join(REPO, 'bin/faceparts.js');

export const media = (name: string): string => path.join(SHARED_MEDIA, name);

/** A fresh folder under test-output for one test (kept after the run for inspection). */
export function scratch(name: string): string {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  return mkdtempSync(path.join(TEST_OUTPUT, `${name}-`));
}

/** Copy shared media next to a test's scratch folder: shared/ is read-only and tests may damage their copies. */
export function copyMedia(dir: string, names: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  return names.map((name) => {
    const target = path.join(dir, name);
    copyFileSync(media(name), target);
    return target;
  });
}

/** An image folder for a side, from the given stills. */
export function imageFolder(dir: string, names: string[]): string {
  copyMedia(dir, names);
  return dir;
}

/** Every file under a folder, recursively. */
export function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

/** A path as the studio shows it when the engine's home folder is `home`: under it as "~/…" (app.svelte.ts). */
export function shownPath(file: string, home: string): string {
  return file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
}
