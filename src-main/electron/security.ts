/**
 * The pure, testable parts of the Electron shell's hardening: URL parsing for the two custom schemes,
 * the "is this file inside that folder" check (lexical and after resolving symlinks), the IPC sender check
 * and MIME types. No `electron` import here, so unit tests run it under plain Node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The renderer's scheme and host: every renderer file is served from `app://renderer/...`. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'renderer';
export const RENDERER_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const RENDERER_ENTRY_URL = `${RENDERER_ORIGIN}/index.html`;

/** Project media (frames, faces, previews, exports): `faceparts-media://project/<relpath>?dir=<projectDir>`. */
export const MEDIA_SCHEME = 'faceparts-media';
export const MEDIA_HOST = 'project';

/** Sent as a response header with every app:// document and asset. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  `img-src 'self' data: blob: ${MEDIA_SCHEME}:`,
  `media-src 'self' blob: ${MEDIA_SCHEME}:`,
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.bmp': 'image/bmp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.avi': 'video/x-msvideo',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/opus',
  '.flac': 'audio/flac',
};

/** MIME type by file extension (case-insensitive); unknown extensions are served as opaque bytes. */
export function mimeTypeFor(filePath: string): string {
  return MIME_TYPES[path.extname(filePath).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Lexical check: is `candidate` the folder `root` itself or somewhere below it?
 * Both are resolved first; this does not follow symlinks (see resolveFileInside for that).
 */
export function isPathInside(root: string, candidate: string, pathApi: path.PlatformPath = path): boolean {
  const rel = pathApi.relative(pathApi.resolve(root), pathApi.resolve(candidate));
  if (rel === '') return true;
  return rel !== '..' && !rel.startsWith(`..${pathApi.sep}`) && !pathApi.isAbsolute(rel);
}

/** The same folder, whatever trailing separators or `.` segments the two spellings have. */
export function sameDirectory(a: string, b: string, pathApi: path.PlatformPath = path): boolean {
  const ra = pathApi.resolve(a);
  const rb = pathApi.resolve(b);
  // Windows and default macOS volumes compare names case-insensitively.
  if (pathApi.sep === '\\' || process.platform === 'darwin') return ra.toLowerCase() === rb.toLowerCase();
  return ra === rb;
}

/**
 * Turn a URL path (percent-encoded, `/`-separated, relative to a served folder) into a safe relative path,
 * or null when it could name anything outside that folder: `..` segments (also when percent-encoded or
 * spelled with `\`), absolute paths, drive letters, UNC prefixes, NUL bytes or malformed escapes.
 */
export function safeRelativePath(encoded: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  if (decoded === '') return null;
  // Whatever remains must not be absolute on any platform (`/x`, `\\server\share`, `C:\x`, `C:x`).
  if (decoded.startsWith('/') || decoded.startsWith('\\') || /^[a-zA-Z]:/.test(decoded)) return null;
  if (path.isAbsolute(decoded) || path.win32.isAbsolute(decoded)) return null;
  const segments = decoded.split(/[/\\]/);
  if (segments.some((s) => s === '..' || s === '.' || s === '')) return null;
  return segments.join(path.sep);
}

/**
 * Resolve `relPath` (already made safe, or raw: it is re-checked lexically) inside `root` and return the
 * real path of a regular file inside the real `root`, or null. Symlinks are followed and the target must
 * still be inside the folder, so a link pointing elsewhere is refused.
 */
export async function resolveFileInside(root: string, relPath: string): Promise<string | null> {
  if (relPath === '' || relPath.includes('\0') || path.isAbsolute(relPath) || path.win32.isAbsolute(relPath)) {
    return null;
  }
  if (relPath.split(/[/\\]/).some((s) => s === '..')) return null;
  let realRoot: string;
  let realTarget: string;
  try {
    // fs.promises is looked up at call time so Electron's asar patches (app.asar/dist/renderer) apply.
    realRoot = await fs.promises.realpath(root);
    const joined = path.resolve(realRoot, relPath);
    if (!isPathInside(realRoot, joined)) return null;
    realTarget = await fs.promises.realpath(joined);
  } catch {
    return null;
  }
  if (realTarget === realRoot || !isPathInside(realRoot, realTarget)) return null;
  try {
    const stat = await fs.promises.stat(realTarget);
    return stat.isFile() ? realTarget : null;
  } catch {
    return null;
  }
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Plain `scheme://host/...` with no credentials or port. */
function hasPlainAuthority(url: URL, scheme: string, host: string): boolean {
  return (
    url.protocol === `${scheme}:` &&
    url.hostname === host &&
    url.port === '' &&
    url.username === '' &&
    url.password === ''
  );
}

/** Is this the app's own renderer (any page or asset under `app://renderer/`)? */
export function isTrustedRendererUrl(url: string | null | undefined): boolean {
  if (typeof url !== 'string' || !url.startsWith(`${RENDERER_ORIGIN}/`)) return false;
  const parsed = parseUrl(url);
  return parsed !== null && hasPlainAuthority(parsed, APP_SCHEME, APP_HOST);
}

/** Navigation is only ever allowed within the app's own renderer (e.g. a reload or an in-app link). */
export function isAllowedNavigation(targetUrl: string): boolean {
  return isTrustedRendererUrl(targetUrl);
}

export interface IpcSenderInfo {
  /** URL of the frame that sent the message; null/undefined when the frame is gone. */
  frameUrl: string | null | undefined;
  /** The sender is a top-level frame (not an iframe). */
  isMainFrame: boolean;
  /** The sender is the main frame of the app's main window. */
  isMainWindowFrame: boolean;
}

/** IPC is answered only for the main window's top frame showing the app's own renderer. */
export function isAllowedIpcSender(sender: IpcSenderInfo): boolean {
  return sender.isMainFrame && sender.isMainWindowFrame && isTrustedRendererUrl(sender.frameUrl);
}

/** `app://renderer/<path>` -> safe relative path of the file to serve; `/` means index.html. */
export function appUrlToRelativePath(url: string): string | null {
  const parsed = parseUrl(url);
  if (parsed === null || !hasPlainAuthority(parsed, APP_SCHEME, APP_HOST)) return null;
  const pathname = parsed.pathname === '/' || parsed.pathname === '' ? '/index.html' : parsed.pathname;
  return safeRelativePath(pathname);
}

/** `faceparts-media://project/<relpath>?dir=<projectDir>` -> its parts, or null when malformed. */
export function parseMediaUrl(url: string): { dir: string; relPath: string } | null {
  const parsed = parseUrl(url);
  if (parsed === null || !hasPlainAuthority(parsed, MEDIA_SCHEME, MEDIA_HOST)) return null;
  const dirs = parsed.searchParams.getAll('dir');
  const dir = dirs[0];
  if (dirs.length !== 1 || dir === undefined || dir === '' || dir.includes('\0')) return null;
  if (!path.isAbsolute(dir) && !path.win32.isAbsolute(dir)) return null;
  const relPath = safeRelativePath(parsed.pathname);
  return relPath === null ? null : { dir, relPath };
}

/** Build a media URL for a project-relative path (the renderer does the same). */
export function mediaUrl(projectDir: string, relPath: string): string {
  const encodedPath = relPath
    .split(/[/\\]/)
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
  return `${MEDIA_SCHEME}://${MEDIA_HOST}/${encodedPath}?dir=${encodeURIComponent(projectDir)}`;
}

/**
 * A single `Range: bytes=...` header against a file of `size` bytes: the inclusive byte span, null when
 * there is no (usable) header so the whole file is sent, or 'unsatisfiable' for a 416 reply.
 */
export function parseByteRange(
  header: string | null | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === null || header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null; // multi-range or other units: ignore, send everything
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * Params of the `faceparts:pickPath` IPC call. The preload sends `{kind}` for a bare kind, or the renderer's
 * options object as is. 'directory' is accepted as another name for 'folder'. Strict: unknown keys are refused.
 */
export const PickPathParams = z
  .object({
    kind: z.enum(['file', 'folder', 'directory', 'save']),
    title: z.string().max(200).optional(),
    filters: z
      .array(
        z
          .object({
            name: z.string().min(1).max(100),
            extensions: z
              .array(z.string().regex(/^(\*|[A-Za-z0-9_-]{1,16})$/))
              .min(1)
              .max(50),
          })
          .strict(),
      )
      .max(20)
      .optional(),
  })
  .strict();
export type PickPathParams = z.infer<typeof PickPathParams>;
