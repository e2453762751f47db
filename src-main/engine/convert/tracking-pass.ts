/**
 * The conversion's first pass: follow every face through the clip and pick the person to swap. The clip is followed
 * as a few consecutive parts at once (track/parts.ts), each with its own decoder and Follower; the later parts seek
 * to their start, and each seek is checked against the frame the part before decoded last.
 */
import { createHash } from 'node:crypto';
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { Box } from '../../../src-shared/math/geometry.js';
import { FramePool, decodeFrames, type SeekPoint } from '../media/decode.js';
import type { ProbedSource } from '../media/probe.js';
import { seekPoint, type SourceTiming } from '../media/timing.js';
import { readAhead } from '../pipeline/queue.js';
import { flatPoints, pointsOf } from '../pipeline/rpc.js';
import type { Tracked } from '../project/tracking-cache.js';
import { Follower, resolvePeople, type FollowModels } from '../track/follow.js';
import { linkAcrossBoundary, splitRange, type FrameRange, type TrackEnd } from '../track/parts.js';

/** What the pass needs of its job (a JobContext has these): stop, pause, progress and log. */
export interface PassContext {
  signal: AbortSignal;
  waitWhilePaused(): Promise<void>;
  progress(stage: string, done: number, total: number): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/** Decoded frames waiting ahead of each part's follower. */
const READ_AHEAD = 4;

/**
 * The tracking pass follows the clip as this many consecutive parts at once (track/parts.ts): one follower waits on
 * each frame's models in turn and leaves the cores half idle. A fixed number, not one per core, so the result does
 * not depend on the machine. Three parts were no faster on two cores (the sample clip's pass ~3.2 s either way):
 * each part's first frame takes a full search and the full landmark fit.
 */
export const TRACK_PARTS = 2;
/** Shorter parts are not worth their first frame's full search and two landmark passes. */
const MIN_PART_FRAMES = 60;
/** Track ids of part k are k * PART_IDS + the part's own id, so the parts' ids never collide. */
const PART_IDS = 2 ** 24;

/** A face as the tracking pass keeps it (flat float32 landmarks: 544 bytes a face). */
interface TrackedFace {
  id: number;
  box: Box;
  landmarks: Float32Array;
}

/** A track of one part: its frames (clip-relative), area, and where it was seen first and last. */
interface PartTrack {
  frames: Set<number>;
  areaSum: number;
  first: TrackEnd;
  last: TrackEnd;
}

/** One part of the tracking pass as followPart returns it. */
interface PartResult {
  perFrame: TrackedFace[][];
  tracks: Map<number, PartTrack>;
  /** Fingerprints of the frame before the part (decoded where the part sought its start) and of its last frame. */
  before: string | null;
  last: string | null;
}

const fingerprint = (rgb: Uint8Array): string => createHash('sha1').update(rgb).digest('hex');

/**
 * One part of the tracking pass: every frame's faces, the part's tracks, and the follower's identities. `seek`:
 * the decoder seeks to the frame before the part (timing.ts seekPoint) instead of decoding the clip up to it; that
 * frame is fingerprinted, not followed, so that the caller can check where the seek landed.
 */
async function followPart(
  ctx: PassContext,
  input: ProbedSource,
  follower: Follower,
  part: FrameRange,
  rangeStart: number,
  partIndex: number,
  signal: AbortSignal,
  onFrame: () => void,
  seek: SeekPoint | null,
): Promise<PartResult> {
  const perFrame: TrackedFace[][] = [];
  const tracks = new Map<number, PartTrack>();
  let before: string | null = null;
  let last: string | null = null;
  const pool = new FramePool();
  const startIndex = seek ? seek.index : part.start;
  const frames = decodeFrames(input, { stride: 1, startIndex, signal, pool, ...(seek ? { seek } : {}) });
  for await (const frame of readAhead(frames, READ_AHEAD)) {
    if (frame.index > part.end) break;
    if (frame.index < part.start) {
      before = frame.rgb ? fingerprint(frame.rgb) : null;
      pool.release(frame.rgb);
      continue;
    }
    if (frame.index === part.end && frame.rgb) last = fingerprint(frame.rgb);
    await ctx.waitWhilePaused();
    const i = frame.index - rangeStart;
    const faces = frame.rgb
      ? await follower.step(frame.index, { rgb: frame.rgb, width: frame.width, height: frame.height })
      : [];
    pool.release(frame.rgb);
    perFrame.push(
      faces.map((f) => ({
        id: partIndex * PART_IDS + f.trackId,
        box: f.box,
        landmarks: Float32Array.from(flatPoints(f.landmarks)),
      })),
    );
    for (const f of faces) {
      const id = partIndex * PART_IDS + f.trackId;
      const seen: TrackEnd = { id, frame: frame.index, box: f.box };
      const t = tracks.get(id) ?? { frames: new Set<number>(), areaSum: 0, first: seen, last: seen };
      t.frames.add(i);
      t.areaSum += f.box.width * f.box.height;
      t.last = seen;
      tracks.set(id, t);
    }
    onFrame();
    if (signal.aborted) break;
  }
  return { perFrame, tracks, before, last };
}

/**
 * Pass 1: follow every face through the clip (track/follow.ts: detection, landmarks, identity), in TRACK_PARTS
 * parts at once, link the faces that continue across the parts' boundaries, join the tracks of one person and pick
 * the one that looks like the source person (or the most present). The landmarks are the ones found while
 * following: the conversion needs no landmark pass of its own.
 */
export async function trackPerson(
  ctx: PassContext,
  input: ProbedSource,
  config: ConverterConfig,
  models: FollowModels,
  reference: number[] | null,
  range: FrameRange,
  timing: SourceTiming,
  onPartDone: () => void = () => undefined,
): Promise<Tracked> {
  const parts = splitRange(range, TRACK_PARTS, MIN_PART_FRAMES);
  const newFollower = (): Follower =>
    new Follower(models, {
      temporal: true,
      threshold: config.detection_threshold,
      minFaceSide: Math.sqrt(config.min_face_area),
      autoDownscale: config.use_auto_downscaling,
      minFaceArea: config.min_face_area,
      // Between full detections a steady face is carried by its landmarks (its look checked): a detector run
      // around each face was about half of the pass's detector work.
      carryByLandmarks: true,
    });
  const followers = parts.map(newFollower);
  // The later parts seek to the frame before their start: decoding the clip up to it was, for the second of two
  // parts, half the clip decoded for nothing (at 1080p decoding is most of the pass's work).
  const seeks = parts.map((part, k) => (k > 0 ? seekPoint(timing, part.start - 1) : null));
  const total = range.end - range.start + 1;
  let done = 0;
  const onFrame = (): void => ctx.progress('track faces', Math.min(total, (done += 1)), total);
  // A part that fails stops the others (their decoders too) before the error is reported.
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const settled = await Promise.allSettled(
    parts.map((part, k) =>
      followPart(ctx, input, followers[k] as Follower, part, range.start, k, signal, onFrame, seeks[k] ?? null).then(
        (result) => {
          onPartDone();
          return result;
        },
        (error: unknown) => {
          stop.abort();
          throw error;
        },
      ),
    ),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<PartResult>).value);
  // Where a seek did not land on the frame the part before decoded last (a file whose timestamps mislead ffmpeg's
  // seek), the part is followed again, decoded from the clip's start: never a part shifted by a frame.
  for (let k = 1; k < parts.length; k += 1) {
    const previous = results[k - 1] as PartResult;
    const landed = previous.last !== null && (results[k] as PartResult).before === previous.last;
    if (!seeks[k] || landed || ctx.signal.aborted) continue;
    ctx.log(
      'warn',
      `seeking in ${input.path} missed frame ${(parts[k] as FrameRange).start - 1}: decoding from the start`,
    );
    const follower = newFollower();
    followers[k] = follower;
    results[k] = await followPart(
      ctx,
      input,
      follower,
      parts[k] as FrameRange,
      range.start,
      k,
      ctx.signal,
      onFrame,
      null,
    );
  }

