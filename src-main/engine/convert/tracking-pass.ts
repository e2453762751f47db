/**
 * The conversion's first pass: follow every face through the clip and pick the person to swap. The clip is followed
 * as consecutive chunks, two at a time, each with its own decoder and Follower (track/follow-chunks.ts, as
 * extraction follows a video); the frames come out in order with one tracker's ids.
 */
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { Box } from '../../../src-shared/math/geometry.js';
import type { ProbedSource } from '../media/probe.js';
import type { SourceTiming } from '../media/timing.js';
import { flatPoints, pointsOf } from '../pipeline/rpc.js';
import type { Tracked } from '../project/tracking-cache.js';
import { followInChunks } from '../track/follow-chunks.js';
import { Follower, resolvePeople, type FollowModels } from '../track/follow.js';
import type { FrameRange } from '../track/parts.js';
import { Tracker, type TrackerState } from '../track/tracker.js';

/** What the pass needs of its job (a JobContext has these): stop, pause, progress and log. */
export interface PassContext {
  signal: AbortSignal;
  waitWhilePaused(): Promise<void>;
  progress(stage: string, done: number, total: number): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/** A face as the tracking pass keeps it (flat float32 landmarks: 544 bytes a face). */
interface TrackedFace {
  id: number;
  box: Box;
  landmarks: Float32Array;
}

/**
 * Pass 1: follow every face through the clip (track/follow.ts: detection, landmarks, identity), two chunks at a
 * time, join the tracks of one person and pick the one that looks like the source person (or the most present).
 * The landmarks are the ones found while following: the conversion needs no landmark pass of its own.
 * `onChunkDone`: a chunk was followed (the conversion then starts loading what the swap pass needs).
 */
export async function trackPerson(
  ctx: PassContext,
  input: ProbedSource,
  config: ConverterConfig,
  models: FollowModels,
  reference: number[] | null,
  range: FrameRange,
  timing: SourceTiming,
  onChunkDone: () => void = () => undefined,
): Promise<Tracked> {
  const total = range.end - range.start + 1;
  let done = 0;
  const { frames } = followInChunks<null>({
    source: input,
    stride: 1,
    first: range.start,
    last: range.end,
    toEnd: false,
    state: undefined,
    newFollower: () =>
      new Follower(models, {
        temporal: true,
        threshold: config.detection_threshold,
        minFaceSide: Math.sqrt(config.min_face_area),
        autoDownscale: config.use_auto_downscaling,
        minFaceArea: config.min_face_area,
        // Between full detections a steady face is carried by its landmarks (its look checked): a detector run
        // around each face was about half of the pass's detector work.
        carryByLandmarks: true,
      }),
    chunked: true,
    follows: () => true,
    atFrame: () => ({ extra: null, pixelsRead: Promise.resolve() }),
    timing: Promise.resolve(timing),
    signal: ctx.signal,
    waitWhilePaused: () => ctx.waitWhilePaused(),
    onFrame: () => ctx.progress('track faces', Math.min(total, (done += 1)), total),
    onChunkDone,
    log: (level, message) => ctx.log(level, message),
  });
  const perFrame: Array<TrackedFace[] | undefined> = [];
  // Each track's frames (clip-relative) and summed box area.
  const tracks = new Map<number, { frames: Set<number>; areaSum: number }>();
  let state: TrackerState | undefined;
  for await (const { frame, faces, state: after } of frames) {
    const i = frame.index - range.start;
    perFrame[i] = (faces ?? []).map((f) => ({
      id: f.trackId,
      box: f.box,
      landmarks: Float32Array.from(flatPoints(f.landmarks)),
    }));
    for (const f of faces ?? []) {
      const t = tracks.get(f.trackId) ?? { frames: new Set<number>(), areaSum: 0 };
      t.frames.add(i);
      t.areaSum += f.box.width * f.box.height;
      tracks.set(f.trackId, t);
    }
    if (after) state = after;
  }
  // The identities of every chunk's tracks, joined where a face continued across a boundary.
  const tracker = new Tracker({}, state);
  const { merges, chosen } = resolvePeople(
    [...tracks].map(([id, t]) => ({ id, frames: t.frames, meanArea: t.areaSum / Math.max(1, t.frames.size) })),
    (id) => tracker.track(id),
    reference,
  );
  const merged = new Map<number, number>();
  for (const [keep, gone] of merges) merged.set(gone, keep);
  const root = (id: number): number => (merged.has(id) ? root(merged.get(id) as number) : id);
  const picked = Array.from({ length: total }, (_, i) => perFrame[i]?.find((f) => root(f.id) === chosen) ?? null);
  return {
    raw: picked.map((f) => f?.box ?? null),
    landmarks: picked.map((f) => (f ? pointsOf(Float64Array.from(f.landmarks)) : null)),
  };
}
