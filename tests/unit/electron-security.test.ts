import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  appUrlToRelativePath,
  isAllowedIpcSender,
  isAllowedNavigation,
  isPathInside,
  isTrustedRendererUrl,
  mediaUrl,
  mimeTypeFor,
  parseByteRange,
  parseMediaUrl,
  PickPathParams,
  resolveFileInside,
  safeRelativePath,
  sameDirectory,
} from '../../src-main/electron/security.js';
import { EngineBridge, type EngineChild, type EngineChildHandlers } from '../../src-main/electron/engine-bridge.js';
import type { EventEnvelope, ResponseEnvelope } from '../../src-shared/contract/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------
// A stand-in for the `electron` module, so main.ts can be loaded and driven under plain Node.

type Listener = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  class Emitter {
    readonly listeners = new Map<string, Listener[]>();
    on(name: string, fn: Listener): this {
      this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
      return this;
    }
    once(name: string, fn: Listener): this {
      return this.on(name, fn);
    }
    emit(name: string, ...args: unknown[]): void {
      for (const fn of this.listeners.get(name) ?? []) fn(...args);
    }
  }
  class FakeChild extends Emitter {
    readonly posted: unknown[] = [];
    killed = false;
    constructor(
      readonly modulePath: string,
      readonly options: { serviceName?: string; env?: Record<string, string | undefined> },
    ) {
      super();
    }
    postMessage(message: unknown): void {
      this.posted.push(message);
    }
    kill(): boolean {
      this.killed = true;
      queueMicrotask(() => this.emit('exit', 0));
      return true;
    }
  }
  const session = {
    setPermissionRequestHandler: (..._a: unknown[]) => {},
    setPermissionCheckHandler: (..._a: unknown[]) => {},
  };
  const mainFrame = { url: 'app://renderer/index.html', parent: null, processId: 7, frameToken: 'main-frame' };
  class FakeWebContents extends Emitter {
    readonly sent: [string, unknown][] = [];
    readonly mainFrame = mainFrame;
    readonly session = session;
    windowOpenHandler: (() => unknown) | null = null;
    send(channel: string, payload: unknown): void {
      this.sent.push([channel, payload]);
    }
    isDestroyed(): boolean {
      return false;
    }
    setWindowOpenHandler(fn: () => unknown): void {
      this.windowOpenHandler = fn;
    }
  }
  const windows: FakeBrowserWindow[] = [];
  class FakeBrowserWindow extends Emitter {
    readonly webContents = new FakeWebContents();
    readonly loaded: string[] = [];
    constructor(readonly options: { webPreferences?: Record<string, unknown> }) {
      super();
      windows.push(this);
    }
    loadURL(url: string): Promise<void> {
      this.loaded.push(url);
      return Promise.resolve();
    }
    loadFile(): Promise<void> {
      throw new Error('loadFile must not be used');
    }
    isDestroyed(): boolean {
      return false;
    }
    isMinimized(): boolean {
      return false;
    }
    show(): void {}
    focus(): void {}
    restore(): void {}
    static getAllWindows(): FakeBrowserWindow[] {
      return windows;
    }
  }
  const app = Object.assign(new Emitter(), {
    isPackaged: false,
    sandboxEnabled: false,
    quitCalls: 0,
    enableSandbox(): void {
      app.sandboxEnabled = true;
    },
    whenReady: (): Promise<void> => Promise.resolve(),
    isReady: (): boolean => true,
    requestSingleInstanceLock: (): boolean => true,
    quit(): void {
      app.quitCalls++;
      let prevented = false;
      app.emit('before-quit', { preventDefault: () => (prevented = true) });
      app.lastQuitPrevented = prevented;
    },
    lastQuitPrevented: false,
  });
  const children: FakeChild[] = [];
  const schemes: { scheme: string; privileges?: Record<string, boolean> }[] = [];
  const protocolHandlers = new Map<string, (request: Request) => Promise<Response>>();
  const ipcHandlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>();
  const dialogCalls: unknown[][] = [];
  return {
    app,
    windows,
    children,
    mainFrame,
    schemes,
    protocolHandlers,
    ipcHandlers,
    dialogCalls,
    electron: {
      app,
      BrowserWindow: FakeBrowserWindow,
      dialog: {
        showOpenDialog: (...args: unknown[]) => {
          dialogCalls.push(['open', ...args]);
          return Promise.resolve({ canceled: false, filePaths: ['/picked/folder'] });
        },
        showSaveDialog: (...args: unknown[]) => {
          dialogCalls.push(['save', ...args]);
          return Promise.resolve({ canceled: true, filePath: '' });
        },
        showErrorBox: () => {},
      },
      ipcMain: {
        handle: (channel: string, fn: (event: unknown, ...args: unknown[]) => Promise<unknown>) => {
          ipcHandlers.set(channel, fn);
        },
      },
      protocol: {
        registerSchemesAsPrivileged: (list: { scheme: string; privileges?: Record<string, boolean> }[]) => {
          schemes.push(...list);
        },
        handle: (scheme: string, fn: (request: Request) => Promise<Response>) => {
          protocolHandlers.set(scheme, fn);
        },
      },
      session: { defaultSession: session },
      utilityProcess: {
        fork: (
          modulePath: string,
          _args: string[],
          options: { serviceName?: string; env?: Record<string, string> },
        ) => {
          const child = new FakeChild(modulePath, options);
          children.push(child);
          return child;
        },
      },
    },
  };
});

