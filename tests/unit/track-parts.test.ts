import { describe, expect, it } from 'vitest';
import { linkAcrossBoundary, splitRange, type TrackEnd } from '../../src-main/engine/track/parts.js';

const box = (x: number, y: number, side = 100) => ({ x, y, width: side, height: side });
const end = (id: number, frame: number, x: number, y: number, side = 100): TrackEnd => ({
  id,
  frame,
  box: box(x, y, side),
});

describe('tracking a clip in parts', () => {
  it('splits a range into consecutive parts that cover it once, and keeps a short clip whole', () => {
    const parts = splitRange({ start: 10, end: 284 }, 2, 60);
    expect(parts).toEqual([
      { start: 10, end: 146 },
      { start: 147, end: 284 },
    ]);
    expect(splitRange({ start: 0, end: 99 }, 2, 60)).toEqual([{ start: 0, end: 99 }]);
    const many = splitRange({ start: 0, end: 999 }, 3, 60);
    expect(many.map((p) => p.end - p.start + 1).reduce((a, b) => a + b, 0)).toBe(1000);
    many.slice(1).forEach((p, i) => expect(p.start).toBe((many[i] as { end: number }).end + 1));
  });

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
