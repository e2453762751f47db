import { statSync } from 'node:fs';
import path from 'node:path';

/**
 * What tells a file's contents apart without reading them, for keys of things made from the file: its resolved
 * path, inode (a file replaced by a rename has another), size and modification time; -1 for each of the last three
 * when it does not exist.
 */
export function fileIdentity(file: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  return [path.resolve(file), stat?.ino ?? -1, stat?.size ?? -1, stat?.mtimeMs ?? -1].join('|');
}
