import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, realpathSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
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
import { AuthLimiter, CONTENT_SECURITY_POLICY, MIME, isLoopback, originAllowed, tokensMatch } from './security.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  token?: string;
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

/** Largest WebSocket message accepted from a browser (mask rasters are the biggest legitimate payloads). */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

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

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** Serve a file; a single `Range: bytes=a-b` gets 206 Partial Content, so the output player can seek. */
async function sendFile(res: http.ServerResponse, file: string, range?: string): Promise<void> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) {
    sendText(res, 404, 'not found');
    return;
  }
  const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const match = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  if (match && (match[1] || match[2])) {
    const size = stat.size;
    const start = match[1] ? Number(match[1]) : Math.max(0, size - Number(match[2]));
    const end = match[1] && match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      res.end();
      return;
    }
    res.writeHead(206, {
      'Content-Type': type,
      'Content-Length': end - start + 1,
      'Content-Range': `bytes ${start}-${end}/${size}`,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
    });
    createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': stat.size,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-cache',
  });
  createReadStream(file).pipe(res);
}

/**
 * Serve mode: the built renderer over HTTP and the contract over a WebSocket, backed by one engine process.
 * Loopback by default; any other address needs the token. Many browser clients share the engine.
 */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
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
  /** Projects a client has opened through this server: the only folders /media may read from. */
  const openProjects = new Set<string>();

  const engine = new EngineProcess(options.env ? { env: options.env } : {});
  const clients = new Set<WebSocket>();
  const pending = new Map<string, { socket: WebSocket; clientId: string | number; method: string }>();
  let nextId = 1;

  engine.child.on('message', (raw) => {
    const parsed = EngineToClient.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.kind === 'event') {
      const text = JSON.stringify(message);
      for (const socket of clients) if (socket.readyState === socket.OPEN) socket.send(text);
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
    if (route.socket.readyState === route.socket.OPEN)
      route.socket.send(JSON.stringify({ ...message, id: route.clientId }));
  });

  const authorised = (req: http.IncomingMessage, url: URL): boolean => {
    if (!tokenRequired || token === null) return true;
    const address = req.socket.remoteAddress ?? 'unknown';
    if (limiter.blocked(address)) return false;
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null;
    const ok = tokensMatch(token, url.searchParams.get('token') ?? bearer);
    if (!ok) limiter.fail(address);
    return ok;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      securityHeaders(res);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendText(res, 405, 'method not allowed');
        return;
      }
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok: true, engine: engine.child.exitCode === null }));
        return;
      }
      if (url.pathname === '/media') {
        if (!authorised(req, url)) {
          sendText(res, limiter.blocked(req.socket.remoteAddress ?? 'unknown') ? 429 : 401, 'token required');
          return;
        }
        const dir = path.resolve(url.searchParams.get('dir') ?? '');
        const rel = url.searchParams.get('path') ?? '';
        if (!openProjects.has(dir)) {
          sendText(res, 403, 'project not open');
          return;
        }
        let file: string;
        try {
          file = resolveInside(dir, rel);
        } catch {
          sendText(res, 403, 'path outside the project');
          return;
        }
        await sendFile(res, file, req.headers.range);
        return;
      }
      // The renderer's static files; the page itself loads without a token (it holds no data), the data needs one.
      const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname).replace(/^\/+/, '');
      let file: string;
      try {
        file = path.resolve(rendererRoot, rel);
        if (!isInside(rendererRoot, file) || !isInside(rendererRoot, realpathSync(file))) throw new Error('outside');
      } catch {
        sendText(res, 404, 'not found');
        return;
      }
      await sendFile(res, file);
    })().catch((error: unknown) => {
      if (!res.headersSent) sendText(res, 500, String((error as Error).message));
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, text: string): void => {
      socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== '/ws') return refuse(404, 'Not Found');
    if (!originAllowed(req.headers.origin, req.headers.host)) return refuse(403, 'Forbidden');
    if (limiter.blocked(req.socket.remoteAddress ?? 'unknown')) return refuse(429, 'Too Many Requests');
    if (!authorised(req, url)) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (socket: WebSocket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('message', (data, isBinary) => {
      const reply = (response: ResponseEnvelope): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(response));
      };
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
      for (const socket of clients) socket.close(1001, 'server stopping');
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await engine.stop();
    },
  };
}
