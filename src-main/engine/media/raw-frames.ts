/**
 * How a decoder's raw frames come back from ffmpeg. On Linux and macOS ffmpeg writes them into a FIFO that a reader
 * thread (fifo-reader.ts) reads with blocking reads straight into the frame buffers; elsewhere, or when a FIFO
 * cannot be made, through ffmpeg's stdout as a Node stream (a new Buffer and a main-thread event every 64 KB: about
 * three times the CPU, and garbage that wakes the collector).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { processRuns } from '../io/process.js';
import { startWorker } from '../io/worker-entry.js';
import type { ReaderAnswer, ReaderRequest } from './fifo-reader.js';

/** The next frame's bytes into a buffer (fewer than its length at the end of the stream). */
export interface RawFrames {
  fill(into: Uint8Array & { buffer: ArrayBufferLike }): Promise<number>;
  /** Stop reading (the decoder has been killed or has finished). */
  close(): Promise<void>;
}

export interface RawDecoder {
  child: ChildProcess;
  frames: RawFrames;
  transport: 'fifo' | 'stream';
  /** ffmpeg's exit code ('close': it has exited and its stderr has been read to the end). */
  exited: Promise<number | null>;
}

/**
 * Spawn ffmpeg and watch its end from the start (it may fail before its caller gets to listen). `stdin`: a stream
 * piped into ffmpeg's stdin (an encoded stream to decode as it is written).
 */
function spawnWatched(ffmpeg: string, args: readonly string[], stdout: 'pipe' | number, stdin?: Readable) {
  const child = spawn(ffmpeg, [...args], { stdio: [stdin ? 'pipe' : 'ignore', stdout, 'pipe'] });
  if (stdin && child.stdin) {
    const input = child.stdin;
    // A decoder that stops early closes its stdin: what is left of the stream is not its business.
    input.on('error', () => undefined);
    stdin.pipe(input);
    // A stream that breaks off (destroyed, not ended) still ends the decoder's input, or it would wait for more.
    stdin.once('close', () => input.end());
  }
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited };
}

/**
 * ffmpeg with `args` (raw frames to pipe:1), its frames read the cheapest way this system offers ('auto'), or
 * through its stdout ('stream': what 'auto' falls back to).
 */
export async function startRawDecoder(
  ffmpeg: string,
  args: readonly string[],
  transport: 'auto' | 'stream' = 'auto',
  stdin?: Readable,
): Promise<RawDecoder> {
  if (transport === 'auto' && process.platform !== 'win32') {
    const fifo = fifos.acquire();
    if (fifo) {
      try {
        return await viaFifo(ffmpeg, args, fifo, stdin);
      } catch (error) {
        fifos.discard(fifo);
        // The stream below always works, except for a stream on stdin, which the failed decoder may have read from.
        if (stdin) throw error;
      }
    }
  }
  const { child, exited } = spawnWatched(ffmpeg, args, 'pipe', stdin);
  return { child, exited, frames: streamFrames(child.stdout as Readable), transport: 'stream' };
}

/** Frames copied out of a stream's chunks. */
function streamFrames(stream: Readable): RawFrames {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let chunk: Buffer | null = null;
  let offset = 0;
  return {
    async fill(into) {
      let filled = 0;
      while (filled < into.length) {
        if (!chunk || offset >= chunk.length) {
          const next = await chunks.next();
          if (next.done) break;
          chunk = next.value;
          offset = 0;
        }
        const n = Math.min(into.length - filled, chunk.length - offset);
        into.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
      }
      return filled;
    },
    async close() {
      await chunks.return?.();
    },
  };
}

/**
 * ffmpeg's stdout is the FIFO's write end, opened write-only; the reader thread opens the read end. Until the reader
 * has opened, this process holds both ends of its own (read-write: so that neither open blocks), then closes them:
 * ffmpeg's write end and the reader's read end are the only ones left. The reader sees the end of the stream when
 * ffmpeg exits, killed or not, and ffmpeg's writes fail when the reader is gone (this process killed): a read-write
 * stdout counted ffmpeg itself as a reader, and after a SIGKILL of the engine its decoders waited forever on a full
 * FIFO.
 */
async function viaFifo(ffmpeg: string, args: readonly string[], fifo: string, stdin?: Readable): Promise<RawDecoder> {
  const bothEnds = openSync(fifo, 'r+');
  // Does not block: this process is a reader already (bothEnds).
  const writeEnd = openSync(fifo, 'w');
  let spawned: ReturnType<typeof spawnWatched> | null = null;
  const reader = readers.acquire();
  try {
    spawned = spawnWatched(ffmpeg, args, writeEnd, stdin);
    await reader.ask({ open: fifo });
  } catch (error) {
    if (spawned?.child.stdin) stdin?.unpipe(spawned.child.stdin);
    spawned?.child.kill('SIGKILL');
    readers.release(reader);
    throw error;
  } finally {
    closeSync(writeEnd);
    closeSync(bothEnds);
  }
  let closed = false;
  const frames: RawFrames = {
    fill(into) {
      if (closed) return Promise.resolve(0);
      const buffer = into.buffer;
      if (!(buffer instanceof SharedArrayBuffer))
        return Promise.reject(new Error('the FIFO reader fills shared frame buffers only'));
      return reader.ask({ buffer, offset: into.byteOffset, length: into.length });
    },
    async close() {
      if (closed) return;
      closed = true;
      // The reader is not blocked in a read (one request at a time, and this follows the last fill): it closes its
      // end and serves the next decoder. A reader that could not close is not given to another.
      const clean = await reader.ask({ close: true }).then(
        () => true,
        () => false,
      );
      if (clean) readers.release(reader);
      else await reader.terminate();
      fifos.discard(fifo);
    },
  };
  return { ...spawned, frames, transport: 'fifo' };
}

