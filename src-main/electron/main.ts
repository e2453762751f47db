/**
 * Electron main process of FaceParts Studio: one hardened window showing the built renderer over the
 * privileged app:// scheme, project media over faceparts-media://, and the engine in a utility process
 * reached only through validated IPC (see engine-bridge.ts and security.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  protocol,
  session,
  utilityProcess,
  type IpcMainInvokeEvent,
  type OpenDialogOptions,
  type SaveDialogOptions,
  type Session,
  type WebContents,
} from 'electron';
import { EngineBridge, errorResponse, type SpawnEngine } from './engine-bridge.js';
import { engineEnvironment } from '../host-node/engine-env.js';
import {
  APP_SCHEME,
  CONTENT_SECURITY_POLICY,
  MEDIA_SCHEME,
  RENDERER_ENTRY_URL,
  RENDERER_ORIGIN,
  appUrlToRelativePath,
  isAllowedIpcSender,
  isAllowedNavigation,
  mimeTypeFor,
  parseByteRange,
  parseMediaUrl,
  PickPathParams,
  resolveFileInside,
  sameDirectory,
} from './security.js';
import { ErrorCode, salvageRequestId, type EventEnvelope } from '../../src-shared/contract/index.js';

// dist/src-main/electron/main.js -> dist/
const here = path.dirname(fileURLToPath(import.meta.url));
const distRoot = path.resolve(here, '..', '..');
const rendererRoot = path.join(distRoot, 'renderer');
const preloadPath = path.join(here, 'preload.cjs');
const enginePath = path.join(distRoot, 'src-main', 'engine', 'entry.js');

const REQUEST_CHANNEL = 'faceparts:request';
const EVENT_CHANNEL = 'faceparts:event';
const PICK_PATH_CHANNEL = 'faceparts:pickPath';
const SHUTDOWN_TIMEOUT_MS = 10_000;

// Must happen before 'ready'.
app.enableSandbox();
protocol.registerSchemesAsPrivileged([
  {
    scheme: APP_SCHEME,
    privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
  },
  {
    scheme: MEDIA_SCHEME,
    // stream: seeking in <video>; corsEnabled: <img crossorigin> so frames can be drawn to a readable canvas.
    privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, corsEnabled: true },
  },
]);

let mainWindow: BrowserWindow | null = null;

function sendToRenderer(envelope: EventEnvelope): void {
  const win = mainWindow;
  if (win === null || win.isDestroyed() || win.webContents.isDestroyed()) return;
  win.webContents.send(EVENT_CHANNEL, envelope);
}

const spawnEngine: SpawnEngine = (handlers) => {
  const child = utilityProcess.fork(enginePath, [], {
    serviceName: 'FaceParts engine',
    env: engineEnvironment(process.env, { FACEPARTS_RUNTIME: 'electron-utility' }),
    stdio: 'inherit',
  });
  child.on('message', (message: unknown) => handlers.message(message));
  child.on('exit', (code) => handlers.exit(code));
  child.on('error', (type, location) => {
    console.error(`[faceparts] engine process error: ${type} at ${location}`);
  });
  return child;
};

const engine = new EngineBridge(spawnEngine, { onEvent: sendToRenderer });

// ---------------------------------------------------------------------------------------------------------
// Protocols

function textResponse(status: number, body: string, extraHeaders: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...extraHeaders },
  });
}

async function serveRendererFile(request: Request): Promise<Response> {
  const cspHeaders = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY };
  if (request.method !== 'GET' && request.method !== 'HEAD') return textResponse(405, 'Method Not Allowed', cspHeaders);
  const relPath = appUrlToRelativePath(request.url);
  const file = relPath === null ? null : await resolveFileInside(rendererRoot, relPath);
  if (file === null) return textResponse(404, 'Not Found', cspHeaders);
  try {
    const body = await fs.promises.readFile(file);
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
      status: 200,
      headers: {
        ...cspHeaders,
        'Content-Type': mimeTypeFor(file),
        'Content-Length': String(body.byteLength),
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
      },
    });
  } catch {
    return textResponse(404, 'Not Found', cspHeaders);
  }
}

async function serveProjectMedia(request: Request): Promise<Response> {
  const cors = { 'Access-Control-Allow-Origin': RENDERER_ORIGIN, Vary: 'Origin' };
  if (request.method !== 'GET' && request.method !== 'HEAD') return textResponse(405, 'Method Not Allowed', cors);
  const parsed = parseMediaUrl(request.url);
  if (parsed === null) return textResponse(404, 'Not Found', cors);
  const openDir = engine.openProjectDir;
  if (openDir === null || !sameDirectory(openDir, parsed.dir)) return textResponse(403, 'Forbidden', cors);
  const file = await resolveFileInside(openDir, parsed.relPath);
  if (file === null) return textResponse(404, 'Not Found', cors);
  let size: number;
  try {
    size = (await fs.promises.stat(file)).size;
  } catch {
    return textResponse(404, 'Not Found', cors);
  }
  const headers: Record<string, string> = {
    ...cors,
    'Content-Type': mimeTypeFor(file),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  };
  const range = parseByteRange(request.headers.get('range'), size);
  if (range === 'unsatisfiable') {
    return textResponse(416, 'Range Not Satisfiable', { ...cors, 'Content-Range': `bytes */${size}` });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  headers['Content-Length'] = String(length);
  if (range !== null) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  const status = range === null ? 200 : 206;
  if (request.method === 'HEAD' || length === 0) return new Response(null, { status, headers });
  const stream = fs.createReadStream(file, { start, end });
  return new Response(Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, { status, headers });
}

function registerProtocols(): void {
  protocol.handle(APP_SCHEME, (request) =>
    serveRendererFile(request).catch(() =>
      textResponse(500, 'Internal Error', { 'Content-Security-Policy': CONTENT_SECURITY_POLICY }),
    ),
  );
  protocol.handle(MEDIA_SCHEME, (request) =>
    serveProjectMedia(request).catch(() => textResponse(500, 'Internal Error')),
  );
}

// ---------------------------------------------------------------------------------------------------------
// IPC

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const win = mainWindow;
  const frame = event.senderFrame;
  if (win === null || win.isDestroyed() || frame === null) return false;
  const main = win.webContents.mainFrame;
  const isMainWindowFrame =
    event.sender === win.webContents && frame.processId === main.processId && frame.frameToken === main.frameToken;
  return isAllowedIpcSender({ frameUrl: frame.url, isMainFrame: frame.parent === null, isMainWindowFrame });
}

async function pickPath(params: PickPathParams): Promise<string | null> {
  const win = mainWindow;
  const common = {
    ...(params.title === undefined ? {} : { title: params.title }),
    ...(params.filters === undefined ? {} : { filters: params.filters }),
  };
  if (params.kind === 'save') {
    const options: SaveDialogOptions = { ...common, properties: ['createDirectory', 'showOverwriteConfirmation'] };
    const result = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
    return result.canceled || !result.filePath ? null : result.filePath;
  }
  const folder = params.kind === 'folder' || params.kind === 'directory';
  const options: OpenDialogOptions = folder
    ? {
        ...(params.title === undefined ? {} : { title: params.title }),
        properties: ['openDirectory', 'createDirectory'],
      }
    : { ...common, properties: ['openFile'] };
  const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

function registerIpc(): void {
  ipcMain.handle(REQUEST_CHANNEL, async (event, raw: unknown) => {
    try {
      if (!isTrustedSender(event)) {
        return errorResponse(salvageRequestId(raw), {
          code: ErrorCode.unauthorized,
          message: 'request refused: it did not come from the app window',
        });
      }
      return await engine.request(raw);
    } catch (error) {
      // engine.request never throws; this is a last line of defence so a bad payload cannot crash main.
      return errorResponse(salvageRequestId(raw), { code: ErrorCode.internal, message: String(error) });
    }
  });

  ipcMain.handle(PICK_PATH_CHANNEL, async (event, raw: unknown) => {
    if (!isTrustedSender(event)) throw new Error('pickPath refused: it did not come from the app window');
    const parsed = PickPathParams.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'params';
      throw new Error(`pickPath: invalid params: ${where}: ${issue?.message ?? 'invalid value'}`);
    }
    return pickPath(parsed.data);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Hardening applied to every session and web contents

const hardenedSessions = new WeakSet<Session>();

function hardenSession(ses: Session): void {
  if (hardenedSessions.has(ses)) return;
  hardenedSessions.add(ses);
  ses.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

function hardenWebContents(contents: WebContents): void {
  hardenSession(contents.session);
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAllowedNavigation(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

app.on('session-created', hardenSession);
app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));

// ---------------------------------------------------------------------------------------------------------
// Window and lifecycle

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 640,
    title: 'FaceParts Studio',
    backgroundColor: '#15171c',
    show: false,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      // A middle click must not open links in new windows (Electronegativity's AUXCLICK check).
      disableBlinkFeatures: 'Auxclick',
      devTools: !app.isPackaged,
      preload: preloadPath,
    },
  });
  mainWindow = win;
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  win.webContents.on('render-process-gone', (_event, details) => {
    console.error(`[faceparts] renderer process gone: ${details.reason}`);
  });
  void win.loadURL(RENDERER_ENTRY_URL).catch((error: unknown) => {
    console.error(`[faceparts] could not load the renderer from ${rendererRoot}: ${String(error)}`);
  });
}

let quitState: 'running' | 'stopping' | 'done' = 'running';

app.on('before-quit', (event) => {
  if (quitState === 'done') return;
  event.preventDefault();
  if (quitState === 'stopping') return;
  quitState = 'stopping';
  void engine
    .shutdown(SHUTDOWN_TIMEOUT_MS)
    .catch((error: unknown) => console.error(`[faceparts] engine shutdown failed: ${String(error)}`))
    .finally(() => {
      quitState = 'done';
      app.quit();
    });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('activate', () => {
  if (quitState === 'running' && app.isReady() && BrowserWindow.getAllWindows().length === 0) createWindow();
});

if (!app.requestSingleInstanceLock()) {
  // Another instance owns the engine and the project databases; it gets focused instead.
  quitState = 'done';
  app.quit();
} else {
  app.on('second-instance', () => {
    const win = mainWindow;
    if (win === null || win.isDestroyed()) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  app
    .whenReady()
    .then(() => {
      hardenSession(session.defaultSession);
      registerProtocols();
      registerIpc();
      engine.start();
      createWindow();
    })
    .catch((error: unknown) => {
      console.error(`[faceparts] startup failed: ${String(error)}`);
      dialog.showErrorBox('FaceParts Studio could not start', String(error));
      quitState = 'done';
      app.quit();
    });
}
