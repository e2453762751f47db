/**
 * Pure measures of a converted frame against its source: the lightness of the swapped region, the colour step
 * at the mask's border, and how far the face's landmarks moved. The mask is in patch pixels, reached from frame
 * pixels by `toPatch`, and sampled bilinearly as the blend samples it.
 */
import { patchCorners, type Affine, type Point } from './geometry.js';
import { newTaps, patchTaps, type BilinearTaps } from './raster.js';

const TAPS = newTaps();

/** The mask's bilinear value at `taps`. */
function bilinear(mask: Float32Array, { p00, p01, p10, p11, fx, fy }: BilinearTaps): number {
  return (
    (1 - fx) * (1 - fy) * (mask[p00] as number) +
    fx * (1 - fy) * (mask[p01] as number) +
    (1 - fx) * fy * (mask[p10] as number) +
    fx * fy * (mask[p11] as number)
  );
}

/** The mask's value at a frame pixel (0 outside the patch). */
export function maskAt(mask: Float32Array, size: number, toPatch: Affine, x: number, y: number): number {
  const u = toPatch[0] * x + toPatch[1] * y + toPatch[2];
  const v = toPatch[3] * x + toPatch[4] * y + toPatch[5];
  return patchTaps(u, v, size, TAPS) ? bilinear(mask, TAPS) : 0;
}

/**
 * maskAt() over a box of the frame (x0, y0, bw x bh), row by row into one array: the export check and the lightness
 * measure sample every pixel of a face's box.
 */
export function sampleMask(
  mask: Float32Array,
  size: number,
  toPatch: Affine,
  x0: number,
  y0: number,
  bw: number,
  bh: number,
): Float32Array {
  const out = new Float32Array(Math.max(0, bw) * Math.max(0, bh));
  const [a, b, c, d, e, f] = toPatch;
  const taps = newTaps();
  for (let j = 0; j < bh; j += 1) {
    const y = y0 + j;
    for (let i = 0; i < bw; i += 1) {
      const x = x0 + i;
      if (patchTaps(a * x + b * y + c, d * x + e * y + f, size, taps)) out[j * bw + i] = bilinear(mask, taps);
    }
  }
  return out;
}

/** The frame box (inclusive ends) a size x size patch covers through `toPatch`, clipped to the frame; null: none. */
export function patchBox(
  toPatch: Affine,
  size: number,
  width: number,
  height: number,
  margin = 0,
): { x0: number; y0: number; x1: number; y1: number } | null {
  const corners = patchCorners(toPatch, size);
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))) - margin);
  const x1 = Math.min(width - 1, Math.ceil(Math.max(...corners.map((p) => p[0]))) + margin);
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))) - margin);
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...corners.map((p) => p[1]))) + margin);
  return x1 < x0 || y1 < y0 ? null : { x0, y0, x1, y1 };
}

const lin = (v: number): number => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
};
const labF = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
/** lin() of every byte value: the same numbers, without a power per pixel. */
const LINEAR = Float64Array.from({ length: 256 }, (_, v) => lin(v));

/** sRGB bytes -> CIELAB (D65). */
export function rgbToLab(r: number, g: number, b: number): [number, number, number] {
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const x = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  return [116 * labF(y) - 16, 500 * (labF(x) - labF(y)), 200 * (labF(y) - labF(z))];
}

/** CIELAB L* of sRGB bytes: rgbToLab(r, g, b)[0], computed the same way from a table. */
export function lightnessOfBytes(r: number, g: number, b: number): number {
  const y = 0.2126 * (LINEAR[r] as number) + 0.7152 * (LINEAR[g] as number) + 0.0722 * (LINEAR[b] as number);
  return 116 * labF(y) - 16;
}

/**
 * Mean CIELAB lightness (L*) of the source and of the result over the region where the swap may change the frame
 * (region >= 0.5): a conversion that darkens or lightens the face shows as their difference. Null when the region
 * covers no frame pixel.
 */
export function regionLightness(
  source: Uint8Array,
  result: Uint8Array,
  width: number,
  height: number,
  region: Float32Array,
  size: number,
  toPatch: Affine,
): { source: number; result: number; pixels: number } | null {
  const box = patchBox(toPatch, size, width, height);
  if (!box) return null;
  const bw = box.x1 - box.x0 + 1;
  const sampled = sampleMask(region, size, toPatch, box.x0, box.y0, bw, box.y1 - box.y0 + 1);
  let a = 0;
  let b = 0;
  let n = 0;
  for (let y = box.y0; y <= box.y1; y += 1)
    for (let x = box.x0; x <= box.x1; x += 1) {
      if ((sampled[(y - box.y0) * bw + (x - box.x0)] as number) < 0.5) continue;
      const o = (y * width + x) * 3;
      a += lightnessOfBytes(source[o] as number, source[o + 1] as number, source[o + 2] as number);
      b += lightnessOfBytes(result[o] as number, result[o + 1] as number, result[o + 2] as number);
      n += 1;
    }
  return n === 0 ? null : { source: a / n, result: b / n, pixels: n };
}

/**
 * The colour step a viewer sees at the mask's edge: the CIELAB distance (Delta E 1976) between the result's mean
 * colour and the source's mean colour over the mask's outer feather (from 5 % to 50 % of the mask's peak, so a
 * model whose attention mask is still faint is measured too). Near 0 for a seamless, colour-corrected blend; null
 * when nothing was blended in the frame.
 */
export function borderColourDifference(
  source: Uint8Array,
  result: Uint8Array,
  width: number,
  height: number,
  mask: Float32Array,
  size: number,
  toPatch: Affine,
): number | null {
  let peak = 0;
  for (const v of mask) peak = Math.max(peak, v);
  if (peak < 0.02) return null;
  const before = [0, 0, 0];
  const after = [0, 0, 0];
  let n = 0;
  // Outside the patch's box the mask is 0, below the feather's lower bound.
  const box = patchBox(toPatch, size, width, height);
  if (!box) return null;
  const bw = box.x1 - box.x0 + 1;
  const sampled = sampleMask(mask, size, toPatch, box.x0, box.y0, bw, box.y1 - box.y0 + 1);
  for (let y = box.y0; y <= box.y1; y += 1)
    for (let x = box.x0; x <= box.x1; x += 1) {
      const m = sampled[(y - box.y0) * bw + (x - box.x0)] as number;
      if (m < 0.05 * peak || m >= 0.5 * peak) continue;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c += 1) {
        before[c] = (before[c] as number) + (source[o + c] as number);
        after[c] = (after[c] as number) + (result[o + c] as number);
      }
      n += 1;
    }
  if (n === 0) return null;
  const a = rgbToLab((before[0] as number) / n, (before[1] as number) / n, (before[2] as number) / n);
  const b = rgbToLab((after[0] as number) / n, (after[1] as number) / n, (after[2] as number) / n);
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * Landmark disagreement of two 68-point sets, normalised by the inter-ocular distance of the first (outer eye
 * corners 36 and 45): the usual NME. 0.05 is a near-perfect match; above ~0.1 expression or pose has moved.
 */
export function landmarkError(reference: readonly Point[], other: readonly Point[]): number {
  const left = reference[36] as Point;
  const right = reference[45] as Point;
  const iod = Math.hypot(right[0] - left[0], right[1] - left[1]) || 1;
  let sum = 0;
  for (let i = 0; i < reference.length; i += 1) {
    const a = reference[i] as Point;
    const b = other[i] as Point;
    sum += Math.hypot(a[0] - b[0], a[1] - b[1]);
  }
  return sum / reference.length / iod;
}
