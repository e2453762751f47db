/** Pure image math on typed arrays: masks, filters, warps. Row-major, single channel unless noted. */
import { invertAffine, type Affine, type Point } from './geometry.js';

/** Fill a polygon (even-odd rule, pixel centres) into a 0/255 mask. */
export function rasterizePolygon(
  polygon: readonly Point[],
  width: number,
  height: number,
  into?: Uint8Array,
): Uint8Array {
  const mask = into ?? new Uint8Array(width * height);
  if (polygon.length < 3) return mask;
  const xs: number[] = [];
  for (let y = 0; y < height; y += 1) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
      const [xi, yi] = polygon[i] as Point;
      const [xj, yj] = polygon[j] as Point;
      if (yi > cy !== yj > cy) xs.push(xi + ((cy - yi) * (xj - xi)) / (yj - yi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil((xs[k] as number) - 0.5));
      const to = Math.min(width - 1, Math.floor((xs[k + 1] as number) - 0.5));
      for (let x = from; x <= to; x += 1) mask[y * width + x] = 255;
    }
  }
  return mask;
}

/**
 * Morphological dilation of a 0/255 mask (any non-zero pixel counts as set) with a k x k square, as cv2.dilate with a
 * box kernel, the window cut at the border: a pixel is set when any pixel of its window is. Sliding counts of set
 * pixels, first along rows and then over whole rows at a time, so each pixel costs a few additions whatever k is (a
 * scan of each window took ~1 ms of the export check's 9 x 9 on a face's box).
 */
export function dilate(mask: Uint8Array, width: number, height: number, kernel: number): Uint8Array {
  const out = new Uint8Array(width * height);
  if (kernel <= 1) {
    for (let i = 0; i < out.length; i += 1) out[i] = mask[i] ? 255 : 0;
    return out;
  }
  const r = Math.floor(kernel / 2);
  // Per row: whether each pixel's horizontal window holds a set pixel (1/0).
  const across = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    const row = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(r, width); x += 1) if (mask[row + x]) count += 1;
    for (let x = 0; x < width; x += 1) {
      if (x + r < width && mask[row + x + r]) count += 1;
      if (x - r - 1 >= 0 && mask[row + x - r - 1]) count -= 1;
      across[row + x] = count > 0 ? 1 : 0;
    }
  }
  // Down the columns: a running count per column over the rows y - r .. y + r, a whole row added and dropped at once.
  const counts = new Int32Array(width);
  for (let y = 0; y < Math.min(r, height); y += 1)
    for (let x = 0; x < width; x += 1) counts[x] = (counts[x] as number) + (across[y * width + x] as number);
  for (let y = 0; y < height; y += 1) {
    if (y + r < height) {
      const add = (y + r) * width;
      for (let x = 0; x < width; x += 1) counts[x] = (counts[x] as number) + (across[add + x] as number);
    }
    if (y - r - 1 >= 0) {
      const drop = (y - r - 1) * width;
      for (let x = 0; x < width; x += 1) counts[x] = (counts[x] as number) - (across[drop + x] as number);
    }
    const row = y * width;
    for (let x = 0; x < width; x += 1) out[row + x] = (counts[x] as number) > 0 ? 255 : 0;
  }
  return out;
}

export function gaussianKernel(size: number, sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8): Float32Array {
  const kernel = new Float32Array(size);
  const half = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i += 1) {
    const v = Math.exp(-((i - half) ** 2) / (2 * sigma * sigma));
    kernel[i] = v;
    sum += v;
  }
  for (let i = 0; i < size; i += 1) kernel[i] = (kernel[i] as number) / sum;
  return kernel;
}

/** Separable Gaussian blur of a single-channel float image, edges replicated (sigma as OpenCV picks it by default). */
export function gaussianBlur(
  image: Float32Array,
  width: number,
  height: number,
  size: number,
  sigma?: number,
): Float32Array {
  if (size <= 1) return image.slice();
  const kernel = gaussianKernel(size, sigma);
  const half = (size - 1) / 2;
  const tmp = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      let acc = 0;
      for (let k = 0; k < size; k += 1) {
        const sx = Math.min(width - 1, Math.max(0, x + k - half));
        acc += (kernel[k] as number) * (image[y * width + sx] as number);
      }
      tmp[y * width + x] = acc;
    }
  }
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      let acc = 0;
      for (let k = 0; k < size; k += 1) {
        const sy = Math.min(height - 1, Math.max(0, y + k - half));
        acc += (kernel[k] as number) * (tmp[sy * width + x] as number);
      }
      out[y * width + x] = acc;
    }
  }
  return out;
}

export function toFloatMask(mask: Uint8Array): Float32Array {
  const out = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i += 1) out[i] = (mask[i] as number) / 255;
  return out;
}

export function toByteMask(mask: Float32Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i += 1) out[i] = Math.round(Math.min(1, Math.max(0, mask[i] as number)) * 255);
  return out;
}

