import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | null = null;

/** The studio's version, from its package.json (found from the sources or from dist/, which adds one level). */
export function studioVersion(): string {
  version ??= (() => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    for (const up of ['../../..', '../../../..']) {
      try {
        return (JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { version: string }).version;
      } catch {
        /* try the next level */
      }
    }
    return '0.0.0';
  })();
  return version;
}
