import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { reserveTempPath } from '../io/atomic.js';
import { fixMp4VideoDuration } from './mp4-duration.js';
import { nutFrameHeader, nutHeader } from './nut.js';
import type { ExportTiming } from './timing.js';
import { h264Args } from './ffmpeg-args.js';
import { requireTool } from './tools.js';

/** Frame rate as ffmpeg wants it: NTSC rates as exact fractions. */
export function rateArgument(fps: number, exact?: string): string {
  if (exact && /^\d+\/\d+$/.test(exact) && !exact.endsWith('/0')) return exact;
  const ntsc = fps * 1.001;
  if (Math.abs(ntsc - Math.round(ntsc)) < 0.01) return `${Math.round(ntsc) * 1000}/1001`;
  return String(Math.round(fps * 1000) / 1000);
}

/** Outputs written by ffmpeg's mov muxer, whose last frame may need its duration (media/mp4-duration.ts). */
const MP4_FAMILY = new Set(['.mp4', '.mov', '.m4v']);

/** Seconds as ffmpeg reads them, to the microsecond. */
const secondsArgument = (s: number): string => s.toFixed(6);

/** A path as one of the tee muxer's outputs: its separator and escape characters escaped. */
export function teeOutputPath(file: string): string {
  return file.replace(/[\\'|]/g, (c) => `\\${c}`);
}

export interface VideoWriterOptions {
  /**
   * Also write the encoded video, as it is muxed into the file, to `encodedStream` (NUT; MP4, MOV and M4V outputs
   * only, else it stays null): the export check decodes it alongside the encoder instead of decoding the finished
   * file afterwards. The same packets as the file's (the tee muxer). The copy must be read, or destroyed: ffmpeg
   * waits on a full pipe; destroyed, it drops the copy and writes the file all the same.
   */
  encodedCopy?: boolean;
}

/**
 * Encodes raw RGB frames with ffmpeg into a temp file beside the output, keeping the source's timing and its audio
 * in sync, and marking the file as synthetic; `finish` renames it into place, `abort` removes it (no half file is
 * left).
 *
 * Timing (see media/timing.ts): frames go to ffmpeg in a NUT stream, each with its pts from `timing` (the source's
 * spacing; exactly constant for a constant-rate source), encoded in that time base with no frame dropped or
 * repeated (`-vsync passthrough`). The audio is stream-copied from `audioFrom` on the source's clock:
 * `-seek_timestamp 1 -ss <time of the first frame>` makes the output audio pts = source pts - that time, and `-t`
 * ends it with the last frame; every sound keeps its source time relative to the frames. In MP4/MOV the audio
 * starts with the first frame to the sample (its edit list trims the packet that straddles it); elsewhere it starts
 * with the first packet that begins at or after the first frame, up to one packet (about 23 ms of AAC) later.
 * MP4/MOV exports then get their last frame's duration set (media/mp4-duration.ts).
 */
export class VideoWriter {
  private readonly child: ChildProcess;
  /** The encoded video as it is written (VideoWriterOptions.encodedCopy), else null. */
  readonly encodedStream: Readable | null;
  private readonly done: Promise<number | null>;
  private stderr = '';
  private frames = 0;
  private readonly frameBytes: number;
  readonly temp: string;

  constructor(
    readonly output: string,
    width: number,
    height: number,
    private readonly timing: ExportTiming,
    audioFrom: string | null,
    options: VideoWriterOptions = {},
  ) {
    const ffmpeg = requireTool('ffmpeg');
    const ext = path.extname(output) || '.mp4';
    this.temp = `${reserveTempPath(output)}${ext}`;
    this.frameBytes = width * height * 3;
    const { timeBase } = timing;
    const args = ['-v', 'error', '-y', '-f', 'nut', '-i', 'pipe:0'];
    const withAudio = audioFrom !== null && timing.audioOffsetSeconds !== null;
    if (withAudio) args.push('-seek_timestamp', '1', '-ss', secondsArgument(timing.startSeconds), '-i', audioFrom);
    args.push('-map', '0:v:0');
    if (withAudio)
      args.push(
        '-map',
        '1:a?',
        '-c:a',
        'copy',
        // MP4/MOV: keep the packet that straddles the first frame (and what the seek read before it, as ffmpeg does
        // by default); the edit list starts the audio exactly at the first frame. Other containers have no edit
        // list and would shift every stream to make those times non-negative: keep only packets from the start on.
        '-copypriorss:a',
        MP4_FAMILY.has(path.extname(output).toLowerCase()) ? '1' : '0',
        '-t',
        secondsArgument(timing.durationSeconds),
      );
    args.push(
      '-vsync',
      'passthrough',
      '-enc_time_base:v',
      `${timeBase.num}:${timeBase.den}`,
      ...h264Args(),
      '-metadata',
      'comment=Synthetic media: face swapped with FaceParts Studio',
      '-metadata',
      'description=synthetic',
    );
    // The MP4 family only: through the tee muxer a stream keeps its codec tag, and Matroska refuses MP4's audio tag.
    const copy = options.encodedCopy === true && MP4_FAMILY.has(ext.toLowerCase());
    // The tee muxer would shift the audio's negative times (the packet before the first frame) to zero itself and
    // put the audio out of sync (a range export: 1 s); left to the MP4 muxer, they become its edit list, as without.
    if (copy)
      args.push(
        '-avoid_negative_ts',
        'disabled',
        '-f',
        'tee',
        `[onfail=abort]${teeOutputPath(this.temp)}|[f=nut:select=v:onfail=ignore]pipe:3`,
      );
    else args.push(this.temp);
    this.child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe', ...(copy ? (['pipe'] as const) : [])] });
    this.encodedStream = copy ? (this.child.stdio[3] as Readable) : null;
    // A reader that stops early: ffmpeg drops the copy ('onfail=ignore') and goes on with the file.
    this.encodedStream?.on('error', () => undefined);
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.done = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    // A closed pipe (ffmpeg failed to start) surfaces in write() and finish(), with ffmpeg's own message.
    this.child.stdin?.on('error', () => undefined);
    this.child.stdin?.write(nutHeader({ width, height, timeBase, frameRate: timing.nominalRate }));
  }

  /** The pts of the n-th frame written: the plan's, or (past its end) one step further per frame. */
  private ptsOf(n: number): number {
    const { pts } = this.timing;
    if (n < pts.length) return pts[n] as number;
    const last = pts.length - 1;
    const step = last > 0 ? (pts[last] as number) - (pts[last - 1] as number) : 1;
    return (pts[last] ?? 0) + (n - last) * Math.max(step, 1);
  }

  /**
   * One frame. Resolves when the encoder can take more; `flushed` is called once the pipe has the frame's bytes (or
   * the write failed), after which the caller may reuse `rgb`.
   */
  async write(rgb: Uint8Array, flushed?: () => void): Promise<void> {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed)
      throw new StudioError(ErrorCode.ioError, `the encoder stopped: ${this.stderr.trim()}`, { file: this.output });
    if (rgb.length !== this.frameBytes)
      throw new StudioError(
        ErrorCode.ioError,
        `a frame for ${this.output} has ${rgb.length} bytes, not ${this.frameBytes}`,
        {
          file: this.output,
        },
      );
    stdin.write(nutFrameHeader(this.ptsOf(this.frames), rgb.length));
    this.frames += 1;
    if (!stdin.write(rgb, flushed))
      await new Promise<void>((resolve) => {
        // An encoder that exits mid-frame never drains: the next write or finish() reports why.
        const go = (): void => {
          stdin.off('drain', go);
          stdin.off('close', go);
          resolve();
        };
        stdin.once('drain', go);
        stdin.once('close', go);
      });
  }

  async finish(): Promise<void> {
    this.child.stdin?.end();
    const code = await this.done;
    if (code !== 0) {
      await fs.rm(this.temp, { force: true });
      throw new StudioError(
        ErrorCode.ioError,
        `encoding ${this.output} failed: ${this.stderr.trim().split('\n').slice(-2).join(' ')}`,
        {
          file: this.output,
          fix: 'check free disk space and that the output folder is writable',
        },
      );
    }
    if (MP4_FAMILY.has(path.extname(this.output).toLowerCase()))
      await fixMp4VideoDuration(this.temp, this.timing.durationSeconds);
    await fs.rename(this.temp, this.output);
  }

  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.done;
    await fs.rm(this.temp, { force: true });
  }
}
