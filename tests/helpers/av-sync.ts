/**
 * Audio/video timing of a media file as ffprobe reports it, measured independently of the code under test (only the
 * ffprobe binary is shared), and the checks that an export kept its source's timing.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { TEST_OUTPUT } from './paths.js';

export interface AvTiming {
  /** Presentation times (s) of the frames a player shows: packets flagged D (outside the edit list) dropped. */
  videoPts: number[];
  /** The video stream's start and duration (s): where its last frame ends (NaN where the container has none). */
  videoStart: number;
  videoDuration: number;
  /** The audio stream's start time (s) as ffprobe gives it (edit lists and priming applied); null without audio. */
  audioStart: number | null;
  /** The first audio packet's pts (s) as stored (may precede audioStart when an edit list trims it). */
  audioFirstPacket: number | null;
  /** Every audio packet a player decodes, with a hash of its bytes (audio is copied, so it identifies the packet). */
  audioPackets: Array<{ pts: number; duration: number; hash: string }>;
}

/** The ffprobe command these measures come from (for reports). */
export const AV_PROBE_ARGS = [
  '-v',
  'error',
  '-show_data_hash',
  'MD5',
  '-show_entries',
  'stream=index,codec_type,start_time,duration:packet=stream_index,pts_time,duration_time,flags,data_hash',
  '-of',
  'json',
];

export function probeAv(file: string): AvTiming {
  const json = JSON.parse(
    execFileSync(resolveTools().ffprobe as string, [...AV_PROBE_ARGS, file], {
      maxBuffer: 256 * 1024 * 1024,
    }).toString(),
  ) as {
    streams: Array<{ index: number; codec_type: string; start_time?: string; duration?: string }>;
    packets: Array<{
      stream_index: number;
      pts_time?: string;
      duration_time?: string;
      flags: string;
      data_hash: string;
    }>;
  };
  const video = json.streams.find((s) => s.codec_type === 'video');
  const audio = json.streams.find((s) => s.codec_type === 'audio');
  const of = (index: number | undefined): typeof json.packets =>
    json.packets.filter((p) => p.stream_index === index && p.pts_time !== undefined && p.pts_time !== 'N/A');
  const audioAll = of(audio?.index);
  return {
    videoPts: of(video?.index)
      .filter((p) => !p.flags.includes('D'))
      .map((p) => Number(p.pts_time))
      .sort((a, b) => a - b),
    videoStart: Number(video?.start_time ?? 0),
    videoDuration: Number(video?.duration ?? NaN),
    audioStart: audio?.start_time !== undefined ? Number(audio.start_time) : null,
    audioFirstPacket: audioAll.length ? Number(audioAll[0]?.pts_time) : null,
    audioPackets: audioAll
      .filter((p) => !p.flags.includes('D'))
      .map((p) => ({ pts: Number(p.pts_time), duration: Number(p.duration_time) || 0, hash: p.data_hash })),
  };
}

export interface SyncReport {
  clip: string;
  frames: [number, number];
  sourceOffsetMs: number | null;
  expectedOffsetMs: number | null;
  outputOffsetMs: number | null;
  sourceDurationMs: number;
  /** null where the container stores no stream duration (Matroska). */
  outputDurationMs: number | null;
  audioPacketsChecked: number;
  worstAudioErrorMs: number;
  worstFrameErrorMs: number;
}

const ms = (s: number): number => Math.round(s * 1e4) / 10;

/**
 * The export of source frames [first, last] keeps the source's timing:
 * - the same frames, each shown at the source's spacing (within `tolerance` seconds), and the video as long as
 *   the frames last (a constant rate: count / rate; a variable one: to the next source frame or the source's end);
 * - audio start - first frame = max(0, source audio start - time of frame `first`) within one frame (the export
 *   keeps only audio packets that start at or after its first frame: up to one packet, ~23 ms, later);
 * - every audio packet (matched to the source's by its bytes) sits at its source time relative to frame `first`,
 *   so the sync holds through the whole clip, not only at its start.
 */
