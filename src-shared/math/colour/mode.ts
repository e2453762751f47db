/**
 * A colour-correction mode of the converter: moves the generated face's colours towards the source's, over the
 * region `weight` marks (0..1 per pixel; null: the whole patch). Images are packed RGB, 0..1. A mode returns null
 * when it cannot measure the region, and the caller falls back. Each mode is one file in this folder, listed once
 * in ./index.ts; the converter config's choices, the CLI's help and the studio's select come from that list.
 */
export interface ColourMode {
  /** The name in the converter config (the face-parts fork's ColorCorrectionType names). */
  readonly name: string;
  readonly label: string;
  readonly help: string;
  correct(generated: Float32Array, source: Float32Array, weight: Float32Array | null): Float32Array | null;
}

/** The least total weight colour statistics are taken from (pixels of a 64 px patch: an 8 x 8 block). */
export const MIN_STATS_PIXELS = 64;

export const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/**
 * Total weight of a region (its pixel count when the weights are 0/1). A loop: a typed array's reduce() boxed its
 * running sum, ~16 bytes of garbage a pixel on every swapped face.
 */
export function weightOf(weight: Float32Array): number {
  let total = 0;
  for (let i = 0; i < weight.length; i += 1) total += weight[i] as number;
  return total;
}

/** Weighted per-channel mean and standard deviation; null when the weight is below MIN_STATS_PIXELS. */
export function stats(img: Float32Array, weight: Float32Array | null): { mean: number[]; std: number[] } | null {
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

/** OpenCV's RGB <-> XYZ (D65) matrices on gamma-encoded values, as upstream's cv2.cvtColor applies them. */
export const RGB_TO_XYZ = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
export const XYZ_TO_RGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];

export function mat3(img: Float32Array, m: readonly number[]): Float32Array {
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
