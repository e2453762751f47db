import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';

const require = createRequire(import.meta.url);

export interface ToolResolution {
  ffmpeg: string | null;
  ffprobe: string | null;
  /** Every candidate looked at, with why it was or wasn't used. */
  tried: string[];
}

/** Inside a packaged app, native binaries live in app.asar.unpacked, not in the archive. */
function unpacked(p: string): string {
  return p.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
}

function runs(binary: string): boolean {
  try {
    execFileSync(binary, ['-version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function fromPackage(name: string, pick: (mod: unknown) => unknown): string | null {
  try {
    const value = pick(require(name));
    return typeof value === 'string' && value !== '' ? unpacked(value) : null;
  } catch {
    return null;
  }
}

function resolveOne(
  tool: 'ffmpeg' | 'ffprobe',
  explicit: string | undefined,
  packages: Array<[string, (mod: unknown) => unknown]>,
  tried: string[],
): string | null {
  const candidates: Array<[string, string | null]> = [];
  const envName = tool === 'ffmpeg' ? 'FACEPARTS_FFMPEG' : 'FACEPARTS_FFPROBE';
  if (process.env[envName]) candidates.push([`env ${envName}`, process.env[envName] ?? null]);
  if (explicit) candidates.push(['setting', explicit]);
  for (const [name, pick] of packages) candidates.push([`package ${name}`, fromPackage(name, pick)]);
  candidates.push(['PATH', tool]);
  for (const [label, candidate] of candidates) {
    if (candidate === null) {
      tried.push(`${tool} via ${label}: not installed`);
      continue;
    }
    if (candidate !== tool && !existsSync(candidate)) {
      tried.push(`${tool} via ${label}: ${candidate} does not exist`);
      continue;
    }
    if (!runs(candidate)) {
      tried.push(`${tool} via ${label}: ${candidate} does not run`);
      continue;
    }
    tried.push(`${tool} via ${label}: ${candidate} ok`);
    return candidate;
  }
  return null;
}

const defaultPath = (mod: unknown): unknown => (mod as { path?: unknown }).path;

let cached: ToolResolution | null = null;

/** ffmpeg: FACEPARTS_FFMPEG / setting -> ffmpeg-static -> @ffmpeg-installer/ffmpeg -> PATH; ffprobe likewise. */
export function resolveTools(settings: { ffmpeg?: string; ffprobe?: string } = {}, fresh = false): ToolResolution {
  if (cached && !fresh && !settings.ffmpeg && !settings.ffprobe) return cached;
  const tried: string[] = [];
  const ffmpeg = resolveOne(
    'ffmpeg',
    settings.ffmpeg,
    [
      ['ffmpeg-static', (mod) => mod],
      ['@ffmpeg-installer/ffmpeg', defaultPath],
    ],
    tried,
  );
  const ffprobe = resolveOne(
    'ffprobe',
    settings.ffprobe,
    [
      ['ffprobe-static', defaultPath],
      ['@ffprobe-installer/ffprobe', defaultPath],
    ],
    tried,
  );
  const result = { ffmpeg, ffprobe, tried };
  if (!settings.ffmpeg && !settings.ffprobe) cached = result;
  return result;
}

export function requireTool(tool: 'ffmpeg' | 'ffprobe'): string {
  const resolution = resolveTools();
  const found = resolution[tool];
  if (found) return found;
  throw new StudioError(
    ErrorCode.toolMissing,
    `${tool} was not found. Tried: ${resolution.tried.filter((t) => t.startsWith(tool)).join('; ')}`,
    {
      fix: `install ffmpeg (e.g. "apt install ffmpeg") or set FACEPARTS_${tool.toUpperCase()} to the ${tool} binary`,
    },
  );
}
