import { describe, expect, it } from 'vitest';
import {
  chunkRanges,
  linkAcrossBoundary,
  mergeTrackerStates,
  type TrackEnd,
} from '../../src-main/engine/track/parts.js';
import type { TrackState, TrackerState } from '../../src-main/engine/track/tracker.js';

const box = (x: number, y: number, side = 100) => ({ x, y, width: side, height: side });
const end = (id: number, frame: number, x: number, y: number, side = 100): TrackEnd => ({
  id,
  frame,
  box: box(x, y, side),
});

describe('tracking a clip in parts', () => {
  it('links each face that continues across the boundary to its own track, best overlap first', () => {
    // Two people side by side before frame 150; after it the same two (moved a little) and a third far away.
    const endings = [end(1, 149, 100, 50), end(2, 149, 300, 60)];
    const beginnings = [end(1_000_001, 150, 305, 62), end(1_000_002, 150, 104, 51), end(1_000_003, 150, 520, 40)];
    expect(linkAcrossBoundary(endings, beginnings, 150)).toEqual([
      [1, 1_000_002],
      [2, 1_000_001],
    ]);
  });

  it('links a face missed for a few frames at the boundary, not one gone for longer or elsewhere', () => {
    const endings = [end(1, 146, 100, 50), end(2, 120, 300, 60)];
    const beginnings = [end(11, 152, 103, 50), end(12, 150, 300, 60), end(13, 150, 100, 250)];
    // Track 1 was last seen 4 frames before and 11 shows up 2 frames after: one face. Track 2 ended 30 frames
    // earlier: whoever is there now is not linked to it by position. 13 is in another place.
    expect(linkAcrossBoundary(endings, beginnings, 150)).toEqual([[1, 11]]);
  });

  it('gives each track at most one link, whatever order the tracks come in', () => {
    // One face before, two overlapping boxes after: the better overlap wins, in either order.
    const endings = [end(1, 149, 100, 100)];
    const after = [end(21, 150, 110, 100), end(22, 150, 102, 100)];
    expect(linkAcrossBoundary(endings, after, 150)).toEqual([[1, 22]]);
    expect(linkAcrossBoundary(endings, [...after].reverse(), 150)).toEqual([[1, 22]]);
  });
});

const track = (id: number, firstFrame: number, lastFrame: number, x: number, extra: Partial<TrackState> = {}) =>
  ({
    id,
    box: box(x, 50),
    velocity: [1, 0, 0, 0],
    lastFrame,
    firstFrame,
    hits: lastFrame - firstFrame + 1,
    areaSum: 10_000 * (lastFrame - firstFrame + 1),
    descriptor: null,
    descriptorCount: 0,
    descriptorFrame: -1,
    ...extra,
  }) satisfies TrackState;

describe("extraction's chunks", () => {
  it('cuts the frames on the stride into consecutive chunks of about half, none under the least', () => {
    expect(chunkRanges(0, 274, 1, 60, 600)).toEqual([
      { start: 0, end: 136 },
      { start: 137, end: 274 },
    ]);
    // Every third frame from 30: chunks start on the stride and end on a frame that is read.
    const strided = chunkRanges(30, 1000, 3, 60, 600);
    expect(strided).toEqual([
      { start: 30, end: 513 },
      { start: 516, end: 999 },
    ]);
    // A long video: chunks of about the most, covering every frame once.
    const long = chunkRanges(0, 17_999, 1, 60, 600);
    expect(long.length).toBe(30);
    long.slice(1).forEach((c, i) => expect(c.start).toBe((long[i] as { end: number }).end + 1));
    expect(long.at(-1)?.end).toBe(17_999);
    // Too few frames for two chunks: one; none to read: none.
    expect(chunkRanges(0, 99, 1, 60, 600)).toEqual([{ start: 0, end: 99 }]);
    expect(chunkRanges(50, 40, 1, 60, 600)).toEqual([]);
  });

  it("merges a chunk's tracks into the tracks before it: a linked track adds up, the others get new ids", () => {
    const stateOf = (tracks: TrackState[], lastSignature: number[]): TrackerState => ({
      nextId: 3,
      tracks,
      cutAt: -1,
      lastSignature,
    });
    const before = stateOf(
      [track(1, 0, 136, 100, { descriptor: [1, 0], descriptorCount: 3, descriptorFrame: 120 }), track(2, 10, 60, 300)],
      [1, 2, 3],
    );
    const part = stateOf(
      [
        track(1, 137, 200, 120, { descriptor: [0, 1], descriptorCount: 1, descriptorFrame: 137 }),
        track(2, 150, 160, 500),
      ],
      [4, 5, 6],
    );
    // The chunk's track 1 continues track 1; its track 2 is someone new.
    const idOf = (id: number): number => (id === 1 ? 1 : 3);
    const merged = mergeTrackerStates(before, part, idOf, null);
    expect(merged.nextId).toBe(4);
    expect(merged.lastSignature).toEqual([4, 5, 6]);
    expect(merged.cutAt).toBe(-1);
    const byId = new Map(merged.tracks.map((t) => [t.id, t]));
    expect([...byId.keys()].sort()).toEqual([1, 2, 3]);
    expect(byId.get(1)).toMatchObject({
      firstFrame: 0,
      lastFrame: 200,
      box: box(120, 50),
      hits: 137 + 64,
      descriptor: [0.75, 0.25],
      descriptorCount: 4,
      descriptorFrame: 137,
    });
    expect(byId.get(2)).toEqual(before.tracks[1]);
    expect(byId.get(3)).toMatchObject({ firstFrame: 150, lastFrame: 160, box: box(500, 50) });
    // The inputs are left as they were (a chunk's state is merged again at every commit).
    expect(before.tracks[0]?.hits).toBe(137);
    // A shot cut at the boundary is kept, so that a resumed pass continues no track across it by overlap.
    expect(mergeTrackerStates(before, part, idOf, 137).cutAt).toBe(137);
  });
});
