/**
 * Following a video as consecutive chunks, two at a time (extraction's face finding, the conversion's tracking
 * pass): one Follower waits on each frame's models in turn and leaves the cores half idle. Each chunk is followed
 * by a follower of its own from the chunk's first frame (the first chunk continues the tracks of a resumed pass);
 * the frames come out in order, with the track ids of one tracker: a face that continues across a chunk's boundary
 * keeps its earlier id (linked by the overlap of its boxes, track/parts.ts), and every other track gets the next
 * free id. With a frame, every `stateEvery` frames and at each chunk's end, comes the tracker's state as of that
 * frame: where a caller may commit and a resumed pass start.
 *
 * The later chunks seek to their start instead of decoding the video up to it (stride 1, frame times known), and
 * each seek is checked against the frame the chunk before decoded last; a chunk whose seek landed elsewhere is
 * followed again from a decode of the video's start.
 */
import { createHash } from 'node:crypto';
import type { Box } from '../../../src-shared/math/geometry.js';
import { FramePool, decodeFrames, type DecodedFrame, type SeekPoint } from '../media/decode.js';
import type { ProbedSource } from '../media/probe.js';
import { seekPoint, type SourceTiming } from '../media/timing.js';
import { readAhead } from '../pipeline/queue.js';
import { flatPoints, pointsOf } from '../pipeline/rpc.js';
import { emptyFollowStats, type Follower, type FollowedFace, type FollowStats } from './follow.js';
import {
  DEFAULT_LINK_OPTIONS,
  chunkRanges,
  linkAcrossBoundary,
  mergeTrackerStates,
  trackEnds,
  type FrameRange,
  type TrackEnd,
} from './parts.js';
import { isCut } from './scene-cut.js';
import { emptyTrackerState, type TrackerState } from './tracker.js';

/** Chunks followed at once: one a core on the two-core machines the studio is sized for. */
export const CHUNK_FOLLOWERS = 2;
/** Chunks are about half the frames, within these bounds (track/parts.ts chunkRanges). */
const MIN_CHUNK_FRAMES = 60;
const MAX_CHUNK_FRAMES = 600;
/** A follower starts a chunk at most this many chunks ahead of the one coming out: memory stays bounded. */
const MAX_CHUNKS_AHEAD = 2;
/** Decoded frames waiting ahead of each follower. */
const READ_AHEAD = 4;

/** A frame as it comes out: the decoder's facts, its faces (null: not followed on this pass), the caller's work. */
export interface ChunkedFrame<T> {
  frame: Omit<DecodedFrame, 'rgb'> & { readable: boolean };
  faces: FollowedFace[] | null;
  extra: T;
  /** The tracks as of this frame (ids as they come out), on frames where a caller may commit. */
  state: TrackerState | null;
}

export interface ChunkedFollowOptions<T> {
  source: ProbedSource;
  stride: number;
  /** The frames to read: `first` (on the stride) to `last`, inclusive; with `toEnd`, to the video's end. */
  first: number;
  last: number;
  /** Read past `last` to the video's end (a frame count from the container may be short). */
  toEnd: boolean;
  /** The tracks a resumed pass had; the first chunk continues them, ids kept. */
  state: TrackerState | undefined;
  newFollower(state: TrackerState | undefined): Follower;
  /** Follow the video as chunks (false: one follower over every frame, as a resumed or image pass needs). */
  chunked: boolean;
  /** Which frames are followed (a pass may read frames only to index them). */
  follows(index: number): boolean;
  /**
   * Work on each frame while its pixels are at hand (the timeline's thumbnail): `extra` comes out with the frame,
   * and its pixels are reused once `pixelsRead` settles.
   */
  atFrame(frame: DecodedFrame): { extra: T; pixelsRead: Promise<unknown> };
  /** The video's frame times, for the later chunks' seeks (null: they decode the video up to their start). */
  timing: Promise<SourceTiming | null>;
  /** A state comes with every this many frames of a chunk, and with each chunk's last frame. */
  stateEvery?: number;
  signal: AbortSignal;
  waitWhilePaused(): Promise<void>;
  /** A frame was read and followed (progress: the chunks run ahead of the frames that came out). */
  onFrame(): void;
  /** A chunk was followed to its end (the conversion starts loading what comes after the pass). */
  onChunkDone?(): void;
  log(level: 'info' | 'warn', message: string): void;
}