export function expectSameTiming(
  clip: string,
  source: AvTiming,
  output: AvTiming,
  first: number,
  last: number,
  rate: 'constant' | 'variable',
  /** tolerance: seconds a timestamp may differ by (container rounding); streamDuration: the container stores one. */
  { tolerance = 0.0005, streamDuration = true }: { tolerance?: number; streamDuration?: boolean } = {},
): SyncReport {
  const src = source.videoPts.slice(first, last + 1);
  const t0 = src[0] as number;
  const v0 = output.videoPts[0] as number;
  expect(output.videoPts, `${clip}: frame count`).toHaveLength(src.length);
  let worstFrame = 0;
  src.forEach((t, j) => {
    worstFrame = Math.max(worstFrame, Math.abs((output.videoPts[j] as number) - v0 - (t - t0)));
  });
  expect(worstFrame, `${clip}: frame times keep the source's spacing`).toBeLessThanOrEqual(tolerance);
  // One frame: the shortest frame duration around the start (a variable rate may have short ones).
  const frame = Math.min(...src.slice(1, 4).map((t, i) => t - (src[i] as number)), 1 / 24);
  const next = source.videoPts[last + 1];
  const sourceDuration =
    rate === 'constant'
      ? src.length * ((src[1] ?? t0 + frame) - t0)
      : (next ?? source.videoStart + source.videoDuration) - t0;
  if (streamDuration)
    expect(Math.abs(output.videoDuration - sourceDuration), `${clip}: video duration`).toBeLessThanOrEqual(0.001);
  const report: SyncReport = {
    clip,
    frames: [first, last],
    sourceDurationMs: ms(sourceDuration),
    outputDurationMs: streamDuration ? ms(output.videoDuration) : null,
    sourceOffsetMs: null,
    expectedOffsetMs: null,
    outputOffsetMs: null,
    audioPacketsChecked: 0,
    worstAudioErrorMs: 0,
    worstFrameErrorMs: ms(worstFrame),
  };
  if (source.audioStart === null) {
    expect(output.audioStart, `${clip}: no audio in, none out`).toBeNull();
    return report;
  }
  expect(output.audioStart, `${clip}: the export has the source's audio`).not.toBeNull();
  const sourceOffset = source.audioStart - t0;
  const expected = Math.max(0, sourceOffset);
  const outputOffset = (output.audioStart as number) - v0;
  Object.assign(report, {
    sourceOffsetMs: ms(sourceOffset),
    expectedOffsetMs: ms(expected),
    outputOffsetMs: ms(outputOffset),
  });
  expect(Math.abs(outputOffset - expected), `${clip}: audio start vs first frame`).toBeLessThanOrEqual(frame);

  const bySourceHash = new Map<string, number[]>();
  for (const p of source.audioPackets) bySourceHash.set(p.hash, [...(bySourceHash.get(p.hash) ?? []), p.pts]);
  let worst = 0;
  for (const p of output.audioPackets) {
    const candidates = bySourceHash.get(p.hash);
    expect(candidates, `${clip}: output audio packet at ${p.pts} s is the source's audio`).toBeDefined();
    // Identical packets (silence) may repeat: the right one is the closest in time.
    const err = Math.min(...(candidates as number[]).map((s) => Math.abs(p.pts - v0 - (s - t0))));
    worst = Math.max(worst, err);
  }
  report.audioPacketsChecked = output.audioPackets.length;
  report.worstAudioErrorMs = ms(worst);
  expect(output.audioPackets.length, `${clip}: audio packets`).toBeGreaterThan(0);
  // 1 ms more: an MP4 audio track that starts after 0 gets an empty edit counted in the movie timescale (1/1000 s).
  expect(worst, `${clip}: every audio packet at its source time relative to the frames`).toBeLessThanOrEqual(
    tolerance + 0.001,
  );
  // The audio covers the exported frames (where the source has audio there).
  const windowEnd = (output.videoPts.at(-1) as number) - v0;
  const sourceAudioEnd = (source.audioPackets.at(-1)?.pts ?? 0) - t0;
  const outputAudioEnd = (output.audioPackets.at(-1)?.pts ?? 0) + (output.audioPackets.at(-1)?.duration ?? 0) - v0;
  expect(outputAudioEnd, `${clip}: audio to the last frame`).toBeGreaterThanOrEqual(
    Math.min(windowEnd, sourceAudioEnd) - frame,
  );
  return report;
}

/** Appends a measured line to test-output/av-sync.jsonl (the numbers behind the sync claims). */
export function recordSync(report: SyncReport): void {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  appendFileSync(path.join(TEST_OUTPUT, 'av-sync.jsonl'), `${JSON.stringify(report)}\n`);
}
