import { describe, expect, it } from 'vitest';
import type { Point } from '../../src-shared/math/geometry.js';
import { pointInPolygon } from '../../src-shared/math/geometry.js';
import { rasterizePolygon } from '../../src-shared/math/raster.js';
import {
  applyPolygonChange,
  countAtLeast,
  coverage,
  greyToRgba,
  paintSegment,
  paintStroke,
  rasterFromRings,
  rgbaToGrey,
} from '../../src-renderer/src/lib/mask-editor/brush.js';
import { canRedo, canUndo, createHistory, push, redo, undo } from '../../src-renderer/src/lib/mask-editor/history.js';
import {
  AUTOMATIC,
  automaticMasks,
  changedPart,
  dirtyParts,
  generatedRings,
  masksFromEdits,
  paintBase,
  parseCount,
  planPropagation,
  ringsOf,
  saveRequest,
  setRaster,
  setRings,
  type Generated,
} from '../../src-renderer/src/lib/mask-editor/model.js';
import {
  decodeRings,
  deleteVertex,
  encodeRings,
  hitEdge,
  hitVertex,
  insertVertex,
  moveVertex,
} from '../../src-renderer/src/lib/mask-editor/polygon.js';

const SIZE = 256;
const square = (x: number, y: number, side: number): Point[] => [
  [x, y],
  [x + side, y],
  [x + side, y + side],
  [x, y + side],
];

/** Lattice points (i, j) with i² + j² <= r²: the pixels a hard disc centred on a pixel centre covers. */
function latticeDisc(r: number): number {
  let n = 0;
  for (let i = -r; i <= r; i += 1) for (let j = -r; j <= r; j += 1) if (i * i + j * j <= r * r) n += 1;
  return n;
}

