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
import { segmentationParts, swapPartsMask, type MaskOverride } from '../../../src-shared/math/masks.js';

export type { MaskOverride } from '../../../src-shared/math/masks.js';
import { gaussianBlur, warpAffine } from '../../../src-shared/math/raster.js';
import type { FaceGenerator } from '../model/generator.js';
import { FACE_SIZE, trainedRegion } from '../train/augment.js';
import { blendPatch, borderFeather } from '../../../src-shared/math/blend.js';
import { correctColour } from '../../../src-shared/math/colour/index.js';
import { mapToFloat32 } from '../../../src-shared/math/arrays.js';

/**
 * The patch's outer margin where the blend fades to 0 (a share of the patch): narrow enough that the template's
 * eyebrows and lower lip lie inside the full-strength area (tests/unit/convert-math.test.ts checks it).
 */
export const BORDER_FADE = 0.04;

export interface SwapResult {
  /** The final blend mask in patch pixels (0..1), for TRIPLE output and metrics. */
  mask: Float32Array;
  /** Where the swap may change the frame (the parts, feathered), in patch pixels: the mask before the model's alpha. */
  region: Float32Array;
  toPatch: Affine;
  changed: number;
}

/** frame -> generator input (R x R): the landmark alignment, then the trained region. */
export function patchTransform(landmarks: readonly Point[], resolution: number, roiCoverage: number): Affine {
  const aligned = alignmentTransform(landmarks, FACE_SIZE);
  const [from, to] = trainedRegion(roiCoverage);
  const s = resolution / (to - from);
  return composeAffine([s, 0, -from * s, 0, s, -from * s], aligned);
}

/**
 * Where a swap may change the frame, in patch pixels (size x size, 0..1): the chosen parts (or their hand edits),
 * feathered, faded out at the patch border. The swap multiplies it by the model's attention mask; metrics of an
 * encoded file use it alone, as the largest region a swap can touch.
 */
export function blendRegion(
  landmarks: readonly Point[],
  toPatch: Affine,
  r: number,
  config: Pick<ConverterConfig, 'segmentation'>,
  override: MaskOverride | null,
): Float32Array {
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
  const edge = borderFeather(r, Math.max(1, Math.round(r * BORDER_FADE)));
  const region = new Float32Array(r * r);
  for (let i = 0; i < region.length; i += 1) region[i] = (feathered[i] as number) * (edge[i] as number);
  return region;
}

/** A face made ready for the generator: its patch (R x R RGB 0..1) and the region the swap may change. */
export interface PreparedSwap {
  input: Float32Array;
  region: Float32Array;
  toPatch: Affine;
}

/** The part of a swap before the generator: the face's patch and the region, from the frame as it is. */
export function prepareSwap(
  frame: Uint8Array,
  width: number,
  height: number,
  landmarks: readonly Point[],
  toPatch: Affine,
  r: number,
  config: ConverterConfig,
  override: MaskOverride | null = null,
): PreparedSwap {
  const region = blendRegion(landmarks, toPatch, r, config, override);
  const patch = warpAffine(frame, width, height, 3, toPatch, r, r);
  return { input: mapToFloat32(patch, (v) => v / 255), region, toPatch };
}

/** The part after it: mask, colour correction, enhance, blend into `frame` (modified in place). */
export function finishSwap(
  frame: Uint8Array,
  width: number,
  height: number,
  prepared: PreparedSwap,
  generated: { alpha: Float32Array; color: Float32Array },
  r: number,
  config: ConverterConfig,
): SwapResult {
  const { input: inputF, region, toPatch } = prepared;
  const { alpha, color } = generated;
  const mask = new Float32Array(r * r);
  for (let i = 0; i < mask.length; i += 1) mask[i] = (alpha[i] as number) * (region[i] as number);
  // Colour statistics over the region the swap may change: the whole face for ALL (as upstream's whole ROI), the
  // chosen parts otherwise, so dark eyes are matched to dark eyes, not to the face's average (the whole patch
  // when a part covers too few pixels to measure).
  let corrected = correctColour(color, inputF, config.color_correction, region);
  if (config.enhance > 0) {
    const e = config.enhance;
    corrected = mapToFloat32(corrected, (v, i) => Math.min(1, Math.max(0, (1 + e) * v - e * (inputF[i] as number))));
  }
  const { changed } = blendPatch(frame, width, height, corrected, mask, r, toPatch);
  return { mask, region, toPatch, changed };
}

/**
 * Swap the face with these landmarks in `frame` (packed RGB, modified in place), placed by `toPatch` (frame ->
 * generator patch; the conversion smooths it over time). As upstream: the generator's raw colour, colour-corrected
 * against the source, blended by the attention mask times the part region. Only pixels inside that mask
 * change; the face's hand edits, when given, replace the parts they edit (the rest stay automatic). `enhance` is the
 * fork's contrast boost: the change from the source is scaled by 1 + enhance. (The conversion job runs the same
 * steps, prepareSwap and finishSwap, around a batched generator.)
 */
export async function swapFace(
  frame: Uint8Array,
  width: number,
  height: number,
  landmarks: readonly Point[],
  toPatch: Affine,
  generator: FaceGenerator,
  config: ConverterConfig,
  override: MaskOverride | null = null,
): Promise<SwapResult> {
  const r = generator.arch.resolution;
  const prepared = prepareSwap(frame, width, height, landmarks, toPatch, r, config, override);
  const generated = await generator.run(generator.decoderFor(config.direction), prepared.input, 1);
  return finishSwap(frame, width, height, prepared, generated, r, config);
}
