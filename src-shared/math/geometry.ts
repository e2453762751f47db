/** Pure 2-D geometry for faces: boxes, similarity transforms, hulls, polygons. No I/O, shared by engine and UI. */

export type Point = [number, number];
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
/** A 2x3 affine matrix [a, b, c; d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Affine = [number, number, number, number, number, number];

export const boxArea = (b: Box): number => Math.max(0, b.width) * Math.max(0, b.height);
export const boxCenter = (b: Box): Point => [b.x + b.width / 2, b.y + b.height / 2];

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** The square of the larger side around the same centre, scaled (the original makes boxes square). */
export function squareBox(b: Box, scale = 1): Box {
  const [cx, cy] = boxCenter(b);
  const side = Math.max(b.width, b.height) * scale;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

export function boxOfPoints(points: readonly Point[]): Box {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of points) {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  }
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

export function applyAffine(m: Affine, [x, y]: Point): Point {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (Math.abs(det) < 1e-12) throw new Error('affine matrix is not invertible');
  const a = m[4] / det;
  const b = -m[1] / det;
  const d = -m[3] / det;
  const e = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

/** The four corners of a size x size patch in frame pixels, for `toPatch` mapping frame -> patch. */
export function patchCorners(toPatch: Affine, size: number): Point[] {
  const back = invertAffine(toPatch);
  return (
    [
      [0, 0],
      [size, 0],
      [0, size],
      [size, size],
    ] as Point[]
  ).map((p) => applyAffine(back, p));
}

/** Compose: first `first`, then `second`. */
export function composeAffine(second: Affine, first: Affine): Affine {
  return [
    second[0] * first[0] + second[1] * first[3],
    second[0] * first[1] + second[1] * first[4],
    second[0] * first[2] + second[1] * first[5] + second[2],
    second[3] * first[0] + second[4] * first[3],
    second[3] * first[1] + second[4] * first[4],
    second[3] * first[2] + second[4] * first[5] + second[5],
  ];
}

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) mapping src onto dst:
 * Umeyama (1991) specialised to 2-D, with reflection excluded.
 */
export function umeyama(src: readonly Point[], dst: readonly Point[]): Affine {
  const n = src.length;
  if (n !== dst.length || n < 2) throw new Error('umeyama needs two equally long point lists of at least 2 points');
  let msx = 0;
  let msy = 0;
  let mdx = 0;
  let mdy = 0;
  for (let i = 0; i < n; i += 1) {
    msx += (src[i] as Point)[0];
    msy += (src[i] as Point)[1];
    mdx += (dst[i] as Point)[0];
    mdy += (dst[i] as Point)[1];
  }
  msx /= n;
  msy /= n;
  mdx /= n;
  mdy /= n;
  // In 2-D the optimal similarity is x' = s R x + t with R from the cross terms:
  // a = sum(dx*sx + dy*sy), b = sum(dy*sx - dx*sy), var = sum(sx^2 + sy^2).
  let a = 0;
  let b = 0;
  let variance = 0;
  for (let i = 0; i < n; i += 1) {
    const sx = (src[i] as Point)[0] - msx;
    const sy = (src[i] as Point)[1] - msy;
    const dx = (dst[i] as Point)[0] - mdx;
    const dy = (dst[i] as Point)[1] - mdy;
    a += dx * sx + dy * sy;
    b += dy * sx - dx * sy;
    variance += sx * sx + sy * sy;
  }
  if (variance < 1e-12) throw new Error('umeyama: source points are degenerate');
  const c = a / variance; // s cos(theta)
  const s = b / variance; // s sin(theta)
  return [c, -s, mdx - (c * msx - s * msy), s, c, mdy - (s * msx + c * msy)];
}

export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/** Convex hull by Andrew's monotone chain, counter-clockwise in image coordinates' math sense. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  if (sorted.length <= 2) return sorted;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2] as Point, lower[lower.length - 1] as Point, p) <= 0)
      lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = sorted.length - 1; i >= 0; i -= 1) {
    const p = sorted[i] as Point;
    while (upper.length >= 2 && cross(upper[upper.length - 2] as Point, upper[upper.length - 1] as Point, p) <= 0)
      upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return [...lower, ...upper];
}

export function polygonArea(polygon: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < polygon.length; i += 1) {
    const [x1, y1] = polygon[i] as Point;
    const [x2, y2] = polygon[(i + 1) % polygon.length] as Point;
    sum += x1 * y2 - x2 * y1;
  }
  return Math.abs(sum) / 2;
}

export function pointInPolygon([x, y]: Point, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i] as Point;
    const [xj, yj] = polygon[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function mean(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
}