describe('polygon editing', () => {
  const rings = [square(10, 10, 100)];

  it('moves one vertex and leaves the input alone', () => {
    const moved = moveVertex(rings, 0, 2, [150, 130]);
    expect(moved[0]).toEqual([
      [10, 10],
      [110, 10],
      [150, 130],
      [10, 110],
    ]);
    expect(rings[0]?.[2]).toEqual([110, 110]);
  });

  it('clamps a moved vertex into the crop', () => {
    expect(moveVertex(rings, 0, 0, [-20, 300], SIZE)[0]?.[0]).toEqual([0, 256]);
  });

  it('inserts a vertex after the edge start and deletes it again', () => {
    const inserted = insertVertex(rings, 0, 1, [120, 60]);
    expect(inserted[0]).toHaveLength(5);
    expect(inserted[0]?.[2]).toEqual([120, 60]);
    expect(inserted[0]?.[3]).toEqual([110, 110]);
    const removed = deleteVertex(inserted, 0, 2);
    expect(removed).toEqual(rings);
  });

  it('refuses to delete below three vertices', () => {
    const triangle = [
      [
        [0, 0],
        [10, 0],
        [0, 10],
      ] as Point[],
    ];
    expect(deleteVertex(triangle, 0, 1)).toBeNull();
    expect(deleteVertex(rings, 0, 1)?.[0]).toHaveLength(3);
  });

  it('hits the nearest vertex within the tolerance only', () => {
    const two = [square(10, 10, 100), square(105, 105, 40)];
    // (110, 110) of the first square and (105, 105) of the second are both near (108, 108).
    expect(hitVertex(two, [108, 108], 6)).toMatchObject({ ring: 0, index: 2 });
    expect(hitVertex(two, [106, 106], 6)).toMatchObject({ ring: 1, index: 0 });
    expect(hitVertex(two, [60, 60], 6)).toBeNull();
    expect(hitVertex(rings, [14, 10], 3)).toBeNull();
    expect(hitVertex(rings, [13, 10], 3)?.distance).toBeCloseTo(3, 10);
  });

  it('hits an edge with its projection, including the closing edge', () => {
    const top = hitEdge(rings, [60, 13], 4);
    expect(top).toMatchObject({ ring: 0, edge: 0 });
    expect(top?.point).toEqual([60, 10]);
    expect(top?.t).toBeCloseTo(0.5, 10);
    const closing = hitEdge(rings, [8, 40], 4);
    expect(closing).toMatchObject({ ring: 0, edge: 3 });
    expect(closing?.point[0]).toBeCloseTo(10, 10);
    expect(closing?.point[1]).toBeCloseTo(40, 10);
    expect(hitEdge(rings, [60, 60], 4)).toBeNull();
  });

  it('encodes several rings as one polygon that fills exactly the rings', () => {
    const three = [square(20, 20, 40), square(150, 30, 50), square(60, 150, 30)];
    const polygon = encodeRings(three);
    expect(decodeRings(polygon)).toEqual(three);
    const joined = rasterizePolygon(polygon, SIZE, SIZE);
    const apart = new Uint8Array(SIZE * SIZE);
    for (const ring of three) rasterizePolygon(ring, SIZE, SIZE, apart);
    expect(countAtLeast(joined)).toBe(40 * 40 + 50 * 50 + 30 * 30);
    expect(Array.from(joined)).toEqual(Array.from(apart));
    // Nothing between the rings (on the bridges) is inside.
    expect(pointInPolygon([100, 35], polygon)).toBe(false);
    expect(pointInPolygon([40, 40], polygon)).toBe(true);
  });

  it('leaves no stray pixels on the bridges, even from half-pixel vertices', () => {
    // Vertices on pixel centres are where a diagonal bridge would light up single pixels.
    const ring = (x: number, y: number): Point[] => [
      [x, y],
      [x + 20.5, y + 3.5],
      [x + 24.5, y + 18.5],
      [x + 2.5, y + 21.5],
    ];
    const rings = [ring(30.5, 40.5), ring(120.5, 90.5), ring(200.5, 20.5)];
    const apart = new Uint8Array(SIZE * SIZE);
    for (const r of rings) rasterizePolygon(r, SIZE, SIZE, apart);
    const joined = rasterizePolygon(encodeRings(rings), SIZE, SIZE);
    expect(countAtLeast(apart)).toBeGreaterThan(3 * 300);
    expect(Array.from(joined)).toEqual(Array.from(apart));
    expect(decodeRings(encodeRings(rings))).toEqual(rings);
  });

  it('keeps one ring as it is and reads a foreign polygon as one ring', () => {
    expect(encodeRings(rings)).toEqual(rings[0]);
    expect(decodeRings(rings[0] as Point[])).toEqual(rings);
    const odd: Point[] = [
      [0, 0],
      [10, 0],
      [0, 0],
      [5, 5],
    ];
    expect(decodeRings(odd)).toEqual([odd]);
  });
});

