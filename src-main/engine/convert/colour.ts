/**
 * Pure colour correction of the generated face against the source region (images as Float32 RGB 0..1), as
 * upstream's converter/color_correction.py: statistics of the whole region of interest (the generator's patch)
 * on both sides, never of a thresholded part of it, so a faint attention mask cannot leave the statistics empty.
 * A `weight` map (0..1 per pixel) narrows them to a region; one with less than MIN_STATS_PIXELS of weight falls
 * back to the whole patch rather than build statistics from too few pixels.
 */
import type { ColorCorrection } from '../../../src-shared/contract/index.js';
import type { z } from 'zod';

export type ColourMode = z.infer<typeof ColorCorrection>;

/** The least total weight colour statistics are taken from (pixels of a 64 px patch: an 8 x 8 block). */
export const MIN_STATS_PIXELS = 64;

/** OpenCV's RGB <-> XYZ (D65) matrices on gamma-encoded values, as upstream's cv2.cvtColor applies them. */
const RGB_TO_XYZ = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
const XYZ_TO_RGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];

function mat3(img: Float32Array, m: number[]): Float32Array {
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i += 3) {
    for (let r = 0; r < 3; r += 1) {
      out[i + r] =
        (m[r * 3] as number) * (img[i] as number) +
        (m[r * 3 + 1] as number) * (img[i + 1] as number) +
        (m[r * 3 + 2] as number) * (img[i + 2] as number);
    }
  }
  return out;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** Weighted per-channel mean and standard deviation; null when the weight is below MIN_STATS_PIXELS. */
function stats(img: Float32Array, weight: Float32Array | null): { mean: number[]; std: number[] } | null {
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < img.length / 3; p += 1) {
    const w = weight ? (weight[p] as number) : 1;
    if (w <= 0) continue;
    n += w;
    for (let c = 0; c < 3; c += 1) {
      const v = img[p * 3 + c] as number;
      mean[c] = (mean[c] as number) + w * v;
      sq[c] = (sq[c] as number) + w * v * v;
    }
  }
  if (n < MIN_STATS_PIXELS) return null;
  const m = mean.map((s) => s / n);
  return { mean: m, std: sq.map((s, c) => Math.sqrt(Math.max(0, s / n - (m[c] as number) ** 2))) };
}

/** upstream's adain: (src - mean_s) / (sd_s + eps) * sd_t + mean_t, clipped. */
function adain(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array | null {
  const s = stats(src, weight);
  const r = stats(ref, weight);
  if (!s || !r) return null;
  if (s.std.every((v) => v <= 1e-7)) return src;
  return Float32Array.from(src, (v, i) => {
    const c = i % 3;
    return clamp01(
      ((v - (s.mean[c] as number)) / ((s.std[c] as number) + 1e-7)) * (r.std[c] as number) + (r.mean[c] as number),
    );
  });
}

/**
 * upstream's hist_match per channel, on 8-bit values: each source value goes to the reference value at the same
 * quantile, linearly interpolated between the reference's values (np.interp over the unique values' quantiles).
 */
function histMatch(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array | null {
  let total = 0;
  for (let p = 0; p < src.length / 3; p += 1) total += weight ? (weight[p] as number) : 1;
  if (total < MIN_STATS_PIXELS) return null;
  const out = new Float32Array(src.length);
  const byte = (v: number): number => Math.min(255, Math.max(0, Math.round(v * 255)));
  for (let c = 0; c < 3; c += 1) {
    const hs = new Float64Array(256);
    const hr = new Float64Array(256);
    for (let p = 0; p < src.length / 3; p += 1) {
      const w = weight ? (weight[p] as number) : 1;
      if (w <= 0) continue;
      const a = byte(src[p * 3 + c] as number);
      const b = byte(ref[p * 3 + c] as number);
      hs[a] = (hs[a] as number) + w;
      hr[b] = (hr[b] as number) + w;
    }
    // Quantiles of the values present (np.unique + cumsum / total).
    const quantiles = (h: Float64Array): { values: number[]; q: number[] } => {
      const values: number[] = [];
      const q: number[] = [];
      let acc = 0;
      const sum = h.reduce((x, y) => x + y, 0);
      for (let i = 0; i < 256; i += 1) {
        if ((h[i] as number) <= 0) continue;
        acc += h[i] as number;
        values.push(i);
        q.push(acc / sum);
      }
      return { values, q };
    };
    const s = quantiles(hs);
    const t = quantiles(hr);
    const lut = new Float32Array(256);
    let j = 0;
    for (let k = 0; k < s.values.length; k += 1) {
      const x = s.q[k] as number;
      // np.interp(x, t.q, t.values): clamped at both ends, linear between.
      while (j < t.q.length - 1 && (t.q[j] as number) < x) j += 1;
      let v: number;
      if (j === 0 || x <= (t.q[0] as number)) v = t.values[0] as number;
      else {
        const q0 = t.q[j - 1] as number;
        const q1 = t.q[j] as number;
        const f = q1 > q0 ? (x - q0) / (q1 - q0) : 1;
        v = (t.values[j - 1] as number) + f * ((t.values[j] as number) - (t.values[j - 1] as number));
      }
      lut[s.values[k] as number] = v / 255;
    }
    for (let p = 0; p < src.length / 3; p += 1) out[p * 3 + c] = lut[byte(src[p * 3 + c] as number)] as number;
  }
  return out;
}

const weightOf = (weight: Float32Array): number => weight.reduce((a, b) => a + b, 0);

/**
 * Correct `generated` towards `source` (same size). `weight` (0..1 per pixel) narrows the statistics to a region;
 * null, or a region of less than MIN_STATS_PIXELS of weight, takes the whole patch, as upstream.
 */
export function correctColour(
  generated: Float32Array,
  source: Float32Array,
  mode: ColourMode,
  weight: Float32Array | null = null,
): Float32Array {
  if (weight && weightOf(weight) < MIN_STATS_PIXELS) return correctColour(generated, source, mode, null);
  switch (mode) {
    case 'NONE':
      return generated;
    case 'ADAIN':
      return adain(generated, source, weight) ?? generated;
    case 'ADAIN_XYZ': {
      const matched = adain(mat3(generated, RGB_TO_XYZ), mat3(source, RGB_TO_XYZ), weight);
      return matched ? Float32Array.from(mat3(matched, XYZ_TO_RGB), clamp01) : generated;
    }
    case 'HISTMATCH':
      return histMatch(generated, source, weight) ?? generated;
  }
}
