/** One frame's swap: align, run the generator, colour-correct, mask by parts, blend back. */
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import {
  applyAffine,
  composeAffine,
  invertAffine,
  type Affine,
  type Point,
} from '../../../src-shared/math/geometry.js';
import { segmentationParts, swapPartsMask, type MaskEdits } from '../../../src-shared/math/masks.js';
import { gaussianBlur, warpAffine } from '../../../src-shared/math/raster.js';
import type { Generator } from '../model/generator.js';
import { blendPatch, borderFeather } from './blend.js';
import { correctColour } from './colour.js';

/** Half-width of the aligned region the model learnt on (random_warp's target), in 256 px aligned-crop pixels. */
const TRAINED_HALF = 70;

/** A face's hand-edited masks and where its aligned crop lies in the frame (frame -> crop pixels). */
export interface MaskOverride {
  edits: MaskEdits;
  frameToCrop: Affine;
}

export interface SwapResult {
  /** The final blend mask in patch pixels (0..1), for TRIPLE output and metrics. */
  mask: Float32Array;
  toPatch: Affine;
  changed: number;
}

/** frame -> generator input (R x R): the landmark alignment, then the central region by roi_coverage. */
export function patchTransform(landmarks: readonly Point[], resolution: number, roiCoverage: number): Affine {
  const aligned = alignmentTransform(landmarks, 256);
  const half = TRAINED_HALF * (roiCoverage / 0.9);
  const s = resolution / (2 * half);
  return composeAffine([s, 0, -(128 - half) * s, 0, s, -(128 - half) * s], aligned);
}

/**
 * Where a swap may change the frame, in patch pixels (size x size, 0..1): the chosen parts (or their hand edits),
 * feathered, faded out at the patch border. The swap multiplies it by the model's attention mask; metrics of an
 * encoded file use it alone, as the largest region a swap can touch.
 */
export function blendRegion(
  landmarks: readonly Point[],
  r: number,
  config: ConverterConfig,
  override: MaskOverride | null,
): { toPatch: Affine; region: Float32Array } {
  const toPatch = patchTransform(landmarks, r, config.roi_coverage);
  const patchLandmarks = landmarks.map((p) => applyAffine(toPatch, p));
  const scale = r / 256;
  const parts = swapPartsMask(
    patchLandmarks,
    segmentationParts(config.segmentation),
    r,
    { dilation: Math.max(1, Math.round(9 * scale * 2)) | 1, iterations: 2, feather: 0 },
    override?.edits ?? null,
    override ? composeAffine(toPatch, invertAffine(override.frameToCrop)) : null,
  );
  // Feather the part mask's edge (the original: 15x15 Gaussian, sigma 10, at full size).
  const feathered = gaussianBlur(parts, r, r, Math.max(3, Math.round(15 * scale * 2) | 1), Math.max(1, 10 * scale * 2));
  const edge = borderFeather(r, Math.max(2, Math.round(r * 0.06)));
  const region = new Float32Array(r * r);
  for (let i = 0; i < region.length; i += 1) region[i] = (feathered[i] as number) * (edge[i] as number);
  return { toPatch, region };
}

/**
 * Swap the face with these landmarks in `frame` (packed RGB, modified in place). Only pixels inside the
 * part mask (times the model's attention mask) change; the face's hand edits, when given, replace the parts they
 * edit (the rest stay automatic).
 */
export async function swapFace(
  frame: Uint8Array,
  width: number,
  height: number,
  landmarks: readonly Point[],
  generator: Generator,
  config: ConverterConfig,
  override: MaskOverride | null = null,
): Promise<SwapResult> {
  const r = generator.arch.resolution;
  const { toPatch, region } = blendRegion(landmarks, r, config, override);
  const input = warpAffine(frame, width, height, 3, toPatch, r, r);
  const inputF = Float32Array.from(input, (v) => v / 255);
  const { alpha, color } = await generator.run(config.direction === 'AtoB' ? 'B' : 'A', inputF, 1);
  const mask = new Float32Array(r * r);
  for (let i = 0; i < mask.length; i += 1) mask[i] = (alpha[i] as number) * (region[i] as number);
  const corrected = correctColour(color, inputF, config.color_correction, mask);
  const { changed } = blendPatch(frame, width, height, corrected, mask, r, toPatch);
  return { mask, toPatch, changed };
}