describe('brush and eraser', () => {
  it('stamps a hard disc of the expected pixel count', () => {
    const raster = new Uint8Array(SIZE * SIZE);
    paintSegment(raster, SIZE, [128.5, 128.5], [128.5, 128.5], { radius: 10, feather: 0, mode: 'paint' });
    expect(countAtLeast(raster, 1)).toBe(latticeDisc(10));
    expect(latticeDisc(10)).toBe(317);
    expect(raster[128 * SIZE + 128]).toBe(255);
    expect(raster[128 * SIZE + 139]).toBe(0);
  });

  it('covers a segment as a capsule', () => {
    const raster = new Uint8Array(SIZE * SIZE);
    paintSegment(raster, SIZE, [50.5, 50.5], [150.5, 50.5], { radius: 5, feather: 0, mode: 'paint' });
    // 101 columns x 11 rows along the segment, plus the two outer halves of an r=5 disc (81 pixels, 11 in its middle column).
    expect(countAtLeast(raster, 1)).toBe(101 * 11 + (latticeDisc(5) - 11));
  });

  it('feathers the rim: solid core, softer towards the radius', () => {
    const raster = new Uint8Array(SIZE * SIZE);
    paintSegment(raster, SIZE, [100.5, 100.5], [100.5, 100.5], { radius: 12, feather: 6, mode: 'paint' });
    expect(countAtLeast(raster, 255)).toBe(latticeDisc(6));
    expect(countAtLeast(raster, 1)).toBeGreaterThan(latticeDisc(6));
    expect(countAtLeast(raster, 1)).toBeLessThanOrEqual(latticeDisc(12));
    const row = Array.from({ length: 13 }, (_, dx) => raster[100 * SIZE + 100 + dx] as number);
    for (let i = 1; i < row.length; i += 1) expect(row[i]).toBeLessThanOrEqual(row[i - 1] as number);
    expect(row[9]).toBe(Math.round(coverage(9, 12, 6) * 255));
    expect(row[9]).toBe(128);
  });

  it('does not build up where stamps of a stroke overlap', () => {
    const options = { radius: 8, feather: 4, mode: 'paint' as const };
    const once = paintStroke(new Uint8Array(SIZE * SIZE), SIZE, [[60, 60]], options);
    const thrice = paintStroke(
      new Uint8Array(SIZE * SIZE),
      SIZE,
      [
        [60, 60],
        [60, 60],
        [60, 60],
      ],
      options,
    );
    expect(Array.from(thrice)).toEqual(Array.from(once));
  });

  it('erases a hole and leaves the rest', () => {
    const full = new Uint8Array(SIZE * SIZE).fill(255);
    const erased = paintStroke(full, SIZE, [[30.5, 30.5]], { radius: 10, feather: 0, mode: 'erase' });
    expect(full.every((v) => v === 255)).toBe(true);
    expect(countAtLeast(erased, 255)).toBe(SIZE * SIZE - latticeDisc(10));
    expect(erased[30 * SIZE + 30]).toBe(0);
  });

  it('clips strokes at the raster edge', () => {
    const raster = new Uint8Array(SIZE * SIZE);
    const rect = paintSegment(raster, SIZE, [0.5, 0.5], [0.5, 0.5], { radius: 10, feather: 0, mode: 'paint' });
    expect(rect).toEqual({ x0: 0, y0: 0, x1: 11, y1: 11 });
    // One quarter of the disc plus the half axes: (317 - 1 - 4*10) / 4 + 10 + 10 + 1.
    expect(countAtLeast(raster, 1)).toBe((latticeDisc(10) - 1 - 40) / 4 + 21);
    expect(paintSegment(raster, SIZE, [-50, -50], [-40, -40], { radius: 5, feather: 0, mode: 'paint' })).toBeNull();
  });

  it('carries a polygon edit over to the painted raster', () => {
    const before = [square(50, 50, 100)];
    const painted = rasterFromRings(before, SIZE);
    expect(countAtLeast(painted)).toBe(100 * 100);
    paintSegment(painted, SIZE, [200.5, 200.5], [200.5, 200.5], { radius: 5, feather: 0, mode: 'paint' });
    const after = [square(50, 50, 120)];
    const moved = applyPolygonChange(painted, SIZE, before, after);
    expect(countAtLeast(moved)).toBe(120 * 120 + latticeDisc(5));
    const shrunk = applyPolygonChange(painted, SIZE, before, [square(50, 50, 50)]);
    expect(countAtLeast(shrunk)).toBe(50 * 50 + latticeDisc(5));
  });

  it('converts between grey and RGBA', () => {
    const grey = Uint8Array.from([0, 17, 128, 255]);
    const rgba = greyToRgba(grey);
    expect(Array.from(rgba.slice(4, 8))).toEqual([17, 17, 17, 255]);
    expect(Array.from(rgbaToGrey(rgba))).toEqual([0, 17, 128, 255]);
  });
});

describe('undo and redo', () => {
  it('walks back and forth in order', () => {
    let h = createHistory('a');
    h = push(h, 'b');
    h = push(h, 'c');
    expect(h.present).toBe('c');
    h = undo(h);
    expect(h.present).toBe('b');
    h = undo(h);
    expect(h.present).toBe('a');
    expect(canUndo(h)).toBe(false);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe('b');
    h = redo(h);
    expect(h.present).toBe('c');
    expect(canRedo(h)).toBe(false);
  });

  it('drops the redo side on a new edit and ignores pushing the present', () => {
    let h = push(push(createHistory(1), 2), 3);
    h = undo(h);
    expect(canRedo(h)).toBe(true);
    h = push(h, 4);
    expect(canRedo(h)).toBe(false);
    expect(h.past).toEqual([1, 2]);
    expect(push(h, 4)).toBe(h);
  });

  it('keeps at most `limit` past states', () => {
    let h = createHistory(0, 3);
    for (let i = 1; i <= 6; i += 1) h = push(h, i);
    expect(h.past).toEqual([3, 4, 5]);
    h = undo(undo(undo(h)));
    expect(h.present).toBe(3);
    expect(canUndo(h)).toBe(false);
    expect(() => createHistory(0, 0)).toThrow(RangeError);
  });
});

