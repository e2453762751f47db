import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';

/**
 * Resolve a project-relative path and refuse anything that escapes the project folder,
 * whether by '..', an absolute path, or a symlink that points outside.
 */
export function resolveInside(root: string, relative: string): string {
  if (relative.includes('\0') || path.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw new StudioError(ErrorCode.pathOutsideProject, `path "${relative}" must be relative to the project folder`, {
      field: 'path',
    });
  }
  const rootReal = realpathSync(root);
  const candidate = path.resolve(rootReal, relative);
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    // A path that does not exist yet: check its nearest existing parent instead.
    real = path.join(
      realpathSync(nearestExisting(path.dirname(candidate))),
      path.relative(nearestExisting(path.dirname(candidate)), candidate),
    );
  }
  if (!isInside(rootReal, real)) {
    throw new StudioError(ErrorCode.pathOutsideProject, `path "${relative}" is outside the project folder`, {
      field: 'path',
    });
  }
  return real;
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function nearestExisting(dir: string): string {
  let current = dir;
  for (;;) {
    try {
      realpathSync(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

/** Where the studio keeps user-level state (recent projects). FACEPARTS_HOME overrides it (tests, portable installs). */
export function studioHome(): string {
  if (process.env.FACEPARTS_HOME) return path.resolve(process.env.FACEPARTS_HOME);
  const base =
    process.platform === 'win32'
      ? (process.env.APPDATA ?? path.join(process.env.USERPROFILE ?? '.', 'AppData', 'Roaming'))
      : process.platform === 'darwin'
        ? path.join(process.env.HOME ?? '.', 'Library', 'Application Support')
        : (process.env.XDG_CONFIG_HOME ?? path.join(process.env.HOME ?? '.', '.config'));
  return path.join(base, 'faceparts-studio');
}