/** Luma of packed RGB (Rec. 601). */
export function grayscale(rgb: Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < width * height; i += 1) {
    out[i] = 0.299 * (rgb[i * 3] as number) + 0.587 * (rgb[i * 3 + 1] as number) + 0.114 * (rgb[i * 3 + 2] as number);
  }
  return out;
}

/** Variance of the 4-neighbour Laplacian: the usual sharpness score (low = blurry). */
export function laplacianVariance(gray: Float32Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y += 1) {
    for (let x = 1; x < width - 1; x += 1) {
      const i = y * width + x;
      const v =
        (gray[i - 1] as number) +
        (gray[i + 1] as number) +
        (gray[i - width] as number) +
        (gray[i + width] as number) -
        4 * (gray[i] as number);
      sum += v;
      sumSq += v * v;
      n += 1;
    }
  }
  if (n === 0) return 0;
  const m = sum / n;
  return sumSq / n - m * m;
}

/**
 * A bilinear sample's four neighbours (pixel indices, row-major: p00 top-left, p01 top-right, p10 bottom-left, p11
 * bottom-right) and its fractions. One object is reused across a loop (filled in place, no allocation a pixel).
 */
export interface BilinearTaps {
  p00: number;
  p01: number;
  p10: number;
  p11: number;
  fx: number;
  fy: number;
}

export const newTaps = (): BilinearTaps => ({ p00: 0, p01: 0, p10: 0, p11: 0, fx: 0, fy: 0 });

/** The taps at (x, y) of a width x height image, the position clamped into it (borders replicated). */
export function clampedTaps(x: number, y: number, width: number, height: number, taps: BilinearTaps): BilinearTaps {
  const sx = Math.min(width - 1, Math.max(0, x));
  const sy = Math.min(height - 1, Math.max(0, y));
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const x1 = Math.min(width - 1, x0 + 1);
  const y1 = Math.min(height - 1, y0 + 1);
  taps.p00 = y0 * width + x0;
  taps.p01 = y0 * width + x1;
  taps.p10 = y1 * width + x0;
  taps.p11 = y1 * width + x1;
  taps.fx = sx - x0;
  taps.fy = sy - y0;
  return taps;
}

/**
 * The taps at (u, v) of a size x size patch, or false when (u, v) is outside [0, size - 1]: a patch and its mask
 * end there (the blend leaves those frame pixels alone).
 */
export function patchTaps(u: number, v: number, size: number, taps: BilinearTaps): boolean {
  if (u < 0 || v < 0 || u > size - 1 || v > size - 1) return false;
  clampedTaps(u, v, size, size, taps);
  return true;
}

/**
 * Warp packed RGB (or any channel count) by an affine that maps source to destination pixels,
 * bilinear, borders replicated: cv2.warpAffine(src, m, (w, h), borderMode=REPLICATE).
 */
export function warpAffine(
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  channels: number,
  forward: Affine,
  dstWidth: number,
  dstHeight: number,
): Uint8Array {
  const inv = invertAffine(forward);
  const out = new Uint8Array(dstWidth * dstHeight * channels);
  const taps = newTaps();
  for (let y = 0; y < dstHeight; y += 1) {
    for (let x = 0; x < dstWidth; x += 1) {
      clampedTaps(inv[0] * x + inv[1] * y + inv[2], inv[3] * x + inv[4] * y + inv[5], srcWidth, srcHeight, taps);
      const { fx, fy } = taps;
      const o = (y * dstWidth + x) * channels;
      if (channels === 3) {
        // Packed RGB, unrolled (the same arithmetic as the loop below).
        const p00 = taps.p00 * 3;
        const p01 = taps.p01 * 3;
        const p10 = taps.p10 * 3;
        const p11 = taps.p11 * 3;
        const gx = 1 - fx;
        const gy = 1 - fy;
        out[o] = Math.round(
          ((src[p00] as number) * gx + (src[p01] as number) * fx) * gy +
            ((src[p10] as number) * gx + (src[p11] as number) * fx) * fy,
        );
        out[o + 1] = Math.round(
          ((src[p00 + 1] as number) * gx + (src[p01 + 1] as number) * fx) * gy +
            ((src[p10 + 1] as number) * gx + (src[p11 + 1] as number) * fx) * fy,
        );
        out[o + 2] = Math.round(
          ((src[p00 + 2] as number) * gx + (src[p01 + 2] as number) * fx) * gy +
            ((src[p10 + 2] as number) * gx + (src[p11 + 2] as number) * fx) * fy,
        );
        continue;
      }
      for (let c = 0; c < channels; c += 1) {
        const a = src[taps.p00 * channels + c] as number;
        const b = src[taps.p01 * channels + c] as number;
        const d = src[taps.p10 * channels + c] as number;
        const e = src[taps.p11 * channels + c] as number;
        out[o + c] = Math.round((a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy);
      }
    }
  }
  return out;
}

export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = (a[i] as number) > 127;
    const y = (b[i] as number) > 127;
    if (x && y) inter += 1;
    if (x || y) union += 1;
  }
  return union === 0 ? 0 : inter / union;
}
