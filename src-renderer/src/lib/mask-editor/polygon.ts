/**
 * Polygon editing for the mask editor: pure functions over rings of points in the aligned crop's pixels.
 * A part is one or more rings (the eyes and eyebrows have two); every function returns new arrays.
 */
import type { Point } from '../../../../src-shared/math/geometry.js';

export type { Point };
export type Rings = readonly (readonly Point[])[];

/** The fewest vertices a ring may have. */
export const MIN_RING = 3;

export interface VertexHit {
  ring: number;
  index: number;
  distance: number;
}

export interface EdgeHit {
  ring: number;
  /** The edge from vertex `edge` to vertex `edge + 1` (wrapping); a vertex inserted here gets index `edge + 1`. */
  edge: number;
  /** The nearest point on the edge. */
  point: Point;
  /** Where on the edge, 0 at its first vertex, 1 at its second. */
  t: number;
  distance: number;
}

export function clampPoint([x, y]: Point, size: number): Point {
  return [Math.min(size, Math.max(0, x)), Math.min(size, Math.max(0, y))];
}

function copy(rings: Rings): Point[][] {
  return rings.map((ring) => ring.map(([x, y]) => [x, y] as Point));
}

function ringAt(rings: Rings, ring: number): readonly Point[] {
  const found = rings[ring];
  if (!found) throw new RangeError(`no ring ${ring} (there are ${rings.length})`);
  return found;
}

function vertexAt(ring: readonly Point[], index: number): Point {
  const found = ring[index];
  if (!found) throw new RangeError(`no vertex ${index} (the ring has ${ring.length})`);
  return found;
}

/** Moves one vertex to `to` (clamped into the crop when `size` is given). */
export function moveVertex(rings: Rings, ring: number, index: number, to: Point, size?: number): Point[][] {
  vertexAt(ringAt(rings, ring), index);
  const out = copy(rings);
  (out[ring] as Point[])[index] = size === undefined ? [to[0], to[1]] : clampPoint(to, size);
  return out;
}

/** Inserts a vertex on edge `edge` (between vertex `edge` and the next one): it becomes vertex `edge + 1`. */
export function insertVertex(rings: Rings, ring: number, edge: number, at: Point): Point[][] {
  const target = ringAt(rings, ring);
  vertexAt(target, edge);
  const out = copy(rings);
  (out[ring] as Point[]).splice(edge + 1, 0, [at[0], at[1]]);
  return out;
}

/** Removes a vertex; null when that would leave the ring with fewer than three. */
export function deleteVertex(rings: Rings, ring: number, index: number): Point[][] | null {
  const target = ringAt(rings, ring);
  vertexAt(target, index);
  if (target.length <= MIN_RING) return null;
  const out = copy(rings);
  (out[ring] as Point[]).splice(index, 1);
  return out;
}

/** Moves every vertex of every ring by (dx, dy). */
export function translateRings(rings: Rings, dx: number, dy: number): Point[][] {
  return rings.map((ring) => ring.map(([x, y]) => [x + dx, y + dy] as Point));
}

export function distanceToSegment(p: Point, a: Point, b: Point): { distance: number; t: number; point: Point } {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  let t = length2 === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2;
  t = Math.max(0, Math.min(1, t));
  const point: Point = [a[0] + t * dx, a[1] + t * dy];
  return { distance: Math.hypot(p[0] - point[0], p[1] - point[1]), t, point };
}

/** The vertex nearest to `p` within `tolerance`, or null. */
export function hitVertex(rings: Rings, p: Point, tolerance: number): VertexHit | null {
  let best: VertexHit | null = null;
  rings.forEach((ring, r) =>
    ring.forEach(([x, y], index) => {
      const distance = Math.hypot(p[0] - x, p[1] - y);
      if (distance <= tolerance && (best === null || distance < best.distance)) best = { ring: r, index, distance };
    }),
  );
  return best;
}

