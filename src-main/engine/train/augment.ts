/** Data augmentation of faceswap-GAN, pure: random_transform, random_warp (Umeyama target), colour match. */
import { composeAffine, umeyama, type Affine, type Point } from '../../../src-shared/math/geometry.js';
import { clampedTaps, newTaps, warpAffine } from '../../../src-shared/math/raster.js';
import type { Rng } from '../../../src-shared/math/rng.js';

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

/** upstream takes colour statistics of the centre only: [60:-60] of the 256 px face. */
const COLOUR_MATCH_MARGIN = 60;

/** Per-channel mean and (population) standard deviation of the centre region (the face, not the background). */
function centreStats(img: ArrayLike<number>, size: number): { mean: number[]; std: number[] } {
  const from = Math.round((COLOUR_MATCH_MARGIN * size) / FACE_SIZE);
  const to = size - from;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let q0 = 0;
  let q1 = 0;
  let q2 = 0;
  for (let y = from; y < to; y += 1)
    for (let i = (y * size + from) * 3, end = (y * size + to) * 3; i < end; i += 3) {
      const r = img[i] as number;
      const g = img[i + 1] as number;
      const b = img[i + 2] as number;
      s0 += r;
      s1 += g;
      s2 += b;
      q0 += r * r;
      q1 += g * g;
      q2 += b * b;
    }
  const n = (to - from) * (to - from);
  const mean = [s0 / n, s1 / n, s2 / n];
  const sq = [q0 / n, q1 / n, q2 / n];
  return { mean, std: sq.map((q, ch) => Math.sqrt(Math.max(0, q - (mean[ch] as number) ** 2))) };
}

/** OpenCV's RGB <-> XYZ (D65) matrices, applied to 8-bit values as cv2.cvtColor does. */
const RGB_TO_XYZ = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
const XYZ_TO_RGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];

/** A 3x3 matrix on packed 8-bit triplets, rounded and clamped to 0..255 as cv2.cvtColor does for 8-bit images. */
function mat3Bytes(img: ArrayLike<number>, m: readonly number[]): Uint8Array {
  const out = new Uint8Array(img.length);
  const [a, b, c, d, e, f, g, h, k] = m as [number, number, number, number, number, number, number, number, number];
  for (let i = 0; i < img.length; i += 3) {
    const r = img[i] as number;
    const gg = img[i + 1] as number;
    const bb = img[i + 2] as number;
    // Uint8Array stores clamp via the explicit min/max; Math.round as cv2's saturate_cast.
    out[i] = Math.min(255, Math.max(0, Math.round(a * r + b * gg + c * bb)));
    out[i + 1] = Math.min(255, Math.max(0, Math.round(d * r + e * gg + f * bb)));
    out[i + 2] = Math.min(255, Math.max(0, Math.round(g * r + h * gg + k * bb)));
  }
  return out;
}

/** What colour matching needs of a face in one colour space, computed once per face (faces do not change). */
interface ColourFacts {
  /** The face in this space, 8-bit (the XYZ conversion as cv2 makes it). */
  pixels: Uint8Array;
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
}

const colourFacts = new WeakMap<Uint8Array, { rgb?: ColourFacts; xyz?: ColourFacts }>();

function factsOf(rgb: Uint8Array, xyz: boolean, size: number): ColourFacts {
  const cached = colourFacts.get(rgb) ?? {};
  const known = xyz ? cached.xyz : cached.rgb;
  if (known) return known;
  const pixels = xyz ? mat3Bytes(rgb, RGB_TO_XYZ) : rgb;
  const min = [255, 255, 255];
  const max = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 1) {
    const ch = i % 3;
    const v = pixels[i] as number;
    if (v < (min[ch] as number)) min[ch] = v;
    if (v > (max[ch] as number)) max[ch] = v;
  }
  const facts = { pixels, ...centreStats(pixels, size), min, max };
  colourFacts.set(rgb, xyz ? { ...cached, xyz: facts } : { ...cached, rgb: facts });
  return facts;
}