/** A face as a chunk keeps it until it comes out (flat landmarks: ~1 kB, a third of 68 point arrays). */
interface KeptFace {
  trackId: number;
  box: Box;
  score: number;
  landmarks: Float64Array;
  descriptor: Float32Array | null;
  passes: number;
  carried: boolean;
}

interface KeptFrame<T> {
  frame: ChunkedFrame<T>['frame'];
  faces: KeptFace[] | null;
  extra: T;
  state: TrackerState | null;
}

interface Chunk<T> {
  index: number;
  range: FrameRange;
  /** Made when the chunk starts, let go once its frames came out. */
  follower: Follower | null;
  frames: KeptFrame<T>[];
  /** Last frame read, and whether the chunk was read to its end. */
  reached: number;
  done: boolean;
  /** Where each of the chunk's tracks was first seen, and the cut signature of its first frame. */
  firsts: Map<number, TrackEnd>;
  firstSignature: number[] | null;
  /** Fingerprints of the frame before the chunk (decoded where its seek landed) and of its last frame. */
  before: string | null;
  last: string | null;
  /** Whether the chunk may seek to its start (not after a seek that missed). */
  maySeek: boolean;
  seek: SeekPoint | null;
  stop: AbortController;
  running: Promise<void> | null;
  /** Its follower stopped (at the end, stopped, or failed). */
  ended: boolean;
}

/** A chunk before its follower starts (`maySeek`: it may seek to its start rather than decode up to it). */
function unstartedChunk<T>(index: number, range: FrameRange, maySeek: boolean): Chunk<T> {
  return {
    index,
    range,
    follower: null,
    frames: [],
    reached: range.start - 1,
    done: false,
    firsts: new Map(),
    firstSignature: null,
    before: null,
    last: null,
    maySeek,
    seek: null,
    stop: new AbortController(),
    running: null,
    ended: false,
  };
}

const fingerprint = (rgb: Uint8Array): string => createHash('sha1').update(rgb).digest('hex');

const keep = (f: FollowedFace): KeptFace => ({
  trackId: f.trackId,
  box: f.box,
  score: f.score,
  landmarks: flatPoints(f.landmarks),
  descriptor: f.descriptor,
  passes: f.passes,
  carried: f.carried,
});

/**
 * The frames of `o.first` to the video's end in order, followed (see the file's comment); `stats()`: what the
 * chunks' followers did, summed.
 */
export function followInChunks<T>(o: ChunkedFollowOptions<T>): {
  frames: AsyncGenerator<ChunkedFrame<T>>;
  stats(): FollowStats;
} {
  const planned = o.chunked ? chunkRanges(o.first, o.last, o.stride, MIN_CHUNK_FRAMES, MAX_CHUNK_FRAMES) : [];
  const ranges = planned.length > 0 ? planned : [{ start: o.first, end: Math.max(o.first, o.last) }];
  const chunks = ranges.map((range, k) => unstartedChunk<T>(k, range, k > 0 && o.stride === 1));
  const lastChunk = chunks[chunks.length - 1];
  if (lastChunk && o.toEnd) lastChunk.range = { ...lastChunk.range, end: Number.MAX_SAFE_INTEGER };
  // What the followers of the chunks that came out did (their followers let go).
  const retired = emptyFollowStats();
  const stats = (): FollowStats =>
    sumStats([retired, ...chunks.flatMap((c) => (c.follower ? [c.follower.stats] : []))]);
  return { frames: framesOf(o, chunks, retired), stats };
}

