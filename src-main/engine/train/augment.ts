/** Data augmentation of faceswap-GAN, pure: random_transform, random_warp (Umeyama target), colour match. */
import { composeAffine, umeyama, type Affine, type Point } from '../../../src-shared/math/geometry.js';
import { warpAffine } from '../../../src-shared/math/raster.js';
import type { Rng } from './rng.js';

export const FACE_SIZE = 256;

export interface Sample {
  /** 256x256 RGB, packed. */
  rgb: Uint8Array;
  /** 256x256 eye mask, 0..255. */
  eyes: Uint8Array;
}

/** Rotation +-10 deg, zoom +-0.1, shift +-5%, horizontal flip p=0.5, borders replicated; image and mask alike. */
export function randomTransform(sample: Sample, rng: Rng, size = FACE_SIZE): Sample {
  const angle = (rng.uniform(-10, 10) * Math.PI) / 180;
  const scale = rng.uniform(0.9, 1.1);
  const tx = rng.uniform(-0.05, 0.05) * size;
  const ty = rng.uniform(-0.05, 0.05) * size;
  const flip = rng.next() < 0.5;
  const c = size / 2;
  const cos = Math.cos(angle) * scale;
  const sin = Math.sin(angle) * scale;
  // About the centre: rotate/scale, then shift; a flip mirrors x first.
  let m: Affine = [cos, -sin, c - cos * c + sin * c + tx, sin, cos, c - sin * c - cos * c + ty];
  if (flip) m = composeAffine(m, [-1, 0, size - 1, 0, 1, 0]);
  return {
    rgb: warpAffine(sample.rgb, size, size, 3, m, size, size),
    eyes: warpAffine(sample.eyes, size, size, 1, m, size, size),
  };
}

/** Per-channel mean/std of the centre region (the face, not the background). */
function centreStats(rgb: Float32Array, size: number): { mean: number[]; std: number[] } {
  const from = Math.floor(size * 0.25);
  const to = Math.floor(size * 0.75);
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let y = from; y < to; y += 1)
    for (let x = from; x < to; x += 1)
      for (let ch = 0; ch < 3; ch += 1) {
        const v = rgb[(y * size + x) * 3 + ch] as number;
        mean[ch] = (mean[ch] as number) + v;
        sq[ch] = (sq[ch] as number) + v * v;
        if (ch === 0) n += 1;
      }
  const m = mean.map((s) => s / n);
  return { mean: m, std: sq.map((s, ch) => Math.sqrt(Math.max(1e-6, s / n - (m[ch] as number) ** 2))) };
}

const RGB_TO_XYZ = [0.4124, 0.3576, 0.1805, 0.2126, 0.7152, 0.0722, 0.0193, 0.1192, 0.9505];
const XYZ_TO_RGB = [3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.204, 1.057];

function mat3(rgb: Float32Array, m: number[]): Float32Array {
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i] as number;
    const g = rgb[i + 1] as number;
    const b = rgb[i + 2] as number;
    out[i] = (m[0] as number) * r + (m[1] as number) * g + (m[2] as number) * b;
    out[i + 1] = (m[3] as number) * r + (m[4] as number) * g + (m[5] as number) * b;
    out[i + 2] = (m[6] as number) * r + (m[7] as number) * g + (m[8] as number) * b;
  }
  return out;
}

/**
 * Random colour match: move this face's colour statistics towards another face's (mean/std transfer on the
 * centre region), half the time in XYZ, by a random ratio.
 */