vi.mock('electron', () => fake.electron);

// ---------------------------------------------------------------------------------------------------------

describe('security.ts: paths inside a folder', () => {
  let tmp: string;
  let root: string;
  let outside: string;
  let symlinksWork = true;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faceparts-sec-'));
    root = path.join(tmp, 'project');
    outside = path.join(tmp, 'elsewhere');
    fs.mkdirSync(path.join(root, 'frames', 'a'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'frames', 'a', '000001.png'), 'png');
    fs.writeFileSync(path.join(root, 'name with space #1.png'), 'png');
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.mkdirSync(path.join(tmp, 'project-evil'));
    fs.writeFileSync(path.join(tmp, 'project-evil', 'x.png'), 'x');
    try {
      fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-out.txt'));
      fs.symlinkSync(outside, path.join(root, 'dir-link'), 'dir');
      fs.symlinkSync(path.join(root, 'frames', 'a', '000001.png'), path.join(root, 'link-in.png'));
    } catch {
      symlinksWork = false; // e.g. Windows without the symlink privilege
    }
  });

  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('accepts files inside the folder', async () => {
    expect(await resolveFileInside(root, path.join('frames', 'a', '000001.png'))).toBe(
      fs.realpathSync(path.join(root, 'frames', 'a', '000001.png')),
    );
    expect(await resolveFileInside(root, 'frames/a/000001.png')).not.toBeNull();
    const spaced = safeRelativePath('/name%20with%20space%20%231.png');
    expect(spaced).toBe('name with space #1.png');
    expect(await resolveFileInside(root, spaced as string)).not.toBeNull();
  });

  it('refuses ../ escapes, absolute paths, missing files and folders', async () => {
    expect(await resolveFileInside(root, '../elsewhere/secret.txt')).toBeNull();
    expect(await resolveFileInside(root, 'frames/../../elsewhere/secret.txt')).toBeNull();
    expect(await resolveFileInside(root, '..\\elsewhere\\secret.txt')).toBeNull();
    expect(await resolveFileInside(root, path.join(outside, 'secret.txt'))).toBeNull();
    expect(await resolveFileInside(root, '/etc/passwd')).toBeNull();
    expect(await resolveFileInside(root, 'C:\\Windows\\win.ini')).toBeNull();
    expect(await resolveFileInside(root, '../project-evil/x.png')).toBeNull();
    expect(await resolveFileInside(root, 'frames/a/missing.png')).toBeNull();
    expect(await resolveFileInside(root, 'frames')).toBeNull();
    expect(await resolveFileInside(root, '')).toBeNull();
    expect(await resolveFileInside(root, 'frames/a/000001.png\0.txt')).toBeNull();
  });

  it('refuses symlinks that resolve outside the folder, accepts ones that stay inside', async () => {
    if (!symlinksWork) return;
    expect(await resolveFileInside(root, 'link-out.txt')).toBeNull();
    expect(await resolveFileInside(root, 'dir-link/secret.txt')).toBeNull();
    expect(await resolveFileInside(root, 'link-in.png')).toBe(
      fs.realpathSync(path.join(root, 'frames', 'a', '000001.png')),
    );
  });

  it('safeRelativePath refuses traversal in every spelling', () => {
    for (const bad of [
      '/../etc/passwd',
      '/%2e%2e/etc/passwd',
      '/%2E%2E/%2e%2e/secret',
      '/frames/%2e%2e/%2e%2e/x',
      '/..%2fsecret',
      '/..%5csecret',
      '/%2fetc%2fpasswd',
      '//etc/passwd',
      '/%5c%5cserver%5cshare',
      '/C:%5cWindows',
      '/c:/x',
      '/a/./b',
      '/a//b',
      '/%00',
      '/%E0%A4%A',
      '/',
      '',
    ]) {
      expect(safeRelativePath(bad), bad).toBeNull();
    }
    expect(safeRelativePath('/frames/a/000001.png')).toBe(path.join('frames', 'a', '000001.png'));
    expect(safeRelativePath('/%252e%252e/x')).toBe(path.join('%2e%2e', 'x')); // literal name, not traversal
  });

  it('isPathInside is a lexical prefix check on whole segments', () => {
    expect(isPathInside('/a/b', '/a/b/c')).toBe(true);
    expect(isPathInside('/a/b', '/a/b')).toBe(true);
    expect(isPathInside('/a/b', '/a/bc')).toBe(false);
    expect(isPathInside('/a/b', '/a/b/../c')).toBe(false);
    expect(isPathInside('/a/b', '/a/b/..c')).toBe(true);
    expect(isPathInside('C:\\a\\b', 'C:\\a\\b\\c', path.win32)).toBe(true);
    expect(isPathInside('C:\\a\\b', 'D:\\a\\b\\c', path.win32)).toBe(false);
    expect(sameDirectory('/a/b/', '/a/b')).toBe(true);
    expect(sameDirectory('/a/b', '/a/c')).toBe(false);
  });
});