async function* framesOf<T>(
  o: ChunkedFollowOptions<T>,
  chunks: Array<Chunk<T>>,
  retired: FollowStats,
): AsyncGenerator<ChunkedFrame<T>> {
  // Whatever a follower or the consumer waits for (a frame followed, a chunk ended, the head moved) wakes both.
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const notify = (): void => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  let head = 0;
  let failure: unknown = null;
  const stopAll = new AbortController();
  const signal = AbortSignal.any([o.signal, stopAll.signal]);

  // One pool for every chunk's decoder: a frame buffer new to the model workers costs ~1 ms to share, and fresh
  // pages (a 4-minute loop grew ~20-60 MB with a pool a chunk).
  const pool = new FramePool();
  const runChunk = async (c: Chunk<T>): Promise<void> => {
    const follower = (c.follower ??= o.newFollower(c.index === 0 ? o.state : undefined));
    const chunkSignal = AbortSignal.any([signal, c.stop.signal]);
    if (c.maySeek) {
      const timing = await o.timing;
      c.seek = timing ? seekPoint(timing, c.range.start - 1) : null;
    }
    const frames = decodeFrames(o.source, {
      stride: o.stride,
      startIndex: c.seek ? c.seek.index : c.range.start,
      signal: chunkSignal,
      pool,
      ...(c.seek ? { seek: c.seek } : {}),
    });
    let followed = 0;
    // Each frame is held back until the next one is read: the chunk's last frame (wherever the video ends) then
    // carries the tracks' state.
    let held: KeptFrame<T> | null = null;
    const hand = (kept: KeptFrame<T>, last: boolean): void => {
      if (last) kept.state ??= follower.snapshot();
      c.frames.push(kept);
      c.reached = kept.frame.index;
      notify();
    };
    for await (const frame of readAhead(frames, READ_AHEAD)) {
      if (frame.index > c.range.end) break;
      if (frame.index < c.range.start) {
        c.before = frame.rgb ? fingerprint(frame.rgb) : null;
        pool.release(frame.rgb);
        continue;
      }
      await o.waitWhilePaused();
      if (frame.index === c.range.end && frame.rgb) c.last = fingerprint(frame.rgb);
      const { extra, pixelsRead } = o.atFrame(frame);
      let faces: KeptFace[] | null = null;
      if (o.follows(frame.index)) {
        const found = frame.rgb
          ? await follower.step(frame.index, { rgb: frame.rgb, width: frame.width, height: frame.height })
          : [];
        if (followed === 0) c.firstSignature = follower.tracker.lastSignature;
        followed += 1;
        for (const f of found)
          if (!c.firsts.has(f.trackId)) c.firsts.set(f.trackId, { id: f.trackId, frame: frame.index, box: f.box });
        faces = found.map(keep);
      }
      await pixelsRead.catch(() => undefined);
      pool.release(frame.rgb);
      o.onFrame();
      const { rgb: _pixels, ...facts } = frame;
      const position = (frame.index - c.range.start) / o.stride;
      if (held) hand(held, false);
      held = {
        frame: { ...facts, readable: frame.rgb !== null },
        faces,
        extra,
        state: o.stateEvery && position % o.stateEvery === o.stateEvery - 1 ? follower.snapshot() : null,
      };
      if (chunkSignal.aborted) break;
    }
    if (chunkSignal.aborted) {
      if (held) hand(held, false);
      return;
    }
    if (held) hand(held, true);
    c.done = true;
    o.onChunkDone?.();
  };

  const runs = new Set<Promise<void>>();
  const start = (c: Chunk<T>): Promise<void> => {
    c.ended = false;
    c.running = runChunk(c)
      .catch((error: unknown) => {
        if (c.stop.signal.aborted && !signal.aborted) return; // stopped to be followed again
        failure ??= error;
        stopAll.abort();
      })
      .finally(() => {
        c.ended = true;
        notify();
      });
    runs.add(c.running);
    return c.running;
  };

  let next = 0;
  const followers = Array.from({ length: Math.min(CHUNK_FOLLOWERS, chunks.length) }, async () => {
    while (next < chunks.length && !signal.aborted) {
      const k = next;
      next += 1;
      while (k > head + MAX_CHUNKS_AHEAD && !signal.aborted) await changed;
      if (signal.aborted) break;
      await start(chunks[k] as Chunk<T>);
    }
  });

  // The tracks as of the last frame that came out; the head chunk's ids as they come out.
  let before: TrackerState | undefined = o.state;
  let idOf: (id: number) => number = (id) => id;
  let cutAt: number | null = null;
  let linked = 0;
  const linkSpan = DEFAULT_LINK_OPTIONS.maxGap * o.stride;
  try {
    while (head < chunks.length) {
      const c = chunks[head] as Chunk<T>;
      const wait = changed;
      if (failure) throw failure;
      // This chunk's follower will read no more frames: it stopped (or never started) before the chunk's end.
      const halted = !c.done && (c.ended || (signal.aborted && c.running === null));
      if (head > 0 && linked <= head) {
        if (!c.done && c.reached < c.range.start + linkSpan) {
          // Stopped before its faces could be linked: its few frames are left (a resumed pass follows them).
          if (halted) break;
          await wait;
          continue;
        }
        const previous = chunks[head - 1] as Chunk<T>;
        if (c.seek && (previous.last === null || c.before !== previous.last)) {
          // The seek landed elsewhere (timestamps that mislead ffmpeg): this chunk again, from the video's start.
          o.log('warn', `seeking in ${o.source.path} missed frame ${c.range.start - 1}: decoding from the start`);
          c.stop.abort();
          await c.running;
          Object.assign(c, unstartedChunk<T>(c.index, c.range, false));
          void start(c);
          continue;
        }
        const earlier = before ?? emptyTrackerState();
        const cut = c.firstSignature !== null && isCut(earlier.lastSignature, c.firstSignature);
        cutAt = cut ? c.range.start : null;
        const links = cut
          ? []
          : linkAcrossBoundary(trackEnds(earlier), [...c.firsts.values()], c.range.start, {
              ...DEFAULT_LINK_OPTIONS,
              maxGap: linkSpan,
            });
        const renamed = new Map(links.map(([first, later]) => [later, first]));
        let nextId = earlier.nextId;
        idOf = (id) => {
          let mapped = renamed.get(id);
          if (mapped === undefined) {
            mapped = nextId;
            nextId += 1;
            renamed.set(id, mapped);
          }
          return mapped;
        };
        linked = head + 1;
      }
      while (c.frames.length > 0) {
        const kept = c.frames.shift() as KeptFrame<T>;
        const faces =
          kept.faces?.map((f): FollowedFace => ({
            ...f,
            trackId: idOf(f.trackId),
            landmarks: pointsOf(f.landmarks),
          })) ?? null;
        let state: TrackerState | null = null;
        if (kept.state)
          state = head === 0 ? kept.state : mergeTrackerStates(before ?? emptyTrackerState(), kept.state, idOf, cutAt);
        if (state && c.done && c.frames.length === 0) before = state;
        yield { frame: kept.frame, faces, extra: kept.extra, state };
      }
      if (c.done) {
        // Its frames came out: its follower's tracks live on in the merged state.
        if (c.follower) Object.assign(retired, sumStats([retired, c.follower.stats]));
        c.follower = null;
        c.firsts = new Map();
        head += 1;
        notify();
        continue;
      }
      if (halted) break;
      await wait;
    }
    if (failure) throw failure;
  } finally {
    stopAll.abort();
    notify();
    await Promise.all(followers);
    await Promise.all(runs);
  }
}

function sumStats(all: readonly FollowStats[]): FollowStats {
  const out = emptyFollowStats();
  for (const s of all) for (const key of Object.keys(out) as Array<keyof FollowStats>) out[key] += s[key];
  return out;
}
