/**
 * Tools to probe `faceparts serve` from outside, as another process on the same machine would: the server runs as
 * its own process (so a crash shows as an exit, and its memory and open files can be read), and requests go over raw
 * loopback sockets (so malformed requests and WebSocket frames reach the server as written). Everything is bounded:
 * every wait has a timeout, and nothing leaves 127.0.0.1.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { CLI, REPO } from './paths.js';

export const LOOPBACK = '127.0.0.1';

/** A small seeded PRNG (mulberry32): the same seed gives the same cases on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ServeChild {
  pid: number;
  port: number;
  token: string | null;
  child: ChildProcess;
  /** True while the server process runs. */
  alive(): boolean;
  /** What the server wrote to stderr (a crash's stack trace lands here). */
  stderr(): string;
  /** Resident memory of the server process, MiB. */
  rssMB(): number;
  /** Open file descriptors of the server process, or null where /proc is not available. */
  openFiles(): number | null;
  stop(): Promise<void>;
}

/**
 * Start `faceparts serve --port 0 --json` (the compiled CLI) in its own process. `maxOpenFiles` runs it under
 * `ulimit -n` (macOS's default is 256), so leaked file handles end it as they would there.
 */
export async function spawnServe(
  options: { args?: string[]; env?: NodeJS.ProcessEnv; maxOpenFiles?: number } = {},
): Promise<ServeChild> {
  const args = [CLI, 'serve', '--port', '0', '--json', ...(options.args ?? [])];
  const command = options.maxOpenFiles
    ? spawn('/bin/sh', ['-c', `ulimit -n ${options.maxOpenFiles} && exec "$@"`, 'sh', process.execPath, ...args], {
        cwd: REPO,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, {
        cwd: REPO,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let stdout = '';
  let stderr = '';
  command.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  command.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => command.once('exit', () => resolve()));
  const started = await new Promise<{ port: number; token: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 30 s: ${stderr}`)), 30_000);
    const check = (): void => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      const json = JSON.parse(line) as { port?: number; token?: string | null; error?: { message: string } };
      if (json.port === undefined) reject(new Error(`serve failed: ${json.error?.message ?? line}`));
      else resolve({ port: json.port, token: json.token ?? null });
    };
    command.stdout?.on('data', check);
    command.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before it started: ${stderr}`));
    });
  });
  const pid = command.pid as number;
  const alive = (): boolean => command.exitCode === null && command.signalCode === null;
  return {
    pid,
    port: started.port,
    token: started.token,
    child: command,
    alive,
    stderr: () => stderr,
    rssMB: () => {
      const status = `/proc/${pid}/status`;
      if (existsSync(status)) {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(status, 'utf8'))?.[1];
        return Number(kb) / 1024;
      }
      return (
        Number(
          execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
            .toString()
            .trim(),
        ) / 1024
      );
    },
    openFiles: () => {
      try {
        return readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        return null;
      }
    },
    stop: async () => {
      if (!alive()) return;
      command.kill('SIGTERM');
      const timer = setTimeout(() => command.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RawReply {
  /** The first response's status code, or null when the server closed without answering. */
  status: number | null;
  /** Everything the server sent. */
  bytes: Buffer;
  /** The server closed the connection (or reset it) within the wait. */
  closed: boolean;
}

/** Send bytes on a fresh loopback connection; collect what comes back until the server closes or `waitMs` passes. */
export function rawRequest(port: number, data: Buffer | string, waitMs = 2000): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(bytes.subarray(0, 32).toString('latin1'))?.[1];
      resolve({ status: status ? Number(status) : null, bytes, closed });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {
      closed = true;
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(data);
  });
}