describe('editor model', () => {
  const generated: Generated = {
    eyes: square(60, 90, 30),
    'eyes.1': square(160, 90, 30),
    nose: square(115, 110, 25),
  };

  it('reads both rings of a paired part', () => {
    expect(generatedRings(generated, 'eyes')).toEqual([square(60, 90, 30), square(160, 90, 30)]);
    expect(generatedRings(generated, 'mouth')).toEqual([]);
  });

  it('edits a ring, marks the part dirty and saves both eye rings in one polygon', () => {
    const saved = automaticMasks();
    const rings = moveVertex(ringsOf(saved, generated, 'eyes'), 0, 0, [55, 85]);
    const current = setRings(saved, generated, 'eyes', rings);
    expect(current.nose).toBe(AUTOMATIC);
    expect(dirtyParts(current, saved)).toEqual(['eyes']);
    expect(changedPart(saved, current)).toBe('eyes');
    const request = saveRequest('/p', 7, 'eyes', current.eyes);
    expect(request?.needsRaster).toBe(false);
    expect(request?.params.rasterPng).toBeNull();
    expect(decodeRings(request?.params.polygon ?? [])).toEqual(rings);
    expect(saveRequest('/p', 7, 'nose', current.nose)).toBeNull();
    // Setting the same rings again is no change at all.
    expect(setRings(current, generated, 'eyes', rings)).toBe(current);
  });

  it('paints from the filled rings and keeps the painting through a polygon edit', () => {
    const start = automaticMasks();
    const base = paintBase(start, generated, 'nose');
    expect(countAtLeast(base)).toBe(25 * 25);
    paintSegment(base, SIZE, [20.5, 20.5], [20.5, 20.5], { radius: 3, feather: 0, mode: 'paint' });
    const painted = setRaster(start, 'nose', base);
    expect(painted.nose.rings).toBeNull();
    const grown = setRings(painted, generated, 'nose', [square(115, 110, 35)]);
    expect(countAtLeast(grown.nose.raster as Uint8Array)).toBe(35 * 35 + latticeDisc(3));
    expect(saveRequest('/p', 1, 'nose', grown.nose)?.needsRaster).toBe(true);
  });

  it('restores saved edits from masks.get', () => {
    const polygon = encodeRings([square(1, 1, 10), square(40, 1, 10)]);
    const masks = masksFromEdits([{ part: 'eyes', polygon }]);
    expect(masks.eyes.rings).toEqual([square(1, 1, 10), square(40, 1, 10)]);
    expect(masks.mouth).toBe(AUTOMATIC);
    expect(dirtyParts(masks, masksFromEdits([{ part: 'eyes', polygon }]))).toEqual([]);
  });

  it('plans "copy to next frames": count checked, unsaved edits saved first', () => {
    const saved = automaticMasks();
    const edited = setRings(saved, generated, 'nose', [square(100, 100, 20)]);
    const base = { dir: '/p', faceId: 3, part: 'nose' as const, current: edited, saved };
    expect(planPropagation({ ...base, count: '25' })).toEqual({
      ok: true,
      saveFirst: true,
      params: { dir: '/p', faceId: 3, part: 'nose', count: 25 },
    });
    expect(planPropagation({ ...base, count: 5, saved: edited })).toMatchObject({ ok: true, saveFirst: false });
    expect(planPropagation({ ...base, count: '0' }).ok).toBe(false);
    expect(planPropagation({ ...base, count: '2.5' }).ok).toBe(false);
    expect(planPropagation({ ...base, count: '10', part: 'mouth' })).toMatchObject({ ok: false });
    expect(parseCount(' 10000 ')).toBe(10000);
    expect(parseCount('10001')).toBeNull();
  });
});
