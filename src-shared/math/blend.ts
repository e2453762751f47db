/** Pure compositing of a generated face back into the frame. */
import { patchCorners, type Affine } from './geometry.js';
import { newTaps, patchTaps } from './raster.js';

/**
 * Blend a patch (size x size RGB 0..1) and its mask (0..1) into the frame (packed RGB bytes, modified in place)
 * through `toPatch` (frame -> patch pixels). Pixels whose mask is 0 are not written: they stay bit-identical.
 * Returns the bounding box touched and how many pixels changed.
 */
export function blendPatch(
  frame: Uint8Array,
  width: number,
  height: number,
  patch: Float32Array,
  mask: Float32Array,
  size: number,
  toPatch: Affine,
): { changed: number } {
  const corners = patchCorners(toPatch, size);
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0]))));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(...corners.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1]))));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...corners.map((c) => c[1]))));
  let changed = 0;
  const taps = newTaps();
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      const u = toPatch[0] * x + toPatch[1] * y + toPatch[2];
      const v = toPatch[3] * x + toPatch[4] * y + toPatch[5];
      if (!patchTaps(u, v, size, taps)) continue;
      const { fx, fy, p00, p01, p10, p11 } = taps;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const m =
        w00 * (mask[p00] as number) +
        w10 * (mask[p01] as number) +
        w01 * (mask[p10] as number) +
        w11 * (mask[p11] as number);
      if (m <= 1e-4) continue;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c += 1) {
        const p =
          w00 * (patch[p00 * 3 + c] as number) +
          w10 * (patch[p01 * 3 + c] as number) +
          w01 * (patch[p10 * 3 + c] as number) +
          w11 * (patch[p11 * 3 + c] as number);
        frame[o + c] = Math.round(Math.min(1, Math.max(0, m * p + (1 - m) * ((frame[o + c] as number) / 255))) * 255);
      }
      changed += 1;
    }
  }
  return { changed };
}

/** A mask that fades to 0 at the patch border (so nothing outside the crop is touched). */
export function borderFeather(size: number, margin: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y += 1)
    for (let x = 0; x < size; x += 1) {
      const d = Math.min(x, y, size - 1 - x, size - 1 - y);
      out[y * size + x] = Math.min(1, Math.max(0, d / margin));
    }
  return out;
}
