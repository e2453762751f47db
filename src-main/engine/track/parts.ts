/**
 * Following a clip as consecutive chunks at once (track/follow-chunks.ts): each chunk is followed from its own first
 * frame, so the chunks keep both cores busy where one follower waits on each frame's models in turn; a face that
 * continues across a boundary is then linked by the overlap of its boxes on either side, and the chunks' tracker
 * states become one. Pure: ranges, boxes and states in, ranges, links and states out.
 */
import { iou, type Box } from '../../../src-shared/math/geometry.js';
import type { TrackerState } from './tracker.js';

export interface FrameRange {
  start: number;
  end: number;
}

/** Where a track was seen last (before a boundary) or first (after it). */
export interface TrackEnd {
  id: number;
  frame: number;
  box: Box;
}

export interface LinkOptions {
  /** Least overlap of the two boxes for one face. */
  minIou: number;
  /** Frames a face may be missed on either side of the boundary and still be linked. */
  maxGap: number;
}

export const DEFAULT_LINK_OPTIONS: LinkOptions = { minIou: 0.3, maxGap: 5 };

/**
 * The tracks that continue across the boundary before frame `boundary`: each track that ends within maxGap frames
 * before it paired with one that begins within maxGap frames from it, best overlap first, each track at most once.
 * Returns [earlier id, later id] pairs.
 */
export function linkAcrossBoundary(
  endings: readonly TrackEnd[],
  beginnings: readonly TrackEnd[],
  boundary: number,
  options: LinkOptions = DEFAULT_LINK_OPTIONS,
): Array<[number, number]> {
  const before = endings.filter((t) => t.frame < boundary && boundary - t.frame <= options.maxGap);
  const after = beginnings.filter((t) => t.frame >= boundary && t.frame - boundary < options.maxGap);
  const pairs: Array<{ a: TrackEnd; b: TrackEnd; overlap: number }> = [];
  for (const a of before)
    for (const b of after) {
      const overlap = iou(a.box, b.box);
      if (overlap >= options.minIou) pairs.push({ a, b, overlap });
    }
  // Ties broken by ids, so the links never depend on the order the tracks came in.
  pairs.sort((p, q) => q.overlap - p.overlap || p.a.id - q.a.id || p.b.id - q.b.id);
  const linkedA = new Set<number>();
  const linkedB = new Set<number>();
  const links: Array<[number, number]> = [];
  for (const { a, b } of pairs) {
    if (linkedA.has(a.id) || linkedB.has(b.id)) continue;
    linkedA.add(a.id);
    linkedB.add(b.id);
    links.push([a.id, b.id]);
  }
  return links;
}

/**
 * Frames `first`..`last` (every `stride`-th, `first` on the stride) as consecutive chunks of about half the frames
 * each, but of no fewer than `minFrames` frames followed and about `maxFrames` at most: two followers taking chunks
 * in turn, each chunk's first frame a full search, the full landmark fit and new identities (four chunks of the
 * sample clip cost ~15 % more CPU than two, for no shorter pass).
 */
export function chunkRanges(
  first: number,
  last: number,
  stride: number,
  minFrames: number,
  maxFrames: number,
): FrameRange[] {
  const positions = Math.floor((last - first) / stride) + 1;
  if (positions <= 0) return [];
  const size = Math.max(minFrames, Math.min(maxFrames, Math.ceil(positions / 2)));
  const count = Math.max(1, Math.min(Math.round(positions / size), Math.floor(positions / minFrames)));
  return Array.from({ length: count }, (_, i) => ({
    start: first + Math.floor((i * positions) / count) * stride,
    end: first + (Math.floor(((i + 1) * positions) / count) - 1) * stride,
  }));
}

/** Where each track of a tracker's state was seen last: the ends a later chunk's faces are linked to. */
export function trackEnds(state: TrackerState): TrackEnd[] {
  return state.tracks.map((t) => ({ id: t.id, frame: t.lastFrame, box: t.box }));
}

/**
 * One tracker state from `before` (the frames up to a boundary) and `part` (a follower that started afresh at the
 * boundary), `part`'s ids renamed by `idOf` (a linked track keeps its earlier id, a new one gets the next free id):
 * a linked track adds its hits, areas and identity samples to the earlier track's and takes over its box, motion
 * and last frame. `cutAt`: a shot cut at the boundary (no track continued across it).
 */
export function mergeTrackerStates(
  before: TrackerState,
  part: TrackerState,
  idOf: (partId: number) => number,
  cutAt: number | null,
): TrackerState {
  const tracks = new Map(before.tracks.map((t) => [t.id, structuredClone(t)]));
  for (const t of part.tracks) {
    const id = idOf(t.id);
    const earlier = tracks.get(id);
    if (!earlier) {
      tracks.set(id, { ...structuredClone(t), id });
      continue;
    }
    const n = earlier.descriptorCount;
    const m = t.descriptorCount;
    const descriptor =
      earlier.descriptor && t.descriptor
        ? earlier.descriptor.map((v, i) => (v * n + ((t.descriptor as number[])[i] as number) * m) / Math.max(1, n + m))
        : (earlier.descriptor ?? (t.descriptor ? [...t.descriptor] : null));
    tracks.set(id, {
      ...structuredClone(t),
      id,
      firstFrame: earlier.firstFrame,
      hits: earlier.hits + t.hits,
      areaSum: earlier.areaSum + t.areaSum,
      descriptor,
      descriptorCount: n + m,
      descriptorFrame: Math.max(earlier.descriptorFrame, t.descriptorFrame),
    });
  }
  const ids = [...tracks.keys()];
  return {
    nextId: Math.max(before.nextId, ...ids.map((id) => id + 1)),
    tracks: [...tracks.values()],
    cutAt: part.cutAt >= 0 ? part.cutAt : (cutAt ?? before.cutAt),
    lastSignature: part.lastSignature,
  };
}