  // Faces that continue across a boundary: one track (the earlier part's id).
  const rename = new Map<number, number>();
  for (let k = 1; k < results.length; k += 1) {
    const ends = [...(results[k - 1] as PartResult).tracks.values()];
    const begins = [...(results[k] as PartResult).tracks.values()];
    const links = linkAcrossBoundary(
      ends.map((t) => t.last),
      begins.map((t) => t.first),
      (parts[k] as FrameRange).start,
    );
    for (const [earlier, later] of links) rename.set(later, earlier);
  }
  const linked = (id: number): number => (rename.has(id) ? linked(rename.get(id) as number) : id);
  // The linked tracks' frames, areas and identities (descriptor means weighted by their samples).
  const joined = new Map<
    number,
    { frames: Set<number>; areaSum: number; descriptor: number[] | null; count: number }
  >();
  results.forEach(({ tracks }, k) => {
    for (const [id, t] of tracks) {
      const state = (followers[k] as Follower).tracker.track(id - k * PART_IDS);
      const j = joined.get(linked(id)) ?? { frames: new Set<number>(), areaSum: 0, descriptor: null, count: 0 };
      for (const f of t.frames) j.frames.add(f);
      j.areaSum += t.areaSum;
      const descriptor = state?.descriptor ?? null;
      const count = state?.descriptorCount ?? 0;
      if (descriptor && count > 0)
        j.descriptor = j.descriptor
          ? j.descriptor.map((v, i) => (v * j.count + (descriptor[i] as number) * count) / (j.count + count))
          : [...descriptor];
      j.count += count;
      joined.set(linked(id), j);
    }
  });
  const { merges, chosen } = resolvePeople(
    [...joined].map(([id, j]) => ({ id, frames: j.frames, meanArea: j.areaSum / Math.max(1, j.frames.size) })),
    (id) => {
      const j = joined.get(id);
      return j ? { descriptor: j.descriptor, descriptorCount: j.count } : undefined;
    },
    reference,
  );
  const merged = new Map<number, number>();
  for (const [keep, gone] of merges) merged.set(gone, keep);
  const root = (id: number): number => (merged.has(id) ? root(merged.get(id) as number) : id);
  const picked = results
    .flatMap((r) => r.perFrame)
    .map((faces) => faces.find((f) => root(linked(f.id)) === chosen) ?? null);
  return {
    raw: picked.map((f) => f?.box ?? null),
    landmarks: picked.map((f) => (f ? pointsOf(Float64Array.from(f.landmarks)) : null)),
  };
}
