import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, realpathSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  EngineToClient,
  ErrorCode,
  ProjectSummary,
  StudioError,
  parseRequest,
  salvageRequestId,
  toErrorInfo,
  type ResponseEnvelope,
} from '../../src-shared/contract/index.js';
import { EngineProcess } from '../host-node/engine-process.js';
import { isInside, resolveInside } from '../engine/io/paths.js';
import {
  AuthLimiter,
  CONTENT_SECURITY_POLICY,
  MEDIA_EXTENSIONS,
  MIME,
  hostAllowed,
  hostHeaderName,
  isLoopback,
  isWildcard,
  originAllowed,
  tokensMatch,
} from './security.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  token?: string;
  /** Host names the browser may use besides loopback ones (a LAN name, say); see hostAllowed(). */
  allowedHosts?: string[];
  rendererDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  token: string | null;
  tokenRequired: boolean;
  engine: EngineProcess;
  close(): Promise<void>;
}

/**
 * Largest WebSocket message accepted. The biggest legitimate one is masks.saveEdit with a 256x256 PNG raster (under
 * 400 KB in base64; the contract caps it at 1,000,000 characters). With MAX_CLIENTS this bounds what clients can make
 * the server hold at once: 32 x 2 MiB.
 */
export const MAX_MESSAGE_BYTES = 2 * 2 ** 20;
/** WebSocket clients at once; more are refused with 503 until some leave. */
export const MAX_CLIENTS = 32;
/** TCP connections at once (HTTP and WebSocket together); more are dropped by the listener. */
export const MAX_CONNECTIONS = 128;
/** A client that stops reading is cut off once this much is queued for it (events keep coming for the others). */
const MAX_QUEUED_BYTES = 16 * 2 ** 20;
/** How long a wrong token waits for its 429 once its address is throttled (slows guessing; the right token passes). */
const THROTTLE_DELAY_MS = 500;
/** User-chosen tokens shorter than this are refused: the right token always passes, so its length is the defence. */
export const MIN_TOKEN_LENGTH = 16;

function defaultRendererDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../renderer'), path.resolve(here, '../../dist/renderer')];
  return candidates.find((p) => existsSync(path.join(p, 'index.html'))) ?? (candidates[0] as string);
}

function securityHeaders(res: http.ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendText(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}

/**
 * The request target as a URL, or null for anything but an origin-form path ("/x?y"): absolute URLs, "//host",
 * "*" and targets that do not parse are not for this server, and must never throw in a handler.
 */
function parseTarget(target: string | undefined): URL | null {
  if (!target?.startsWith('/') || target.startsWith('//')) return null;
  try {
    return new URL(target, 'http://localhost');
  } catch {
    return null;
  }
}

/**
 * Serve a file; a single `Range: bytes=a-b` gets 206 Partial Content, so the output player can seek. The file is
 * streamed with pipeline(), which closes it however the response ends: a client that goes away mid-download (a
 * <video> seeking does, all the time) must not leave its handle open.
 */
async function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string): Promise<void> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) {
    sendText(res, 404, 'not found');
    return;
  }
  const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const common = { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-cache' };
  const range = req.headers.range;
  const match = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  let start = 0;
  let end = stat.size - 1;
  if (match && (match[1] || match[2])) {
    const size = stat.size;
    start = match[1] ? Number(match[1]) : Math.max(0, size - Number(match[2]));
    end = match[1] && match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      res.end();
      return;
    }
    res.writeHead(206, {
      ...common,
      'Content-Length': end - start + 1,
      'Content-Range': `bytes ${start}-${end}/${size}`,
    });
  } else {
    res.writeHead(200, { ...common, 'Content-Length': stat.size });
  }
  if (req.method === 'HEAD' || stat.size === 0) {
    res.end();
    return;
  }
  // A client that leaves early rejects the pipeline (premature close); by then both streams are closed.
  await pipeline(createReadStream(file, { start, end }), res).catch(() => undefined);
}

