/**
 * Following a clip as consecutive parts at once (the conversion's tracking pass): each part is followed from its own
 * first frame, so the parts keep both cores busy where one follower waits on each frame's models in turn; a face that
 * continues across a boundary is then linked by the overlap of its boxes on either side. Pure: ranges and boxes in,
 * ranges and links out.
 */
import { iou, type Box } from '../../../src-shared/math/geometry.js';

export interface FrameRange {
  start: number;
  end: number;
}

/**
 * `range` (inclusive) as up to `parts` consecutive ranges of nearly equal length, none shorter than `minFrames`
 * (a short clip stays one part: each part pays a full search and two landmark passes on its first frame).
 */
export function splitRange(range: FrameRange, parts: number, minFrames: number): FrameRange[] {
  const frames = range.end - range.start + 1;
  const n = Math.max(1, Math.min(parts, Math.floor(frames / Math.max(1, minFrames))));
  return Array.from({ length: n }, (_, i) => ({
    start: range.start + Math.floor((i * frames) / n),
    end: range.start + Math.floor(((i + 1) * frames) / n) - 1,
  }));
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
