import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import type { ProbedSource } from './probe.js';
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
}

/**
 * Frames of a video or image folder, in order, as raw RGB. Video frames come upright (ffmpeg applies rotation), one
 * per presented frame: `-vsync passthrough` keeps a variable frame rate's frames as they are (no duplicates, no
 * drops), so frame i here is frame i of media/timing.ts.
 */
export async function* decodeFrames(source: ProbedSource, options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  if (source.kind === 'images') yield* decodeImages(source, options);
  else yield* decodeVideo(source, options);
}

async function* decodeImages(
  source: ProbedSource,
  { stride, startIndex, signal }: DecodeOptions,
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
      yield { index, timeSeconds: index, width: info.width, height: info.height, rgb: data, error: null };
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

async function* decodeVideo(
  source: ProbedSource,
  { stride, startIndex, signal }: DecodeOptions,
): AsyncGenerator<DecodedFrame> {
  const ffmpeg = requireTool('ffmpeg');
  const { displayWidth: width, displayHeight: height, fps } = source.media;
  const frameBytes = width * height * 3;
  const select = `select='gte(n\\,${startIndex})*not(mod(n\\,${stride}))'`;
  const child = spawn(
    ffmpeg,
    [
      '-v',
      'error',
      '-nostdin',
      '-i',
      source.path,
      '-map',
      '0:v:0',
      '-vf',
      select,
      '-vsync',
      'passthrough',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const onAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let emitted = 0;
  const firstIndex = Math.ceil(startIndex / stride) * stride;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
        const frame = Buffer.from(all.subarray(0, frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
        const index = firstIndex + emitted * stride;
        emitted += 1;
        yield { index, timeSeconds: index / fps, width, height, rgb: frame, error: null };
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const code = await exited;
  if (signal?.aborted) return;
  if (code !== 0 && emitted === 0) {
    throw new StudioError(ErrorCode.badMedia, `${source.path} could not be decoded`, {
      file: source.path,
      fix: 'the file may be corrupt or truncated; re-export it or choose another video',
      ...(stderr.trim() ? { details: stderr.trim() } : {}),
    });
  }
  // A truncated stream decodes what it can: the frames read are kept, the end is simply shorter.
}
