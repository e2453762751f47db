/**
 * When each frame of a video is shown and when its audio starts, as a player presents them: the facts an export
 * needs to keep the voice on the lips.
 *
 * "The source's timing", precisely: frame i is the i-th frame a player presents (packets the container's edit list
 * discards are not frames), shown at pts_i (the stream's own timestamps, in its time base); the audio starts at the
 * audio stream's start time. For an export of frames k..e:
 * - output frame j is source frame k + j, shown at pts_(k+j) - pts_k: the source's spacing, so a variable frame rate
 *   stays variable (a constant one is written as exactly constant);
 * - the audio is the source's audio from the time of frame k to the end of frame e, on the same clock, so
 *   (output audio start - output first frame) = max(0, audio start - time of frame k). Audio from before frame k
 *   is cut, not the picture delayed: the output starts with its first frame, and a sound is heard with the frame
 *   it was heard with in the source.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import type { SeekPoint } from './decode.js';
import type { Rational } from './nut.js';
import { requireTool } from './tools.js';

const execFileAsync = promisify(execFile);

export interface SourceTiming {
  /** The video stream's time base: every pts below is in these units. */
  timeBase: Rational;
  /** Presentation time of each presented frame, in presentation order (index = frame index). */
  framePts: number[];
  /** How long the last frame is shown, in time base units. */
  lastFrameDuration: number;
  /** The nominal rates ffprobe reports ("30000/1001"), most trusted first; empty when unknown. */
  rates: string[];
  /** The first audio stream's start and end (seconds, same clock as the video); null without audio. */
  audio: { start: number; end: number | null } | null;
}

export interface ExportTiming {
  /** Output video time base and each output frame's pts in it (frame j = source frame `firstFrame` + j). */
  timeBase: Rational;
  pts: number[];
  /** The exact rate when the range is constant-rate (pts are then 0, 1, 2... of 1/rate), else null. */
  constantRate: string | null;
  /** A nominal rate for the encoder (the constant rate, or the source's typical rate). */
  nominalRate: string;
  firstFrame: number;
  /** Source time of the first frame and of the end of the last frame (seconds): the audio window. */
  startSeconds: number;
  endSeconds: number;
  /** Exact output video duration (seconds). */
  durationSeconds: number;
  /** Expected output (audio start - first frame time), seconds; null when the source has no audio in the window. */
  audioOffsetSeconds: number | null;
}

/** A frame may stray this far (in frames) from an exact grid and still count as constant-rate. */
const CFR_TOLERANCE = 0.1;

export function parseRational(text: string | undefined): Rational | null {
  const match = /^(\d+)(?:\/(\d+))?$/.exec((text ?? '').trim());
  if (!match) return null;
  const num = Number(match[1]);
  const den = match[2] === undefined ? 1 : Number(match[2]);
  return num > 0 && den > 0 ? { num, den } : null;
}

const seconds = (pts: number, tb: Rational): number => (pts * tb.num) / tb.den;

/**
 * Parses ffprobe's `-show_entries packet=pts,duration,flags -of csv=p=0` for one video stream: packets the
 * demuxer marks to discard (flag D, outside the edit list) are dropped, the rest sorted into presentation order.
 */
export function presentedFrames(csv: string): { pts: number[]; lastPacketDuration: number } {
  const frames: Array<{ pts: number; duration: number }> = [];
  for (const line of csv.split('\n')) {
    const [pts, duration, flags] = line.trim().split(',');
    if (pts === undefined || pts === '' || pts === 'N/A' || (flags ?? '').includes('D')) continue;
    frames.push({ pts: Number(pts), duration: Number(duration) || 0 });
  }
  frames.sort((a, b) => a.pts - b.pts);
  return { pts: frames.map((f) => f.pts), lastPacketDuration: frames.at(-1)?.duration ?? 0 };
}

/**
 * Where to seek so that decoding starts at frame `index` (decode.ts SeekPoint): halfway between its time and the
 * previous frame's, so that neither rounding nor a variable rate moves the cut. Null for the first frame, or where
 * the two frames share a time (a broken file: decode from the start instead).
 */
export function seekPoint(timing: SourceTiming, index: number): SeekPoint | null {
  const pts = timing.framePts[index];
  const before = timing.framePts[index - 1];
  if (index < 1 || pts === undefined || before === undefined || !(pts > before)) return null;
  return { seconds: seconds((pts + before) / 2, timing.timeBase), index };
}

/**
 * How long the last frame lasts: to the stream's end when the container says where that is (an edit list may end
 * it later than the packet's own duration), else the packet's duration, else one nominal frame.
 */
export function lastFrameDuration(
  lastPts: number,
  lastPacketDuration: number,
  streamEndPts: number | null,
  nominalFramePts: number | null,
): number {
  const nominal = nominalFramePts ?? lastPacketDuration;
  const toEnd = streamEndPts === null ? 0 : streamEndPts - lastPts;
  if (toEnd > 0 && (nominal <= 0 || toEnd <= 10 * nominal)) return toEnd;
  if (lastPacketDuration > 0) return lastPacketDuration;
  return nominal > 0 ? nominal : 1;
}