/**
 * random_color_match: move this face's colour statistics towards another face's (mean/std transfer measured on
 * the centre region), half the time in XYZ, the statistics interpolated by a random ratio. As upstream, an
 * out-of-range result is shifted up (min below 0) and scaled down (max above 255) rather than clipped. The
 * transfer is an affine map per channel, so its extremes come from the channel's own; each face's statistics
 * are kept from its first match.
 */
export function colourMatch(rgb: Uint8Array, reference: Uint8Array, rng: Rng, size = FACE_SIZE): Uint8Array {
  const xyz = rng.next() < 0.5;
  const ratio = rng.uniform(0, 1);
  const s = factsOf(rgb, xyz, size);
  const r = factsOf(reference, xyz, size);
  if (s.std.every((v) => v <= 1e-7)) return rgb;
  // v -> slope * v + offset per channel: st * (v - ms) / (ss + eps) + mt, the target statistics interpolated.
  const slope: number[] = [];
  const offset: number[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let ch = 0; ch < 3; ch += 1) {
    const mt = ratio * (r.mean[ch] as number) + (1 - ratio) * (s.mean[ch] as number);
    const st = ratio * (r.std[ch] as number) + (1 - ratio) * (s.std[ch] as number);
    const k = st / ((s.std[ch] as number) + 1e-7);
    slope.push(k);
    offset.push(mt - k * (s.mean[ch] as number));
    min = Math.min(min, k * (s.min[ch] as number) + (offset[ch] as number));
    max = Math.max(max, k * (s.max[ch] as number) + (offset[ch] as number));
  }
  const shift = min < 0 ? -min : 0;
  const scale = max + shift > 255 ? 255 / (max + shift) : 1;
  const [k0, k1, k2] = slope.map((k) => k * scale) as [number, number, number];
  const [o0, o1, o2] = offset.map((o) => (o + shift) * scale) as [number, number, number];
  const src = s.pixels;
  const moved = new Uint8Array(src.length);
  // XYZ goes back through 8 bits (upstream's astype(np.uint8), a truncation) before COLOR_XYZ2BGR; RGB rounds.
  const store = xyz ? Math.floor : Math.round;
  for (let i = 0; i < src.length; i += 3) {
    moved[i] = Math.min(255, Math.max(0, store(k0 * (src[i] as number) + o0)));
    moved[i + 1] = Math.min(255, Math.max(0, store(k1 * (src[i + 1] as number) + o1)));
    moved[i + 2] = Math.min(255, Math.max(0, store(k2 * (src[i + 2] as number) + o2)));
  }
  return xyz ? mat3Bytes(moved, XYZ_TO_RGB) : moved;
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
 * Half-width of the region random_warp frames, in 256 px aligned-crop pixels: upstream's coverage is
 * randint(20) + 78, so 78..97. Conversion and previews frame the face as the loosest of these, TRAINED_HALF: a
 * framing the model has learnt, with the brows' outer ends and the lower lip inside the full-strength blend (at
 * the mean, 87.5, a real face's brow ends fall in the patch's border fade).
 */
export const WARP_HALF_MIN = 78;
export const WARP_HALF_MAX = 97;
export const TRAINED_HALF = WARP_HALF_MAX;

/**
 * The region of the 256 px aligned crop the model sees, as [from, to] in crop pixels: the one constant behind
 * training previews, conversion and its preview. At roi_coverage 0.9 (the seed's default) it is TRAINED_HALF
 * around the centre; other coverages scale it.
 */
export function trainedRegion(roiCoverage = 0.9): [number, number] {
  const half = TRAINED_HALF * (roiCoverage / 0.9);
  return [FACE_SIZE / 2 - half, FACE_SIZE / 2 + half];
}

/**
 * random_warp: a 5x5 grid over the central region (half-width 78-97 px at 256), jittered by Gaussian noise
 * (sigma 5-6.2 px); the network input is the face resampled through the jittered grid, the target is the face
 * warped by the best similarity (Umeyama) of the same grid: undistorted, at the same place.
 * upstream resizes the 5x5 maps to 80x80 (cv2's half-pixel mapping) and keeps [8:72]: output pixel u samples grid
 * coordinate (u + 0.5) / 16, so the output spans the whole grid, 1/32 .. 4 - 1/32. Its target places grid
 * point k at 16 k, half a pixel off the warped input's k * 16 - 0.5; here both use the latter, so input and target
 * line up exactly (upstream's half-pixel shift would be learnt as a shift of the face).
 */