describe('security.ts: URLs, senders, MIME types', () => {
  it('maps app:// URLs to files and refuses other hosts or escapes', () => {
    expect(appUrlToRelativePath('app://renderer/index.html')).toBe('index.html');
    expect(appUrlToRelativePath('app://renderer/')).toBe('index.html');
    expect(appUrlToRelativePath('app://renderer/assets/index-abc.js?v=1#x')).toBe(path.join('assets', 'index-abc.js'));
    expect(appUrlToRelativePath('app://other/index.html')).toBeNull();
    expect(appUrlToRelativePath('app://renderer:8080/index.html')).toBeNull();
    expect(appUrlToRelativePath('app://user@renderer/index.html')).toBeNull();
    expect(appUrlToRelativePath('https://renderer/index.html')).toBeNull();
    // URL parsing (Node's and Chromium's) collapses dot segments, even percent-encoded ones, so they
    // can never climb above the served folder.
    expect(appUrlToRelativePath('app://renderer/%2e%2e/%2e%2e/etc/passwd')).toBe(path.join('etc', 'passwd'));
    expect(appUrlToRelativePath('app://renderer/assets/../../../etc/passwd')).toBe(path.join('etc', 'passwd'));
    expect(appUrlToRelativePath('app://renderer/..%2f..%2fetc/passwd')).toBeNull();
    expect(appUrlToRelativePath('not a url')).toBeNull();
  });

  it('parses media URLs and round-trips mediaUrl()', () => {
    const dir = path.resolve('/home/me/My Project #2');
    const url = mediaUrl(dir, 'frames/a/000001.png');
    expect(parseMediaUrl(url)).toEqual({ dir, relPath: path.join('frames', 'a', '000001.png') });
    // The renderer encodes the whole relative path (slashes as %2F): same result.
    const rendererStyle = `faceparts-media://project/${encodeURIComponent('frames/a/000001.png')}?dir=${encodeURIComponent(dir)}`;
    expect(parseMediaUrl(rendererStyle)).toEqual({ dir, relPath: path.join('frames', 'a', '000001.png') });
    expect(parseMediaUrl(`faceparts-media://project/${encodeURIComponent('../x.png')}?dir=%2Fa`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/x.png?dir=relative/dir`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/x.png`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/x.png?dir=%2Fa&dir=%2Fb`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://other/x.png?dir=%2Fa`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/%2e%2e/x.png?dir=%2Fa`)).toEqual({ dir: '/a', relPath: 'x.png' });
    expect(parseMediaUrl(`faceparts-media://project/..%2Fx.png?dir=%2Fa`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/..%5Cx.png?dir=%2Fa`)).toBeNull();
    expect(parseMediaUrl(`faceparts-media://project/%2Fetc%2Fpasswd?dir=%2Fa`)).toBeNull();
  });

  it('trusts only the main window’s top frame showing app://renderer/', () => {
    const ok = { frameUrl: 'app://renderer/index.html', isMainFrame: true, isMainWindowFrame: true };
    expect(isAllowedIpcSender(ok)).toBe(true);
    expect(isAllowedIpcSender({ ...ok, isMainFrame: false })).toBe(false);
    expect(isAllowedIpcSender({ ...ok, isMainWindowFrame: false })).toBe(false);
    expect(isAllowedIpcSender({ ...ok, frameUrl: null })).toBe(false);
    expect(isAllowedIpcSender({ ...ok, frameUrl: undefined })).toBe(false);
    for (const url of [
      'https://evil.example/',
      'file:///index.html',
      'app://renderer.evil/index.html',
      'app://renderer@evil/index.html',
      'app://evil/renderer/',
      'app://renderer',
      'about:blank',
      'devtools://devtools/bundled/inspector.html',
      'faceparts-media://project/x.html?dir=%2Fa',
    ]) {
      expect(isTrustedRendererUrl(url), url).toBe(false);
      expect(isAllowedIpcSender({ ...ok, frameUrl: url }), url).toBe(false);
      expect(isAllowedNavigation(url), url).toBe(false);
    }
    expect(isAllowedNavigation('app://renderer/index.html#/projects')).toBe(true);
  });

  it('looks up MIME types by extension', () => {
    expect(mimeTypeFor('index.html')).toBe('text/html; charset=utf-8');
    expect(mimeTypeFor('a/b/app.JS')).toBe('text/javascript; charset=utf-8');
    expect(mimeTypeFor('style.css')).toBe('text/css; charset=utf-8');
    expect(mimeTypeFor('x.png')).toBe('image/png');
    expect(mimeTypeFor('x.jpeg')).toBe('image/jpeg');
    expect(mimeTypeFor('x.svg')).toBe('image/svg+xml');
    expect(mimeTypeFor('tfjs-backend-wasm.wasm')).toBe('application/wasm');
    expect(mimeTypeFor('clip.mp4')).toBe('video/mp4');
    expect(mimeTypeFor('font.woff2')).toBe('font/woff2');
    expect(mimeTypeFor('README')).toBe('application/octet-stream');
  });

  it('parses byte ranges', () => {
    expect(parseByteRange(null, 100)).toBeNull();
    expect(parseByteRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseByteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseByteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseByteRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 });
    expect(parseByteRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseByteRange('bytes=9-3', 100)).toBe('unsatisfiable');
    expect(parseByteRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseByteRange('items=0-1', 100)).toBeNull();
  });

  it('validates pickPath params strictly', () => {
    expect(PickPathParams.safeParse({ kind: 'folder' }).success).toBe(true);
    expect(PickPathParams.safeParse({ kind: 'save', title: 'Export as' }).success).toBe(true);
    expect(PickPathParams.safeParse({ kind: 'file', filters: [{ name: 'All', extensions: ['*'] }] }).success).toBe(
      true,
    );
    expect(PickPathParams.safeParse({ kind: 'file', defaultPath: '/etc' }).success).toBe(false);
    expect(PickPathParams.safeParse({ kind: 'open' }).success).toBe(false);
    expect(PickPathParams.safeParse(null).success).toBe(false);
  });

  it('has the strict content security policy', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: faceparts-media:; media-src 'self' blob: faceparts-media:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

class ScriptedChild implements EngineChild {
  readonly posted: { kind: string; id: number; method: string; params: unknown }[] = [];
  killed = false;
  constructor(readonly handlers: EngineChildHandlers) {}
  postMessage(message: unknown): void {
    this.posted.push(message as ScriptedChild['posted'][number]);
  }
  kill(): void {
    this.killed = true;
    queueMicrotask(() => this.handlers.exit(0));
  }
  reply(index: number, result: unknown): void {
    const sent = this.posted[index];
    if (!sent) throw new Error(`no request #${index}`);
    this.handlers.message({ kind: 'response', id: sent.id, ok: true, result });
  }
}

function makeBridge(options: { maxRestarts?: number } = {}) {
  const children: ScriptedChild[] = [];
  const events: EventEnvelope[] = [];
  const bridge = new EngineBridge(
    (handlers) => {
      const child = new ScriptedChild(handlers);
      children.push(child);
      return child;
    },
    { onEvent: (e) => events.push(e), log: () => {}, exitGraceMs: 20, ...options },
  );
  bridge.start();
  return { bridge, children, events };
}

describe('engine-bridge.ts: validation and forwarding', () => {
  it('answers malformed payloads with error envelopes instead of throwing', async () => {
    const { bridge, children } = makeBridge();
    const cases: [unknown, string][] = [
      [null, 'INVALID_MESSAGE'],
      ['hello', 'INVALID_MESSAGE'],
      [{ kind: 'request', id: 1 }, 'INVALID_MESSAGE'],
      [{ kind: 'request', id: 2, method: 'no.such', params: {} }, 'UNKNOWN_METHOD'],
      [{ kind: 'request', id: 3, method: 'project.open', params: { dir: 42 } }, 'INVALID_PARAMS'],
      [{ kind: 'request', id: 4, method: 'engine.shutdown', params: {} }, 'UNAUTHORIZED'],
    ];
    for (const [raw, code] of cases) {
      const reply = await bridge.request(raw);
      expect(reply.ok, JSON.stringify(raw)).toBe(false);
      if (!reply.ok) expect(reply.error.code).toBe(code);
    }
    expect((await bridge.request({ kind: 'request', id: 'abc', method: 'nope', params: {} })).id).toBe('abc');
    expect(children[0]?.posted).toEqual([]);
  });

  it('uses its own ids toward the engine and restores the renderer’s id on the reply', async () => {
    const { bridge, children } = makeBridge();
    const child = children[0] as ScriptedChild;
    const a = bridge.request({ kind: 'request', id: 1, method: 'project.list', params: {} });
    const b = bridge.request({ kind: 'request', id: 1, method: 'jobs.list', params: {} }); // same renderer id
    expect(child.posted.map((p) => p.method)).toEqual(['project.list', 'jobs.list']);
    expect(child.posted[0]?.id).not.toBe(child.posted[1]?.id);
    child.reply(1, { jobs: [] });
    child.reply(0, { projects: [] });
    expect(await a).toEqual({ kind: 'response', id: 1, ok: true, result: { projects: [] } });
    expect(await b).toEqual({ kind: 'response', id: 1, ok: true, result: { jobs: [] } });
  });

  it('drops invalid engine messages, failing the matching request', async () => {
    const { bridge, children, events } = makeBridge();
    const child = children[0] as ScriptedChild;
    const pending = bridge.request({ kind: 'request', id: 9, method: 'project.list', params: {} });
    child.handlers.message({ kind: 'event', event: { type: 'bogus' } });
    child.handlers.message({ kind: 'response', id: child.posted[0]?.id, ok: 'yes' });
    const reply = await pending;
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe('INVALID_MESSAGE');
    expect(reply.id).toBe(9);
    expect(events).toEqual([]);
    const valid = { kind: 'event', event: { type: 'engine.state', status: 'ready', backend: null } };
    child.handlers.message(valid);
    expect(events).toEqual([valid]);
  });

  it('tracks the open project folder from successful open/create/delete replies', async () => {
    const { bridge, children } = makeBridge();
    const child = children[0] as ScriptedChild;
    expect(bridge.openProjectDir).toBeNull();
    const open = bridge.request({ kind: 'request', id: 1, method: 'project.open', params: { dir: '/p/one' } });
    child.handlers.message({
      kind: 'response',
      id: child.posted[0]?.id,
      ok: false,
      error: { code: 'NOT_FOUND', message: 'x' },
    });
    await open;
    expect(bridge.openProjectDir).toBeNull();
    const open2 = bridge.request({ kind: 'request', id: 2, method: 'project.open', params: { dir: '/p/one' } });
    child.reply(1, { dir: '/p/one-resolved', name: 'one' });
    await open2;
    expect(bridge.openProjectDir).toBe('/p/one-resolved');
    const del = bridge.request({
      kind: 'request',
      id: 3,
      method: 'project.delete',
      params: { dir: '/p/one-resolved', confirmName: 'one' },
    });
    child.reply(2, { deleted: true });
    await del;
    expect(bridge.openProjectDir).toBeNull();
  });

  it('restarts a crashed engine once, then reports it gone', async () => {
    const { bridge, children, events } = makeBridge({ maxRestarts: 1 });
    const inFlight = bridge.request({ kind: 'request', id: 5, method: 'project.list', params: {} });
    children[0]?.handlers.exit(1);
    const reply = await inFlight;
    expect(!reply.ok && reply.error.code).toBe('ENGINE_GONE');
    expect(children).toHaveLength(2);
    expect(
      events.filter((e) => e.event.type === 'engine.state').map((e) => (e.event as { status: string }).status),
    ).toEqual(['stopping', 'starting']);
    children[1]?.handlers.exit(1);
    expect(children).toHaveLength(2);
    const later = await bridge.request({ kind: 'request', id: 6, method: 'project.list', params: {} });
    expect(!later.ok && later.error.code).toBe('ENGINE_GONE');
    expect(events.some((e) => e.event.type === 'log' && e.event.level === 'error')).toBe(true);
  });

  it('shuts down politely, and kills an engine that does not answer in time', async () => {
    const polite = makeBridge();
    const child = polite.children[0] as ScriptedChild;
    const done = polite.bridge.shutdown(5000);
    expect(child.posted[0]).toMatchObject({ method: 'engine.shutdown', params: { checkpoint: true } });
    child.reply(0, { stopped: true });
    child.handlers.exit(0);
    await done;
    expect(child.killed).toBe(false);
    expect(polite.children).toHaveLength(1); // an expected exit is not restarted

    const stuck = makeBridge();
    await stuck.bridge.shutdown(30);
    expect(stuck.children[0]?.killed).toBe(true);
    const after = await stuck.bridge.request({ kind: 'request', id: 1, method: 'project.list', params: {} });
    expect(!after.ok && after.error.code).toBe('ENGINE_GONE');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('main.ts: source-level hardening', () => {
  const source = fs.readFileSync(path.join(repoRoot, 'src-main/electron/main.ts'), 'utf8');

  it('creates the window with the hardened webPreferences', () => {
    expect(source).toMatch(/contextIsolation:\s*true/);
    expect(source).toMatch(/sandbox:\s*true/);
    expect(source).toMatch(/nodeIntegration:\s*false/);
    expect(source).toMatch(/webSecurity:\s*true/);
    expect(source).toMatch(/allowRunningInsecureContent:\s*false/);
    expect(source).toContain('app.enableSandbox()');
  });

  it('blocks navigation, new windows and permissions', () => {
    expect(source).toContain('setWindowOpenHandler');
    expect(source).toContain("action: 'deny'");
    expect(source).toContain("'will-navigate'");
    expect(source).toContain('setPermissionRequestHandler');
    expect(source).toContain('setPermissionCheckHandler');
  });

  it('never loads file:// content', () => {
    expect(source).not.toContain('file://');
    expect(source).not.toMatch(/\.loadFile\s*\(/);
    expect(source).not.toMatch(/nodeIntegration:\s*true/);
    expect(source).not.toMatch(/contextIsolation:\s*false/);
    expect(source).not.toMatch(/sandbox:\s*false/);
    expect(source).not.toMatch(/webSecurity:\s*false/);
  });

  it('the preload exposes only the faceparts bridge', () => {
    const preload = fs.readFileSync(path.join(repoRoot, 'src-main/electron/preload.cts'), 'utf8');
    expect(preload.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    expect(preload).toContain("exposeInMainWorld('faceparts'");
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
    expect(preload).not.toMatch(/send:\s*ipcRenderer|ipcRenderer:\s*ipcRenderer|\bipcRenderer,\s*$/m);
  });
});

describe('main.ts: wiring, driven through a stand-in electron module', () => {
  let baseDir: string;
  let projectDir: string;
  const trusted = () => ({ sender: fake.windows[0]?.webContents, senderFrame: fake.mainFrame });
  const invoke = (channel: string, event: unknown, payload: unknown) => {
    const handler = fake.ipcHandlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler(event, payload);
  };
  const child = () => {
    const last = fake.children.at(-1);
    if (!last) throw new Error('engine not started');
    return last;
  };
  const lastPosted = () => child().posted.at(-1) as { id: number; method: string; params: unknown };

  beforeAll(async () => {
    baseDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'faceparts-main-')));
    projectDir = path.join(baseDir, 'project');
    fs.mkdirSync(path.join(projectDir, 'frames'), { recursive: true });
    fs.writeFileSync(path.join(projectDir, 'frames', '000001.png'), Buffer.from('0123456789'));
    fs.writeFileSync(path.join(baseDir, 'secret.txt'), 'secret');
    try {
      fs.symlinkSync(path.join(baseDir, 'secret.txt'), path.join(projectDir, 'frames', 'link.png'));
    } catch {
      // no symlink privilege (Windows): that case is covered by the security.ts tests where possible
    }
    await import('../../src-main/electron/main.js');
    await tick(10);
  });

  afterAll(() => {
    fs.rmSync(baseDir, { recursive: true, force: true });
  });

  it('enables the sandbox and registers both schemes as privileged', () => {
    expect(fake.app.sandboxEnabled).toBe(true);
    expect(fake.schemes.map((s) => s.scheme).sort()).toEqual(['app', 'faceparts-media']);
    for (const s of fake.schemes) expect(s.privileges).toMatchObject({ standard: true, secure: true });
    expect([...fake.protocolHandlers.keys()].sort()).toEqual(['app', 'faceparts-media']);
  });

  it('starts the engine as a utility process with the electron-utility runtime', () => {
    expect(fake.children).toHaveLength(1);
    expect(child().modulePath.split(path.sep).join('/')).toMatch(/src-main\/engine\/entry\.js$/);
    expect(child().options.serviceName).toBe('FaceParts engine');
    expect(child().options.env?.FACEPARTS_RUNTIME).toBe('electron-utility');
  });

  it('opens one hardened window on app://renderer/index.html', () => {
    expect(fake.windows).toHaveLength(1);
    const win = fake.windows[0];
    expect(win?.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
    });
    expect(String(win?.options.webPreferences?.preload)).toMatch(/preload\.cjs$/);
    expect(win?.loaded).toEqual(['app://renderer/index.html']);
  });

  it('hardens every web contents: no new windows, no foreign navigation', () => {
    const contents = {
      session: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() },
      handlers: new Map<string, Listener>(),
      openHandler: null as (() => unknown) | null,
      setWindowOpenHandler(fn: () => unknown) {
        this.openHandler = fn;
      },
      on(name: string, fn: Listener) {
        this.handlers.set(name, fn);
      },
    };
    fake.app.emit('web-contents-created', {}, contents);
    expect(contents.openHandler?.()).toEqual({ action: 'deny' });
    const navigate = (url: string) => {
      const event = { preventDefault: vi.fn() };
      contents.handlers.get('will-navigate')?.(event, url);
      return event.preventDefault.mock.calls.length > 0;
    };
    expect(navigate('https://evil.example/')).toBe(true);
    expect(navigate('file:///etc/passwd')).toBe(true);
    expect(navigate('app://renderer/index.html')).toBe(false);
    const permission = vi.fn();
    const requestHandler = contents.session.setPermissionRequestHandler.mock.calls[0]?.[0] as Listener;
    requestHandler({}, 'media', permission);
    expect(permission).toHaveBeenCalledWith(false);
    const checkHandler = contents.session.setPermissionCheckHandler.mock.calls[0]?.[0] as Listener;
    expect(checkHandler({}, 'media')).toBe(false);
  });

  it('refuses IPC from anything but the main window’s app:// top frame', async () => {
    const request = { kind: 'request', id: 1, method: 'project.list', params: {} };
    const iframe = { ...fake.mainFrame, parent: fake.mainFrame, frameToken: 'child' };
    for (const event of [
      { sender: fake.windows[0]?.webContents, senderFrame: null },
      { sender: fake.windows[0]?.webContents, senderFrame: { ...fake.mainFrame, url: 'https://evil.example/' } },
      { sender: fake.windows[0]?.webContents, senderFrame: iframe },
      { sender: {}, senderFrame: fake.mainFrame },
    ]) {
      const reply = (await invoke('faceparts:request', event, request)) as ResponseEnvelope;
      expect(reply).toMatchObject({ kind: 'response', id: 1, ok: false, error: { code: 'UNAUTHORIZED' } });
    }
    await expect(
      invoke('faceparts:pickPath', { sender: {}, senderFrame: fake.mainFrame }, { kind: 'file' }),
    ).rejects.toThrow();
    expect(child().posted).toEqual([]);
  });

  it('answers malformed payloads with error envelopes', async () => {
    for (const raw of [undefined, 42, { kind: 'request' }, { kind: 'request', id: 2, method: 'x.y', params: {} }]) {
      const reply = (await invoke('faceparts:request', trusted(), raw)) as ResponseEnvelope;
      expect(reply.kind).toBe('response');
      expect(reply.ok).toBe(false);
    }
    expect(child().posted).toEqual([]);
  });

  it('forwards valid requests and validated replies; forwards only valid events', async () => {
    const pending = invoke('faceparts:request', trusted(), {
      kind: 'request',
      id: 'r1',
      method: 'project.list',
      params: {},
    });
    const sent = lastPosted();
    expect(sent).toMatchObject({ kind: 'request', method: 'project.list' });
    child().emit('message', { kind: 'response', id: sent.id, ok: true, result: { projects: [] } });
    expect(await pending).toEqual({ kind: 'response', id: 'r1', ok: true, result: { projects: [] } });

    const webContents = fake.windows[0]?.webContents;
    const before = webContents?.sent.length ?? 0;
    child().emit('message', { kind: 'event', event: { type: 'nope' } });
    const good = { kind: 'event', event: { type: 'engine.state', status: 'ready', backend: null } };
    child().emit('message', good);
    expect(webContents?.sent.slice(before)).toEqual([['faceparts:event', good]]);
  });

  it('serves project media only from the open project, with ranges', async () => {
    const media = fake.protocolHandlers.get('faceparts-media');
    if (!media) throw new Error('no media handler');
    const url = mediaUrl(projectDir, 'frames/000001.png');
    expect((await media(new Request(url))).status).toBe(403); // nothing open yet

    const pending = invoke('faceparts:request', trusted(), {
      kind: 'request',
      id: 2,
      method: 'project.open',
      params: { dir: projectDir },
    });
    child().emit('message', { kind: 'response', id: lastPosted().id, ok: true, result: { dir: projectDir } });
    await pending;

    const ok = await media(new Request(url));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(await ok.text()).toBe('0123456789');
    const partial = await media(new Request(url, { headers: { Range: 'bytes=2-4' } }));
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe('bytes 2-4/10');
    expect(await partial.text()).toBe('234');
    expect((await media(new Request(mediaUrl(os.tmpdir(), 'frames/000001.png')))).status).toBe(403);
    const dirQuery = `?dir=${encodeURIComponent(projectDir)}`;
    for (const escape of ['..%2Fsecret.txt', '%2e%2e/secret.txt', 'frames/..%2F..%2Fsecret.txt', 'frames/link.png']) {
      const response = await media(new Request(`faceparts-media://project/${escape}${dirQuery}`));
      expect(response.status, escape).toBe(404);
    }
    expect((await media(new Request(mediaUrl(projectDir, 'frames/missing.png')))).status).toBe(404);
  });

  it('serves the renderer only from dist/renderer, with the CSP header', async () => {
    const appHandler = fake.protocolHandlers.get('app');
    if (!appHandler) throw new Error('no app handler');
    const missing = await appHandler(new Request('app://renderer/%2e%2e/package.json'));
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });

  it('opens native pickers for a trusted sender with valid params only', async () => {
    expect(await invoke('faceparts:pickPath', trusted(), { kind: 'folder' })).toBe('/picked/folder');
    expect(await invoke('faceparts:pickPath', trusted(), { kind: 'save' })).toBeNull();
    // The renderer's options object (kind 'directory', title, filters) is accepted too.
    expect(await invoke('faceparts:pickPath', trusted(), { kind: 'directory', title: 'Project folder' })).toBe(
      '/picked/folder',
    );
    const filters = [{ name: 'Video', extensions: ['mp4', 'mov'] }];
    expect(await invoke('faceparts:pickPath', trusted(), { kind: 'file', title: 'Source A', filters })).toBe(
      '/picked/folder',
    );
    expect(fake.dialogCalls.at(-1)?.[2]).toMatchObject({ title: 'Source A', filters, properties: ['openFile'] });
    await expect(invoke('faceparts:pickPath', trusted(), { kind: 'everything' })).rejects.toThrow(/invalid params/);
    await expect(invoke('faceparts:pickPath', trusted(), 'file')).rejects.toThrow(/invalid params/);
    await expect(
      invoke('faceparts:pickPath', trusted(), { kind: 'file', filters: [{ name: 'x', extensions: ['../x'] }] }),
    ).rejects.toThrow(/invalid params/);
    await expect(invoke('faceparts:pickPath', trusted(), { kind: 'file', extra: 1 })).rejects.toThrow(/invalid params/);
  });

  it('restarts a crashed engine once and tells the renderer', async () => {
    const pending = invoke('faceparts:request', trusted(), {
      kind: 'request',
      id: 3,
      method: 'project.list',
      params: {},
    });
    child().emit('exit', 139);
    const reply = (await pending) as ResponseEnvelope;
    expect(!reply.ok && reply.error.code).toBe('ENGINE_GONE');
    expect(fake.children).toHaveLength(2);
    const states = fake.windows[0]?.webContents.sent
      .map(([, e]) => (e as EventEnvelope).event)
      .filter((e) => e.type === 'engine.state')
      .map((e) => (e as { status: string }).status);
    expect(states?.slice(-2)).toEqual(['stopping', 'starting']);
  });

  it('on quit asks the engine to checkpoint and stop, then quits', async () => {
    const engineChild = child();
    fake.app.quit();
    expect(fake.app.lastQuitPrevented).toBe(true);
    const shutdown = lastPosted();
    expect(shutdown).toMatchObject({ method: 'engine.shutdown', params: { checkpoint: true } });
    engineChild.emit('message', { kind: 'response', id: shutdown.id, ok: true, result: { stopped: true } });
    engineChild.emit('exit', 0);
    await tick(10);
    expect(fake.app.quitCalls).toBe(2); // the second quit goes through
    expect(fake.app.lastQuitPrevented).toBe(false);
    expect(fake.children).toHaveLength(2); // not restarted
  });
});