export function colourMatch(rgb: Uint8Array, reference: Uint8Array, rng: Rng, size = FACE_SIZE): Uint8Array {
  const xyz = rng.next() < 0.5;
  const ratio = rng.uniform(0, 1);
  const toF = (u: Uint8Array): Float32Array => Float32Array.from(u, (v) => v / 255);
  const src = xyz ? mat3(toF(rgb), RGB_TO_XYZ) : toF(rgb);
  const ref = xyz ? mat3(toF(reference), RGB_TO_XYZ) : toF(reference);
  const s = centreStats(src, size);
  const r = centreStats(ref, size);
  const moved = new Float32Array(src.length);
  for (let i = 0; i < src.length; i += 1) {
    const ch = i % 3;
    const matched =
      (((src[i] as number) - (s.mean[ch] as number)) / (s.std[ch] as number)) * (r.std[ch] as number) +
      (r.mean[ch] as number);
    moved[i] = (src[i] as number) * (1 - ratio) + matched * ratio;
  }
  const back = xyz ? mat3(moved, XYZ_TO_RGB) : moved;
  return Uint8Array.from(back, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/** Bilinear lookup in a 5x5 grid of points at fractional grid coordinates. */
function gridAt(grid: readonly Point[], gx: number, gy: number): Point {
  const x0 = Math.min(3, Math.floor(gx));
  const y0 = Math.min(3, Math.floor(gy));
  const fx = gx - x0;
  const fy = gy - y0;
  const p = (x: number, y: number): Point => grid[y * 5 + x] as Point;
  const lerp = (a: Point, b: Point, t: number): Point => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
  return lerp(lerp(p(x0, y0), p(x0 + 1, y0), fx), lerp(p(x0, y0 + 1), p(x0 + 1, y0 + 1), fx), fy);
}

/**
 * random_warp: a 5x5 grid over the central region (half-width 78-97 px at 256), jittered by Gaussian noise
 * (sigma 5-6.2 px); the network input is the face resampled through the jittered grid, the target is the face
 * warped by the best similarity (Umeyama) of the same grid: undistorted, at the same place.
 */
export function randomWarp(
  sample: Sample,
  rng: Rng,
  outSize: number,
  size = FACE_SIZE,
): { warped: Uint8Array; target: Uint8Array; eyes: Uint8Array } {
  const half = rng.uniform(78, 97) * (size / 256);
  const sigma = rng.uniform(5, 6.2) * (size / 256);
  const c = size / 2;
  const grid: Point[] = [];
  const noisy: Point[] = [];
  for (let j = 0; j < 5; j += 1)
    for (let i = 0; i < 5; i += 1) {
      const p: Point = [c - half + (2 * half * i) / 4, c - half + (2 * half * j) / 4];
      grid.push(p);
      noisy.push([p[0] + rng.normal() * sigma, p[1] + rng.normal() * sigma]);
    }
  // The inner part of the grid, as the original's resize-to-80-and-crop-8:72 does.
  const lo = 0.4;
  const hi = 3.6;
  const warped = new Uint8Array(outSize * outSize * 3);
  for (let v = 0; v < outSize; v += 1) {
    for (let u = 0; u < outSize; u += 1) {
      const [sx, sy] = gridAt(noisy, lo + ((u + 0.5) / outSize) * (hi - lo), lo + ((v + 0.5) / outSize) * (hi - lo));
      const x0 = Math.min(size - 1, Math.max(0, Math.floor(sx)));
      const y0 = Math.min(size - 1, Math.max(0, Math.floor(sy)));
      const x1 = Math.min(size - 1, x0 + 1);
      const y1 = Math.min(size - 1, y0 + 1);
      const fx = Math.min(1, Math.max(0, sx - x0));
      const fy = Math.min(1, Math.max(0, sy - y0));
      for (let ch = 0; ch < 3; ch += 1) {
        const a = sample.rgb[(y0 * size + x0) * 3 + ch] as number;
        const b = sample.rgb[(y0 * size + x1) * 3 + ch] as number;
        const d = sample.rgb[(y1 * size + x0) * 3 + ch] as number;
        const e = sample.rgb[(y1 * size + x1) * 3 + ch] as number;
        warped[(v * outSize + u) * 3 + ch] = Math.round(
          (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy,
        );
      }
    }
  }
  // Where each grid point lands in the output, then the similarity that best maps the jittered grid there.
  const dest: Point[] = grid.map((_, k) => {
    const gx = k % 5;
    const gy = Math.floor(k / 5);
    return [((gx - lo) / (hi - lo)) * outSize - 0.5, ((gy - lo) / (hi - lo)) * outSize - 0.5];
  });
  const m = umeyama(noisy, dest);
  return {
    warped,
    target: warpAffine(sample.rgb, size, size, 3, m, outSize, outSize),
    eyes: warpAffine(sample.eyes, size, size, 1, m, outSize, outSize),
  };
}

/** Kernel lengths of the optional motion blur (the original's 5/7/9/11). */
const MOTION_KERNELS = [5, 7, 9, 11] as const;

/**
 * Motion blur along a random direction: each pixel becomes the mean of `k` samples on a line through it
 * (k from 5, 7, 9, 11), as a linear cv2.filter2D kernel would make it; borders replicated.
 */
export function motionBlur(rgb: Uint8Array, rng: Rng, size = FACE_SIZE): Uint8Array {
  const k = MOTION_KERNELS[rng.int(MOTION_KERNELS.length)] as number;
  const angle = rng.uniform(0, Math.PI);
  const offsets: Array<[number, number]> = [];
  for (let t = -(k - 1) / 2; t <= (k - 1) / 2; t += 1)
    offsets.push([Math.round(t * Math.cos(angle)), Math.round(t * Math.sin(angle))]);
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < size; y += 1)
    for (let x = 0; x < size; x += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of offsets) {
        const sx = Math.min(size - 1, Math.max(0, x + dx));
        const sy = Math.min(size - 1, Math.max(0, y + dy));
        const i = (sy * size + sx) * 3;
        r += rgb[i] as number;
        g += rgb[i + 1] as number;
        b += rgb[i + 2] as number;
      }
      const o = (y * size + x) * 3;
      out[o] = Math.round(r / k);
      out[o + 1] = Math.round(g / k);
      out[o + 2] = Math.round(b / k);
    }
  return out;
}