export function randomWarp(
  sample: Sample,
  rng: Rng,
  outSize: number,
  size = FACE_SIZE,
): { warped: Uint8Array; target: Uint8Array; eyes: Uint8Array } {
  const half = (WARP_HALF_MIN + rng.int(WARP_HALF_MAX - WARP_HALF_MIN + 1)) * (size / 256);
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
  const lo = 0;
  const hi = 4;
  const warped = new Uint8Array(outSize * outSize * 3);
  const taps = newTaps();
  for (let v = 0; v < outSize; v += 1) {
    for (let u = 0; u < outSize; u += 1) {
      const [sx, sy] = gridAt(noisy, lo + ((u + 0.5) / outSize) * (hi - lo), lo + ((v + 0.5) / outSize) * (hi - lo));
      const { fx, fy, p00, p01, p10, p11 } = clampedTaps(sx, sy, size, size, taps);
      for (let ch = 0; ch < 3; ch += 1) {
        const a = sample.rgb[p00 * 3 + ch] as number;
        const b = sample.rgb[p01 * 3 + ch] as number;
        const d = sample.rgb[p10 * 3 + ch] as number;
        const e = sample.rgb[p11 * 3 + ch] as number;
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

/** Kernel lengths of the optional motion blur (upstream's 5/7/9/11). */
const MOTION_KERNELS = [5, 7, 9, 11] as const;

/**
 * upstream's get_motion_blur_kernel: a horizontal line of ones through the centre of a k x k kernel, rotated by a
 * random angle (-180..180 degrees) about the centre, clipped to 0..1 and normalised to sum 1. The rotation samples
 * bilinearly where upstream's ndimage.rotate uses a cubic spline (whose overshoot the clip removes).
 */
export function motionBlurKernel(rng: Rng): { size: number; weights: Float32Array } {
  const k = MOTION_KERNELS[rng.int(MOTION_KERNELS.length)] as number;
  const angle = (rng.uniform(-180, 180) * Math.PI) / 180;
  const c = (k - 1) / 2;
  const line = (x: number, y: number): number => {
    // The unrotated kernel, bilinearly: ones on row c, zero elsewhere (and outside).
    if (x < -0.5 || x > k - 0.5) return 0;
    return Math.max(0, 1 - Math.abs(y - c));
  };
  const weights = new Float32Array(k * k);
  let sum = 0;
  for (let y = 0; y < k; y += 1)
    for (let x = 0; x < k; x += 1) {
      const dx = x - c;
      const dy = y - c;
      const sx = Math.cos(angle) * dx + Math.sin(angle) * dy + c;
      const sy = -Math.sin(angle) * dx + Math.cos(angle) * dy + c;
      const v = Math.min(1, Math.max(0, line(sx, sy)));
      weights[y * k + x] = v;
      sum += v;
    }
  for (let i = 0; i < weights.length; i += 1) weights[i] = (weights[i] as number) / sum;
  return { size: k, weights };
}

/** cv2.filter2D with BORDER_REFLECT_101 on a packed RGB float image (size x size), one kernel for all channels. */
export function filter2D(
  img: Float32Array,
  size: number,
  kernel: { size: number; weights: Float32Array },
): Float32Array {
  const k = kernel.size;
  const c = (k - 1) / 2;
  const reflect = (i: number): number => {
    if (size === 1) return 0;
    let j = i;
    while (j < 0 || j >= size) j = j < 0 ? -j : 2 * size - 2 - j;
    return j;
  };
  const out = new Float32Array(img.length);
  for (let y = 0; y < size; y += 1)
    for (let x = 0; x < size; x += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let ky = 0; ky < k; ky += 1) {
        const sy = reflect(y + ky - c);
        for (let kx = 0; kx < k; kx += 1) {
          const w = kernel.weights[ky * k + kx] as number;
          if (w === 0) continue;
          const i = (sy * size + reflect(x + kx - c)) * 3;
          r += w * (img[i] as number);
          g += w * (img[i + 1] as number);
          b += w * (img[i + 2] as number);
        }
      }
      const o = (y * size + x) * 3;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  return out;
}