/**
 * Serve mode: the built renderer over HTTP and the contract over a WebSocket, backed by one engine process.
 * Loopback by default; any other address needs the token. Many browser clients share the engine.
 */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (options.token !== undefined && options.token.length < MIN_TOKEN_LENGTH) {
    throw new StudioError(
      ErrorCode.invalidParams,
      `--token must be at least ${MIN_TOKEN_LENGTH} characters (got ${options.token.length})`,
      { field: 'token', fix: 'choose a longer token, or leave --token out and use the random one printed' },
    );
  }
  const tokenRequired = Boolean(options.token) || !isLoopback(host);
  const token = tokenRequired ? (options.token ?? randomBytes(18).toString('base64url')) : null;
  const rendererDir = options.rendererDir ?? defaultRendererDir();
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    throw new StudioError(
      ErrorCode.notFound,
      `the studio UI is not built (no ${path.join(rendererDir, 'index.html')})`,
      {
        fix: 'run "npm run build"',
      },
    );
  }
  const rendererRoot = realpathSync(rendererDir);
  const limiter = new AuthLimiter();
  const allowedHosts = new Set<string>();
  for (const name of [...(options.allowedHosts ?? []), ...(isWildcard(host) ? [] : [host])]) {
    const normalised = hostHeaderName(net.isIPv6(name) ? `[${name}]` : name);
    if (normalised === null) {
      throw new StudioError(ErrorCode.invalidParams, `--allow-host: "${name}" is not a host name or address`, {
        field: 'allowHost',
        fix: 'give names as the browser shows them, e.g. --allow-host studio.lan,192.168.1.5',
      });
    }
    allowedHosts.add(normalised);
  }
  const hostOk = (req: http.IncomingMessage): boolean => hostAllowed(req.headers.host, allowedHosts, isWildcard(host));
  /** Projects a client has opened through this server: the only folders /media may read from (until deleted). */
  const openProjects = new Set<string>();

  const engine = new EngineProcess(options.env ? { env: options.env } : {});
  const clients = new Set<WebSocket>();
  const pending = new Map<string, { socket: WebSocket; clientId: string | number; method: string }>();
  let nextId = 1;
  let closing = false;

  const send = (socket: WebSocket, text: string): void => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(text);
    if (socket.bufferedAmount > MAX_QUEUED_BYTES) socket.terminate();
  };
  const broadcast = (message: unknown): void => {
    const text = JSON.stringify(message);
    for (const socket of clients) send(socket, text);
  };

  engine.child.on('message', (raw) => {
    const parsed = EngineToClient.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.kind === 'event') {
      const event = message.event;
      if (event.type === 'project.changed' && event.what === 'deleted')
        openProjects.delete(path.resolve(event.projectDir));
      broadcast(message);
      return;
    }
    if (typeof message.id !== 'string' || !pending.has(message.id)) return;
    const route = pending.get(message.id);
    pending.delete(message.id);
    if (!route) return;
    if (
      message.ok &&
      (route.method === 'project.open' || route.method === 'project.create' || route.method === 'project.rename')
    ) {
      const summary = ProjectSummary.safeParse(message.result);
      if (summary.success) openProjects.add(summary.data.dir);
    }
    send(route.socket, JSON.stringify({ ...message, id: route.clientId }));
  });

  // The engine went away without being asked (it crashed or was killed): every client hears it, and what they were
  // waiting for fails at once instead of hanging.
  engine.child.on('exit', (code, signal) => {
    if (closing) return;
    const why = `the engine stopped (${signal ?? `exit code ${code}`}); restart faceparts serve`;
    for (const [id, route] of pending) {
      pending.delete(id);
      send(
        route.socket,
        JSON.stringify({
          kind: 'response',
          id: route.clientId,
          ok: false,
          error: { code: ErrorCode.engineGone, message: `${route.method}: ${why}` },
        }),
      );
    }
    broadcast({ kind: 'event', event: { type: 'engine.state', status: 'stopping', backend: null } });
    broadcast({
      kind: 'event',
      event: { type: 'log', level: 'error', message: why, jobId: null, time: new Date().toISOString() },
    });
  });

  type Auth = 'ok' | 'denied' | 'throttled';
  const authorise = (req: http.IncomingMessage, url: URL): Auth => {
    if (!tokenRequired || token === null) return 'ok';
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null;
    if (tokensMatch(token, url.searchParams.get('token') ?? bearer)) return 'ok';
    const address = req.socket.remoteAddress ?? 'unknown';
    const throttled = limiter.throttled(address);
    limiter.fail(address);
    return throttled ? 'throttled' : 'denied';
  };
  const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  const server = http.createServer((req, res) => {
    void (async () => {
      securityHeaders(res);
      const url = parseTarget(req.url);
      if (url === null) {
        sendText(res, 400, 'bad request target');
        return;
      }
      if (!hostOk(req)) {
        sendText(
          res,
          403,
          'host not allowed: open the address faceparts serve printed (or start it with --allow-host)',
        );
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendText(res, 405, 'method not allowed');
        return;
      }
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({ ok: true, engine: engine.child.exitCode === null && engine.child.signalCode === null }),
        );
        return;
      }
      if (url.pathname === '/media') {
        const auth = authorise(req, url);
        if (auth === 'throttled') {
          await later(THROTTLE_DELAY_MS);
          sendText(res, 429, 'too many wrong tokens', { 'Retry-After': '1' });
          return;
        }
        if (auth === 'denied') {
          sendText(res, 401, 'token required');
          return;
        }
        const dir = path.resolve(url.searchParams.get('dir') ?? '');
        const rel = url.searchParams.get('path') ?? '';
        if (!openProjects.has(dir)) {
          sendText(res, 403, 'project not open');
          return;
        }
        // Dot-files are never project media (a project made in a home folder by an older version sits next to .ssh).
        if (rel.split(/[\\/]/).some((segment) => segment.startsWith('.'))) {
          sendText(res, 403, 'path not allowed');
          return;
        }
        let file: string;
        try {
          file = resolveInside(dir, rel);
        } catch {
          sendText(res, 403, 'path outside the project');
          return;
        }
        if (!MEDIA_EXTENSIONS.has(path.extname(file).toLowerCase())) {
          sendText(res, 403, 'not a media file');
          return;
        }
        await sendFile(req, res, file);
        return;
      }
      // The renderer's static files; the page itself loads without a token (it holds no data), the data needs one.
      let rel: string;
      try {
        rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname).replace(/^\/+/, '');
      } catch {
        sendText(res, 400, 'malformed percent-encoding in the path');
        return;
      }
      let file: string;
      try {
        file = path.resolve(rendererRoot, rel);
        if (!isInside(rendererRoot, file) || !isInside(rendererRoot, realpathSync(file))) throw new Error('outside');
      } catch {
        sendText(res, 404, 'not found');
        return;
      }
      await sendFile(req, res, file);
    })().catch((error: unknown) => {
      // Say little to the client (paths and listings stay here); the terminal gets the detail.
      console.error(`[faceparts serve] ${req.method ?? '?'} failed: ${String((error as Error)?.stack ?? error)}`);
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  // Slow or silent clients give their connection back instead of holding it (and a file descriptor) for minutes.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, clientTracking: false });
  wss.on('error', (error) => console.error(`[faceparts serve] WebSocket server: ${error.message}`));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // Before anything else: a reset during the handshake must not be an unhandled 'error' that ends the process.
    socket.on('error', () => socket.destroy());
    const refuse = (status: number, text: string, extra = ''): void => {
      if (socket.writable)
        socket.end(
          `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
            `Content-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`,
        );
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const url = parseTarget(req.url);
    if (url === null) return refuse(400, 'Bad Request');
    if (url.pathname !== '/ws') return refuse(404, 'Not Found');
    if (!hostOk(req)) return refuse(403, 'Forbidden');
    if (!originAllowed(req.headers.origin, req.headers.host)) return refuse(403, 'Forbidden');
    const auth = authorise(req, url);
    if (auth === 'throttled') {
      void later(THROTTLE_DELAY_MS).then(() => refuse(429, 'Too Many Requests', 'Retry-After: 1\r\n'));
      return;
    }
    if (auth === 'denied') return refuse(401, 'Unauthorized');
    if (clients.size >= MAX_CLIENTS || closing) return refuse(503, 'Service Unavailable', 'Retry-After: 5\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (socket: WebSocket) => {
    clients.add(socket);
    // A frame no client may send (bad UTF-8, unmasked, reserved bits or opcodes, oversized): ws closes this
    // connection with the matching code (1002, 1007, 1009) after emitting 'error'. Without a listener that 'error'
    // would end the whole server.
    socket.on('error', () => undefined);
    socket.on('close', () => clients.delete(socket));
    socket.on('message', (data, isBinary) => {
      const reply = (response: ResponseEnvelope): void => send(socket, JSON.stringify(response));
      if (isBinary) {
        reply({
          kind: 'response',
          id: null,
          ok: false,
          error: { code: ErrorCode.invalidMessage, message: 'binary messages are not accepted; send JSON text' },
        });
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        reply({
          kind: 'response',
          id: null,
          ok: false,
          error: { code: ErrorCode.invalidMessage, message: 'message is not valid JSON' },
        });
        return;
      }
      let request;
      try {
        request = parseRequest(raw);
      } catch (error) {
        reply({ kind: 'response', id: salvageRequestId(raw), ok: false, error: toErrorInfo(error) });
        return;
      }
      // The engine belongs to the server and is shared by every client: none of them may stop it for the others.
      // Stopping is the server's own Ctrl-C (as in the desktop app, where quitting the app stops the engine).
      if (request.method === 'engine.shutdown') {
        reply({
          kind: 'response',
          id: request.id,
          ok: false,
          error: {
            code: ErrorCode.unauthorized,
            message:
              'engine.shutdown: the engine is shared by every client of faceparts serve; stop the server with Ctrl-C',
            field: 'method',
          },
        });
        return;
      }
      const serverId = `s${nextId++}`;
      pending.set(serverId, { socket, clientId: request.id, method: request.method });
      try {
        engine.sendRaw({ kind: 'request', id: serverId, method: request.method, params: request.params });
      } catch {
        pending.delete(serverId);
        reply({
          kind: 'response',
          id: request.id,
          ok: false,
          error: { code: ErrorCode.engineGone, message: 'the engine is not running; restart faceparts serve' },
        });
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StudioError(ErrorCode.ioError, `cannot listen on ${host}:${options.port ?? 7770}: ${error.message}`, {
          fix: error.code === 'EADDRINUSE' ? 'choose another --port' : 'check --host',
        }),
      ),
    );
    server.listen(options.port ?? 7770, host, () => resolve());
  });
  // Once listening, errors (EMFILE while accepting, say) are reported, never fatal: the server keeps serving.
  server.on('error', (error) => console.error(`[faceparts serve] ${error.message}`));
  const address = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${address.port}/${token ? `?token=${token}` : ''}`;

  return {
    url,
    host,
    port: address.port,
    token,
    tokenRequired,
    engine,
    close: async () => {
      closing = true;
      for (const socket of clients) socket.close(1001, 'server stopping');
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await engine.stop();
    },
  };
}