/** The pts and timing of an export of source frames [start, end] (inclusive, clamped to the frames there are). */
export function exportTiming(source: SourceTiming, range: { start: number; end: number }): ExportTiming {
  const count = source.framePts.length;
  if (count === 0) throw new RangeError('the source has no frames');
  const first = Math.min(Math.max(range.start, 0), count - 1);
  const last = Math.min(Math.max(range.end, first), count - 1);
  const tb = source.timeBase;
  const at = (i: number): number => source.framePts[i] as number;
  const base = at(first);
  const endPts = last + 1 < count ? at(last + 1) : at(last) + source.lastFrameDuration;
  const startSeconds = seconds(base, tb);
  const endSeconds = seconds(endPts, tb);

  // Constant rate when every frame of the range sits on the grid of one of the source's nominal rates.
  const n = last - first + 1;
  const constant = source.rates.find((text) => {
    const rate = parseRational(text);
    if (!rate) return false;
    const framePts = (tb.den * rate.den) / (tb.num * rate.num);
    // Only when frames are shown counts; a last frame held longer (an edit list's end) does not make it variable.
    for (let j = 0; j < n; j += 1)
      if (Math.abs(at(first + j) - base - j * framePts) > CFR_TOLERANCE * framePts) return false;
    return true;
  });
  const constantRate = constant ? parseRational(constant) : null;
  let timeBase: Rational;
  let pts: number[];
  let durationSeconds: number;
  if (constantRate) {
    timeBase = { num: constantRate.den, den: constantRate.num };
    pts = Array.from({ length: n }, (_, j) => j);
    durationSeconds = (n * constantRate.den) / constantRate.num;
  } else {
    timeBase = tb;
    pts = [];
    // Strictly increasing, as an encoder requires: a repeated timestamp (a damaged file) moves on by one tick.
    for (let j = 0; j < n; j += 1) pts.push(Math.max(at(first + j) - base, j > 0 ? (pts[j - 1] as number) + 1 : 0));
    durationSeconds = Math.max(endSeconds - startSeconds, seconds((pts.at(-1) as number) + 1, tb));
  }
  const windowEnd = startSeconds + durationSeconds;
  const audio = source.audio;
  const audioInWindow = audio !== null && audio.start < windowEnd && (audio.end === null || audio.end > startSeconds);
  return {
    timeBase,
    pts,
    constantRate: constantRate ? `${constantRate.num}/${constantRate.den}` : null,
    nominalRate: constant ?? source.rates[0] ?? `${Math.round(n / Math.max(durationSeconds, 1e-9))}/1`,
    firstFrame: first,
    startSeconds,
    endSeconds: windowEnd,
    durationSeconds,
    audioOffsetSeconds: audioInWindow ? Math.max(0, audio.start - startSeconds) : null,
  };
}

interface ProbedStream {
  codec_type?: string;
  time_base?: string;
  start_time?: string;
  duration?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
}

const num = (text: string | undefined): number | null => {
  const value = Number(text);
  return text !== undefined && text !== 'N/A' && Number.isFinite(value) ? value : null;
};

/** Frame times and audio start of a video file, read with ffprobe from the packets (no decoding). */
export async function probeTiming(file: string): Promise<SourceTiming> {
  const ffprobe = requireTool('ffprobe');
  const run = async (args: string[]): Promise<string> => {
    try {
      return (await execFileAsync(ffprobe, ['-v', 'error', ...args, file], { maxBuffer: 512 * 1024 * 1024 })).stdout;
    } catch (error) {
      const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
      throw new StudioError(ErrorCode.badMedia, `${file}: could not read its frame times`, {
        file,
        fix: 'the file may be corrupt or truncated; re-export it or choose another video',
        ...(detail ? { details: detail.slice(-2000) } : {}),
      });
    }
  };
  const [packets, info] = await Promise.all([
    run(['-select_streams', 'v:0', '-show_entries', 'packet=pts,duration,flags', '-of', 'csv=p=0']),
    run([
      '-show_entries',
      'stream=codec_type,time_base,start_time,duration,r_frame_rate,avg_frame_rate:format=start_time,duration',
      '-of',
      'json',
    ]),
  ]);
  const parsed = JSON.parse(info) as { streams?: ProbedStream[]; format?: { start_time?: string; duration?: string } };
  const streams = parsed.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video');
  const timeBase = parseRational(video?.time_base);
  const frames = presentedFrames(packets);
  if (!video || !timeBase || frames.pts.length === 0)
    throw new StudioError(ErrorCode.badMedia, `${file} has no video frames with timestamps`, {
      file,
      fix: 'choose a video file (mp4, mov, mkv, webm...); a stream without timestamps cannot be kept in sync',
    });
  const rates = [video.r_frame_rate, video.avg_frame_rate].filter(
    (r): r is string => r !== undefined && parseRational(r) !== null,
  );
  const nominal = parseRational(rates[0]);
  const start = num(video.start_time);
  const length = num(video.duration);
  const toPts = (s: number): number => Math.round((s * timeBase.den) / timeBase.num);
  const lastPts = frames.pts.at(-1) as number;
  const lastDuration = lastFrameDuration(
    lastPts,
    frames.lastPacketDuration,
    start !== null && length !== null ? toPts(start + length) : null,
    nominal ? (timeBase.den * nominal.den) / (timeBase.num * nominal.num) : null,
  );
  const audioStream = streams.find((s) => s.codec_type === 'audio');
  let audio: SourceTiming['audio'] = null;
  if (audioStream) {
    const audioStart = num(audioStream.start_time) ?? num(parsed.format?.start_time) ?? 0;
    const audioLength = num(audioStream.duration);
    audio = { start: audioStart, end: audioLength === null ? null : audioStart + audioLength };
  }
  return { timeBase, framePts: frames.pts, lastFrameDuration: lastDuration, rates, audio };
}