/** The edge nearest to `p` within `tolerance`, or null. */
export function hitEdge(rings: Rings, p: Point, tolerance: number): EdgeHit | null {
  let best: EdgeHit | null = null;
  rings.forEach((ring, r) => {
    for (let i = 0; i < ring.length; i += 1) {
      const hit = distanceToSegment(p, ring[i] as Point, ring[(i + 1) % ring.length] as Point);
      if (hit.distance <= tolerance && (best === null || hit.distance < best.distance))
        best = { ring: r, edge: i, point: hit.point, t: hit.t, distance: hit.distance };
    }
  });
  return best;
}

export function ringsEqual(a: Rings | null, b: Rings | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  return a.every((ring, r) => {
    const other = b[r] as readonly Point[];
    return ring.length === other.length && ring.every(([x, y], i) => x === other[i]?.[0] && y === other[i]?.[1]);
  });
}

/** Rounds coordinates (to hundredths by default) so saved polygons stay small and compare exactly after a reload. */
export function roundRings(rings: Rings, decimals = 2): Point[][] {
  const f = 10 ** decimals;
  return rings.map((ring) => ring.map(([x, y]) => [Math.round(x * f) / f, Math.round(y * f) / f] as Point));
}

const same = (a: Point | undefined, b: Point | undefined): boolean =>
  a !== undefined && b !== undefined && a[0] === b[0] && a[1] === b[1];

/** The x of a bridge's vertical leg: a quarter past a whole pixel, so it never falls on a pixel centre. */
const bridgeX = (x: number): number => Math.floor(x) + 0.25;

/**
 * One polygon for several rings, as masks.saveEdit stores one polygon per part. After the first ring the path
 * returns to its first vertex, then bridges to the next ring's first vertex and back along the same way:
 * horizontally, vertically at a quarter-pixel x, horizontally. Each bridge is walked twice in opposite directions,
 * so an even-odd fill (rasterizePolygon, pointInPolygon) and a non-zero fill cover exactly the rings: horizontal legs
 * cross no scanline and the vertical leg's two crossings coincide off every pixel centre. A single ring is stored
 * as it is.
 */
export function encodeRings(rings: Rings): Point[] {
  const usable = rings.filter((ring) => ring.length >= MIN_RING);
  const first = usable[0];
  if (!first) return [];
  const out: Point[] = first.map(([x, y]) => [x, y] as Point);
  const start = first[0] as Point;
  const x = bridgeX(start[0]);
  usable.slice(1).forEach((ring) => {
    const ringStart = ring[0] as Point;
    // Back at the first ring's start (closing it, or returning over the previous bridge), then out along the bridge.
    out.push([start[0], start[1]], [x, start[1]], [x, ringStart[1]]);
    for (const [px, py] of ring) out.push([px, py]);
    out.push([ringStart[0], ringStart[1]], [x, ringStart[1]], [x, start[1]]);
  });
  // The last bridge ends where the path closes back to the first vertex by itself.
  return out;
}

/** The inverse of encodeRings; a polygon that is not such an encoding comes back as one ring. */
export function decodeRings(polygon: readonly Point[]): Point[][] {
  const whole = [polygon.map(([x, y]) => [x, y] as Point)];
  const start = polygon[0];
  if (!start) return [];
  const firstEnd = polygon.findIndex((p, i) => i > 0 && same(p, start));
  if (firstEnd < 0) return whole;
  const rings: Point[][] = [polygon.slice(0, firstEnd).map(([x, y]) => [x, y] as Point)];
  const x = bridgeX(start[0]);
  let i = firstEnd;
  while (i < polygon.length) {
    // At the first ring's start: the bridge out, the ring, the bridge back.
    const ringStart = polygon[i + 3];
    if (!same(polygon[i], start) || !same(polygon[i + 1], [x, start[1]]) || !ringStart) return whole;
    if (!same(polygon[i + 2], [x, ringStart[1]])) return whole;
    const end = polygon.findIndex((p, j) => j > i + 3 && same(p, ringStart));
    if (end < 0) return whole;
    rings.push(polygon.slice(i + 3, end).map(([px, py]) => [px, py] as Point));
    if (!same(polygon[end + 1], [x, ringStart[1]]) || !same(polygon[end + 2], [x, start[1]])) return whole;
    i = end + 3;
  }
  return rings.every((ring) => ring.length >= MIN_RING) ? rings : whole;
}
