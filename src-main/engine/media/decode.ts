import type { Readable } from 'node:stream';
import sharp from 'sharp';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import type { ProbedSource } from './probe.js';
import { rawRgbDecodeArgs } from './ffmpeg-args.js';
import { startRawDecoder, warmFifoReaders } from './raw-frames.js';
import { requireTool } from './tools.js';

export interface DecodedFrame {
  /** The n-th frame a player shows (edit lists applied; no frame dropped or repeated): how frames are paired. */
  index: number;
  /** Nominal time for display (index / fps, from 0); not the frame's timestamp, so never used to pair frames. */
  timeSeconds: number;
  width: number;
  height: number;
  /** Packed RGB, 3 bytes a pixel, row-major; null when this frame could not be read. */
  rgb: Buffer | null;
  error: string | null;
}

export interface DecodeOptions {
  /** Yield every stride-th frame. */
  stride: number;
  /** First frame index to yield (for resuming); frames before it are decoded but not copied. */
  startIndex: number;
  signal?: AbortSignal;
  /** Frame buffers to reuse: the consumer gives each frame back (FramePool.release) when done with it. */
  pool?: FramePool;
  /**
   * Video, stride 1: seek to frame `seek.index` (timing.ts seekPoint) rather than decode every frame before it; the
   * first frame yielded is then `startIndex` (>= seek.index). The caller checks where a seek landed where that
   * matters (a file whose timestamps mislead the seek).
   */
  seek?: SeekPoint;
}

/** A time to seek to (seconds, the stream's own clock) and the frame the first frame decoded from there is. */
export interface SeekPoint {
  seconds: number;
  index: number;
}

/**
 * A Buffer over a SharedArrayBuffer: model workers (pipeline/workers.ts) read such frames without a copy.
 */
export function sharedBuffer(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}

/**
 * Frame buffers for reuse. Sharing a new SharedArrayBuffer with a worker costs about a millisecond (V8 registers it);
 * sharing one already shared costs microseconds, and reuse spares the allocation and its page faults. A frame given
 * back must no longer be read by anyone; frames never given back are simply collected.
 */
export class FramePool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 32) {}

  acquire(bytes: number): Buffer {
    const i = this.free.findIndex((b) => b.length === bytes);
    return i >= 0 ? (this.free.splice(i, 1)[0] as Buffer) : sharedBuffer(bytes);
  }

  release(frame: Buffer | null): void {
    if (frame && frame.buffer instanceof SharedArrayBuffer && this.free.length < this.keep) this.free.push(frame);
  }
}

/**
 * Get `count` decoders' reader threads started ahead of the decoders (~70-240 ms each, else on the first frame's
 * path): a job calls this before loading its models, which takes longer.
 */
export function prepareDecoders(count: number): void {
  warmFifoReaders(count);
}

/**
 * Frames of a video or image folder, in order, as raw RGB (in shared memory). Video frames come upright (ffmpeg applies rotation), one
 * per presented frame: `-vsync passthrough` keeps a variable frame rate's frames as they are (no duplicates, no
 * drops), so frame i here is frame i of media/timing.ts.
 */
export async function* decodeFrames(source: ProbedSource, options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  if (source.kind === 'images') yield* decodeImages(source, options);
  else yield* decodeVideo(source, options);
}

async function* decodeImages(
  source: ProbedSource,
  { stride, startIndex, signal, pool }: DecodeOptions,
): AsyncGenerator<DecodedFrame> {
  for (let index = startIndex; index < source.images.length; index += 1) {
    if (index % stride !== 0) continue;
    if (signal?.aborted) return;
    const file = source.images[index] as string;
    try {
      const { data, info } = await sharp(file)
        .rotate()
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      const rgb = pool ? pool.acquire(data.length) : sharedBuffer(data.length);
      rgb.set(data);
      yield { index, timeSeconds: index, width: info.width, height: info.height, rgb, error: null };
    } catch (error) {
      yield {
        index,
        timeSeconds: index,
        width: 0,
        height: 0,
        rgb: null,
        error: `${file}: ${(error as Error).message}`,
      };
    }
  }
}

async function* decodeVideo(source: ProbedSource, options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  const { displayWidth: width, displayHeight: height, fps } = source.media;
  const { stride, startIndex, seek } = options;
  if (seek && stride === 1 && startIndex >= seek.index) {
    // n counts from the frame the seek lands on.
    const select = `select='gte(n\\,${startIndex - seek.index})'`;
    const args = rawRgbDecodeArgs(source.path, { filter: select, seekSeconds: seek.seconds });
    yield* rawFrames(source.path, args, { width, height, fps }, options);
    return;
  }
  const select = `select='gte(n\\,${startIndex})*not(mod(n\\,${stride}))'`;
  yield* rawFrames(source.path, rawRgbDecodeArgs(source.path, { filter: select }), { width, height, fps }, options);
}

/**
 * Frames of an encoded NUT stream as it is being written (an encoder's copy of its output, VideoWriter's
 * `encodedStream`), decoded as they come: every frame, from the first.
 */
export async function* decodeNutStream(
  stream: Readable,
  name: string,
  size: { width: number; height: number; fps: number },
  options: Omit<DecodeOptions, 'stride' | 'startIndex'>,
): AsyncGenerator<DecodedFrame> {
  const args = rawRgbDecodeArgs('pipe:0', { inputFormat: 'nut' });
  yield* rawFrames(name, args, size, { ...options, stride: 1, startIndex: 0 }, stream);
}

async function* rawFrames(
  file: string,
  args: string[],
  { width, height, fps }: { width: number; height: number; fps: number },
  { stride, startIndex, signal, pool }: DecodeOptions,
  stdin?: Readable,
): AsyncGenerator<DecodedFrame> {
  const ffmpeg = requireTool('ffmpeg');
  const frameBytes = width * height * 3;
  const { child, frames, exited } = await startRawDecoder(ffmpeg, args, 'auto', stdin);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const onAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  let emitted = 0;
  const firstIndex = Math.ceil(startIndex / stride) * stride;
  // Each frame is read once, straight into its own shared buffer.
  const allocate = (): Buffer => (pool ? pool.acquire(frameBytes) : sharedBuffer(frameBytes));
  let frame: Buffer | null = null;
  try {
    for (;;) {
      frame = allocate();
      // A short read is the end of the stream (a truncated last frame is dropped).
      if ((await frames.fill(frame)) < frameBytes) break;
      const index = firstIndex + emitted * stride;
      emitted += 1;
      const rgb = frame;
      frame = null;
      yield { index, timeSeconds: index / fps, width, height, rgb, error: null };
    }
  } finally {
    pool?.release(frame);
    signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null) child.kill('SIGKILL');
    await frames.close();
  }
  const code = await exited;
  if (signal?.aborted) return;
  if (code !== 0 && emitted === 0) {
    throw new StudioError(ErrorCode.badMedia, `${file} could not be decoded`, {
      file,
      fix: 'the file may be corrupt or truncated; re-export it or choose another video',
      ...(stderr.trim() ? { details: stderr.trim() } : {}),
    });
  }
  // A truncated stream decodes what it can: the frames read are kept, the end is simply shorter.
}
