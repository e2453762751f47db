/**
 * Brush and eraser for the mask editor: painting into a square 8-bit raster (0 = outside the mask, 255 = inside).
 * A stroke segment stamps a disc at every point between its ends (a capsule) with a feathered rim; the brush raises
 * pixels to the stamp's coverage, the eraser lowers them by it, so overlapping stamps of one stroke never build up.
 */
import { rasterizePolygon } from '../../../../src-shared/math/raster.js';
import type { Point } from '../../../../src-shared/math/geometry.js';
import { distanceToSegment, type Rings } from './polygon.js';

export type BrushMode = 'paint' | 'erase';

export interface BrushOptions {
  /** Disc radius in raster pixels. */
  radius: number;
  /** Width of the soft rim inside the radius, in pixels (0 = hard edge). */
  feather: number;
  mode: BrushMode;
}

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** How much of a stamp covers a pixel whose centre lies `distance` from the stroke: 1 inside, falling to 0 at the radius. */
export function coverage(distance: number, radius: number, feather: number): number {
  if (distance > radius) return 0;
  const rim = Math.min(Math.max(0, feather), radius);
  if (rim === 0 || distance <= radius - rim) return 1;
  return (radius - distance) / rim;
}

/**
 * Paints (or erases) the segment from `from` to `to` into `raster` in place; returns the rectangle of pixels
 * looked at (inclusive), or null when the segment lies wholly outside.
 */
export function paintSegment(
  raster: Uint8Array,
  size: number,
  from: Point,
  to: Point,
  options: BrushOptions,
): Rect | null {
  if (raster.length !== size * size) throw new RangeError(`raster has ${raster.length} bytes, expected ${size * size}`);
  const radius = Math.max(0.5, options.radius);
  const x0 = Math.max(0, Math.floor(Math.min(from[0], to[0]) - radius));
  const y0 = Math.max(0, Math.floor(Math.min(from[1], to[1]) - radius));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(from[0], to[0]) + radius));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(from[1], to[1]) + radius));
  if (x0 > x1 || y0 > y1) return null;
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      const { distance } = distanceToSegment([x + 0.5, y + 0.5], from, to);
      const c = coverage(distance, radius, options.feather);
      if (c <= 0) continue;
      const i = y * size + x;
      const old = raster[i] as number;
      if (options.mode === 'paint') raster[i] = Math.max(old, Math.round(c * 255));
      else raster[i] = Math.min(old, Math.round((1 - c) * 255));
    }
  }
  return { x0, y0, x1, y1 };
}

/** A whole stroke through `points` on a copy of `raster`. */
export function paintStroke(
  raster: Uint8Array,
  size: number,
  points: readonly Point[],
  options: BrushOptions,
): Uint8Array {
  const out = raster.slice();
  points.forEach((p, i) => paintSegment(out, size, i === 0 ? p : (points[i - 1] as Point), p, options));
  return out;
}

/** The rings filled into a fresh raster (even-odd, pixel centres): where painting starts from. */
export function rasterFromRings(rings: Rings, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  for (const ring of rings) rasterizePolygon(ring, size, size, out);
  return out;
}

/**
 * Carries a polygon edit over to a painted raster: pixels the new rings cover and the old did not are added,
 * pixels the old rings covered and the new do not are removed; painting elsewhere stays.
 */
export function applyPolygonChange(raster: Uint8Array, size: number, before: Rings, after: Rings): Uint8Array {
  const was = rasterFromRings(before, size);
  const now = rasterFromRings(after, size);
  const out = raster.slice();
  for (let i = 0; i < out.length; i += 1) {
    if (now[i] === was[i]) continue;
    out[i] = now[i] as number;
  }
  return out;
}

/** Pixels at or above `threshold`. */
export function countAtLeast(raster: Uint8Array, threshold = 128): number {
  let n = 0;
  for (const v of raster) if (v >= threshold) n += 1;
  return n;
}

export function rastersEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** A greyscale raster as RGBA bytes (opaque), for ImageData and a PNG of it. */
export function greyToRgba(raster: Uint8Array): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(raster.length * 4);
  for (let i = 0; i < raster.length; i += 1) {
    const v = raster[i] as number;
    out[i * 4] = v;
    out[i * 4 + 1] = v;
    out[i * 4 + 2] = v;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** RGBA bytes (a decoded PNG) back to one grey channel: the mean of R, G and B, weighted by alpha. */
export function rgbaToGrey(rgba: Uint8ClampedArray | Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let i = 0; i < out.length; i += 1) {
    const sum = (rgba[i * 4] as number) + (rgba[i * 4 + 1] as number) + (rgba[i * 4 + 2] as number);
    out[i] = Math.round(((sum / 3) * (rgba[i * 4 + 3] as number)) / 255);
  }
  return out;
}

/** A tinted overlay of a raster: `rgb` at `alpha` times the mask value, for drawing over the crop. */
export function tintRgba(
  raster: Uint8Array,
  rgb: readonly [number, number, number],
  alpha: number,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(raster.length * 4);
  for (let i = 0; i < raster.length; i += 1) {
    out[i * 4] = rgb[0];
    out[i * 4 + 1] = rgb[1];
    out[i * 4 + 2] = rgb[2];
    out[i * 4 + 3] = Math.round((raster[i] as number) * alpha);
  }
  return out;
}