/** An upgrade request to `target`, with the WebSocket headers a browser sends. */
export function upgradeRequest(target: string, headers: Record<string, string> = {}, port?: number): string {
  const all: Record<string, string> = {
    Host: `${LOOPBACK}:${port ?? 80}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  return `GET ${target} HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
}

/** A plain GET over a raw socket (any Host header, any request target). */
export function getRequest(target: string, host: string, extra: Record<string, string> = {}): string {
  const lines = [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A WebSocket opened by hand on a raw socket, so any bytes can follow the handshake. */
export interface RawWebSocket {
  socket: net.Socket;
  /** Resolves with the close code the server sent (null: closed without a close frame) once the connection ends. */
  closed: Promise<{ code: number | null }>;
  /** Bytes of server frames received so far. */
  received(): Buffer;
}

export function openRawWebSocket(
  port: number,
  target = '/ws',
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const socket = net.connect({ host: LOOPBACK, port });
    let buffer = Buffer.alloc(0);
    let open = false;
    let closeCode: number | null = null;
    let resolveClosed: (value: { code: number | null }) => void = () => undefined;
    const closed = new Promise<{ code: number | null }>((r) => (resolveClosed = r));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('WebSocket handshake timed out'));
    }, timeoutMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (!open) reject(new Error(`handshake refused: ${buffer.toString('latin1').split('\r\n')[0] ?? ''}`));
      resolveClosed({ code: closeCode });
    });
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      if (!open) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head) || !head.includes(accept)) {
          socket.destroy();
          return;
        }
        open = true;
        clearTimeout(timer);
        buffer = buffer.subarray(end + 4);
        resolve({ socket, closed, received: () => buffer });
      }
      closeCode = closeCodeIn(buffer) ?? closeCode;
    });
    socket.write(upgradeRequest(target, { Host: `${LOOPBACK}:${port}`, 'Sec-WebSocket-Key': key, ...headers }, port));
  });
}

/** The code of the first close frame among unmasked server frames, if one has arrived. */
function closeCodeIn(bytes: Buffer): number | null {
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let head = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) return null;
      length = bytes.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      if (at + 10 > bytes.length) return null;
      length = Number(bytes.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + length > bytes.length) return null;
    if (opcode === 0x8) return length >= 2 ? bytes.readUInt16BE(at + head) : 1005;
    at += head + length;
  }
  return null;
}

export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer;
  mask?: boolean;
  /** Declare this payload length in the header instead of the real one. */
  declaredLength?: bigint;
}

/** One WebSocket frame as a client writes it (masked unless told otherwise). */
export function frame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const mask = spec.mask ?? true;
  const length = spec.declaredLength ?? BigInt(payload.length);
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([0, Number(length)]);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 0x7) << 4) | (spec.opcode & 0x0f);
  if (!mask) return Buffer.concat([header, payload]);
  header[1] = (header[1] as number) | 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i += 1) masked[i] = (masked[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([header, key, masked]);
}

/** Write to a raw WebSocket, then wait until the server closes it or `waitMs` passes; the close code, if any. */
export async function sendAndWait(ws: RawWebSocket, bytes: Buffer, waitMs = 3000): Promise<number | null | 'open'> {
  ws.socket.write(bytes);
  const outcome = await Promise.race([
    ws.closed.then((c) => c.code),
    new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), waitMs)),
  ]);
  ws.socket.destroy();
  return outcome;
}

/** GET with any Host header (fetch() cannot set Host); resolves with status and body, bounded by `timeoutMs`. */
export function httpGet(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path: target, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body = (body + d).slice(0, 100_000)));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${target} timed out`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A download the client abandons as soon as the response starts (a seeking <video> does this all the time). */
export function abortedDownload(port: number, target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: LOOPBACK, port, path: target, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      res.once('data', () => {
        req.destroy();
        resolve(status);
      });
      res.once('end', () => resolve(status));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Complete unmasked text frames in server bytes (unfragmented, as the server sends them). */
export function textFrames(bytes: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let head = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) break;
      length = bytes.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      if (at + 10 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + length > bytes.length) break;
    if (opcode === 0x1) out.push(bytes.subarray(at + head, at + head + length).toString('utf8'));
    at += head + length;
  }
  return out;
}
