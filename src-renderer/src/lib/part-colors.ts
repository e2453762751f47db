import type { MaskPart } from '../../../src-shared/contract/index.js';

/** One calm colour per face part, for outlines on crops (RGB, so overlays can add their own alpha). */
export const PART_RGB: Record<MaskPart, [number, number, number]> = {
  eyes: [127, 167, 217],
  eyebrows: [201, 164, 94],
  nose: [111, 174, 126],
  mouth: [217, 138, 138],
  face: [200, 206, 214],
};

export function partColor(part: MaskPart, alpha = 1): string {
  const [r, g, b] = PART_RGB[part];
  return alpha === 1 ? `rgb(${r} ${g} ${b})` : `rgb(${r} ${g} ${b} / ${alpha})`;
}
