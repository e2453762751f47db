/** Pure shot-cut detection: a large mean change of a tiny grey thumbnail between consecutive frames. */

export const CUT_THUMB_W = 32;
export const CUT_THUMB_H = 18;
/** Mean absolute difference (0..255) above which two frames belong to different shots. */
export const CUT_THRESHOLD = 20;

export function cutSignature(rgb: Uint8Array, width: number, height: number): number[] {
  const out: number[] = [];
  for (let ty = 0; ty < CUT_THUMB_H; ty += 1) {
    for (let tx = 0; tx < CUT_THUMB_W; tx += 1) {
      // Average a 3x3 sample grid inside the cell: cheap and stable against noise.
      let sum = 0;
      for (let sy = 0; sy < 3; sy += 1) {
        for (let sx = 0; sx < 3; sx += 1) {
          const x = Math.min(width - 1, Math.floor(((tx + (sx + 0.5) / 3) * width) / CUT_THUMB_W));
          const y = Math.min(height - 1, Math.floor(((ty + (sy + 0.5) / 3) * height) / CUT_THUMB_H));
          const i = (y * width + x) * 3;
          sum += 0.299 * (rgb[i] as number) + 0.587 * (rgb[i + 1] as number) + 0.114 * (rgb[i + 2] as number);
        }
      }
      out.push(Math.round(sum / 9));
    }
  }
  return out;
}

export function isCut(
  previous: readonly number[] | null,
  current: readonly number[],
  threshold = CUT_THRESHOLD,
): boolean {
  if (!previous || previous.length !== current.length) return false;
  let diff = 0;
  for (let i = 0; i < current.length; i += 1) diff += Math.abs((current[i] as number) - (previous[i] as number));
  return diff / current.length > threshold;
}