/** A reader thread (fifo-reader.ts), asked one thing at a time. */
class ReaderThread {
  private pending: { resolve: (filled: number) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(private readonly thread: Worker) {
    thread.on('message', (answer: ReaderAnswer) => {
      const waiting = this.pending;
      this.pending = null;
      // Waiting for nothing, an idle reader does not keep the process alive.
      thread.unref();
      if ('error' in answer) waiting?.reject(new Error(answer.error));
      else waiting?.resolve(answer.filled);
    });
    thread.on('error', (error) => this.fail(error));
    thread.on('exit', () => this.fail(new Error('the FIFO reader thread stopped')));
    thread.unref();
  }

  /** Whether it runs and is free: it can serve another decoder. */
  get usable(): boolean {
    return this.failure === null && this.pending === null;
  }

  ask(request: ReaderRequest): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('the FIFO reader answers one request at a time'));
    this.thread.ref();
    return new Promise<number>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.thread.postMessage(request);
    });
  }

  async terminate(): Promise<void> {
    await this.thread.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.pending?.reject(error);
    this.pending = null;
  }
}

/**
 * Reader threads kept between decoders: starting one costs ~70 ms on an idle machine and 100-240 ms while a job's
 * models load, and it came on each decoder's start (the conversion's tracking parts, then its swap pass).
 */
class ReaderThreads {
  private readonly idle: ReaderThread[] = [];

  constructor(private readonly keep: number) {}

  acquire(): ReaderThread {
    for (let reader = this.idle.pop(); reader; reader = this.idle.pop()) if (reader.usable) return reader;
    return ReaderThreads.start();
  }

  release(reader: ReaderThread): void {
    if (reader.usable && this.idle.length < this.keep) this.idle.push(reader);
    else void reader.terminate();
  }

  /** Start readers ahead of decoders that will need them (a job's first ones, while its models load). */
  warm(count: number): void {
    while (this.idle.length < Math.min(count, this.keep)) this.idle.push(ReaderThreads.start());
  }

  private static start(): ReaderThread {
    readerThreadsStarted += 1;
    return new ReaderThread(startWorker(import.meta.url, 'fifo-reader'));
  }
}

let readerThreadsStarted = 0;

/** Reader threads this process has started (a test's view of their reuse). */
export const readerThreadCount = (): number => readerThreadsStarted;

const readers = new ReaderThreads(4);

/**
 * Have `count` decoders' reader threads started by the time they are needed: a job calls this before loading its
 * models, which takes longer. Where frames come through stdout (no FIFOs), nothing to start.
 */
export function warmFifoReaders(count: number): void {
  if (process.platform !== 'win32' && fifos.available) readers.warm(count);
}

/** A process's FIFO folder: this prefix, its pid, a dash and random letters. */
const FIFO_FOLDER_PREFIX = 'faceparts-fifo-';

/**
 * Remove the FIFO folders of processes that no longer run: a process that was killed (SIGKILL, a crash) could not
 * remove its own on exit. Folders of running processes, and names not of this form, are left alone.
 */
export function removeStaleFifoFolders(tmp: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return 0;
  }
  const folder = new RegExp(`^${FIFO_FOLDER_PREFIX}(\\d+)-[A-Za-z0-9]{6}$`);
  for (const name of names) {
    const match = folder.exec(name);
    if (!match || processRuns(Number(match[1]))) continue;
    try {
      rmSync(path.join(tmp, name), { recursive: true, force: true });
      removed += 1;
    } catch {
      // Another user's, or going away meanwhile: not ours to insist on.
    }
  }
  return removed;
}

/**
 * FIFOs in a private folder (mode 700), made a few at a time (each `mkfifo` is a process to start), each used by one
 * decoder only. A FIFO is not reused: a killed ffmpeg keeps its write end open until it has exited, which may be
 * after its reader has closed (a loaded machine takes milliseconds to reap it), and the pipe's buffer lives as long
 * as any end is open, so the next decoder on that FIFO read the old one's leftover bytes as its first frame (seen
 * under load: 4 in 100 decoders started right after one stopped early). A removed FIFO's name leads nowhere; the
 * dying ffmpeg writes into a pipe nobody opens again. The folder goes when the process exits.
 */
class FifoStock {
  private dir: string | null = null;
  private made = 0;
  private readonly free: string[] = [];
  private failed = false;

  acquire(): string | null {
    if (this.free.length === 0 && !this.failed) this.make(4);
    return this.free.pop() ?? null;
  }

  /** Whether FIFOs can be made here (until a mkfifo has failed). */
  get available(): boolean {
    return !this.failed;
  }

  /** A FIFO a decoder has used (or failed to use): removed, never handed out again. */
  discard(fifo: string): void {
    rmSync(fifo, { force: true });
  }

  private make(count: number): void {
    try {
      if (!this.dir) {
        removeStaleFifoFolders(os.tmpdir());
        const dir = mkdtempSync(path.join(os.tmpdir(), `${FIFO_FOLDER_PREFIX}${process.pid}-`));
        this.dir = dir;
        process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      }
      const names = Array.from({ length: count }, (_, i) => path.join(this.dir as string, `${this.made + i}`));
      execFileSync('mkfifo', ['-m', '600', ...names], { stdio: 'ignore' });
      this.made += count;
      this.free.push(...names);
    } catch {
      // No mkfifo here: the stream path serves.
      this.failed = true;
    }
  }
}

const fifos = new FifoStock();
