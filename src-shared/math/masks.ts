import { applyAffine, convexHull, type Affine, type Point } from './geometry.js';
import { PART_HULLS } from './face.js';
import { segmentationOf } from '../contract/segmentations.js';
import { dilate, gaussianBlur, rasterizePolygon, toFloatMask, warpAffine } from './raster.js';

export type MaskPart = keyof typeof PART_HULLS;
export const MASK_PARTS = Object.keys(PART_HULLS) as MaskPart[];

/** Half-thickness given to each eyebrow, as a share of the brows' span: five points on an arc hull to a sliver. */
const BROW_HALF_THICKNESS = 0.05;

/** The convex hull polygons of one part from 68 landmarks (two for paired parts). */
export function partPolygons(landmarks: readonly Point[], part: MaskPart): Point[][] {
  return PART_HULLS[part].map((indexes) => {
    const points = indexes.map((i) => landmarks[i] as Point);
    if (part !== 'eyebrows') return convexHull(points);
    const a = landmarks[17] as Point;
    const b = landmarks[26] as Point;
    const span = Math.hypot(b[0] - a[0], b[1] - a[1]);
    // Thicken along the face's vertical (perpendicular to the brow line) so the hull is a band, not a sliver.
    const nx = (-(b[1] - a[1]) / span) * span * BROW_HALF_THICKNESS;
    const ny = ((b[0] - a[0]) / span) * span * BROW_HALF_THICKNESS;
    return convexHull(points.flatMap(([x, y]) => [[x + nx, y + ny] as Point, [x - nx, y - ny] as Point]));
  });
}

export interface MaskOptions {
  /** Square dilation kernel in pixels (the fork used 9x9). */
  dilation: number;
  /** Gaussian feather kernel in pixels (0 = hard edge). */
  feather: number;
  /** Dilation passes (the fork dilated twice). */
  iterations?: number;
}

/** A part's mask: hull fill -> dilation -> feathering; values 0..1. */
export function partMask(
  landmarks: readonly Point[],
  parts: readonly MaskPart[],
  width: number,
  height: number,
  options: MaskOptions,
): Float32Array {
  let hard: Uint8Array = new Uint8Array(width * height);
  for (const part of parts)
    for (const polygon of partPolygons(landmarks, part)) rasterizePolygon(polygon, width, height, hard);
  for (let i = 0; i < (options.iterations ?? 1); i += 1) hard = dilate(hard, width, height, options.dilation);
  const soft = toFloatMask(hard);
  return options.feather > 1 ? gaussianBlur(soft, width, height, options.feather | 1) : soft;
}

/** The training eye mask of the spec: hull of landmarks 36-47, dilate 13x13, blur 7x7. */
export function trainingEyeMask(landmarks: readonly Point[], width: number, height: number): Float32Array {
  return partMask(landmarks, ['eyes'], width, height, { dilation: 13, feather: 7 });
}

/**
 * The training eye mask from a hand-edited eyes mask (0..255, the crop's pixels: a painted raster, or the edited
 * polygon filled), dilated and blurred as the automatic one is.
 */
export function trainingEyeMaskFromEdit(edit: PartEdit, width: number, height: number): Float32Array | null {
  let hard: Uint8Array;
  if (edit.raster && edit.raster.length === width * height)
    hard = Uint8Array.from(edit.raster, (v) => (v >= 128 ? 255 : 0));
  else if (edit.polygon && edit.polygon.length >= 3) hard = rasterizePolygon(edit.polygon, width, height);
  else return null;
  return gaussianBlur(toFloatMask(dilate(hard, width, height, 13)), width, height, 7);
}

/** The converter's segmentation choices as the parts they blend (declared with the choices themselves). */
export function segmentationParts(segmentation: string): MaskPart[] {
  const entry = segmentationOf(segmentation);
  if (!entry) throw new Error(`unknown segmentation ${segmentation}`);
  return [...entry.parts];
}

/** A hand edit of one part, in the aligned crop's pixels: its polygon, and/or its painted mask (the whole part). */
export interface PartEdit {
  polygon: Point[] | null;
  /** cropSize x cropSize, 0..255; when present it is the part's mask and the polygon is only its outline. */
  raster: Uint8Array | null;
}

/** The hand edits of one face: in crop pixels, with the crop's size. */
export interface MaskEdits {
  cropSize: number;
  parts: Partial<Record<MaskPart, PartEdit>>;
}

/** A face's hand-edited masks and where its aligned crop lies in the frame (frame -> crop pixels). */
export interface MaskOverride {
  edits: MaskEdits;
  frameToCrop: Affine;
}

/**
 * The parts mask of a swap, in the generator patch's pixels (size x size, 0..1, not yet feathered): parts without
 * an edit come from the landmark hulls, dilated as partMask does; an edited part is used as the user drew it (its
 * painted raster, else its polygon), carried from crop to patch pixels by `cropToPatch`.
 */
export function swapPartsMask(
  patchLandmarks: readonly Point[],
  parts: readonly MaskPart[],
  size: number,
  options: MaskOptions,
  edits: MaskEdits | null = null,
  cropToPatch: Affine | null = null,
): Float32Array {
  const automatic = parts.filter((part) => !edits?.parts[part]);
  const mask =
    automatic.length > 0 ? partMask(patchLandmarks, automatic, size, size, options) : new Float32Array(size * size);
  if (!edits || !cropToPatch) return mask;
  for (const part of parts) {
    const edit = edits.parts[part];
    if (!edit) continue;
    let drawn: Uint8Array;
    if (edit.raster) drawn = warpAffine(edit.raster, edits.cropSize, edits.cropSize, 1, cropToPatch, size, size);
    else if (edit.polygon && edit.polygon.length >= 3)
      drawn = rasterizePolygon(
        edit.polygon.map((p) => applyAffine(cropToPatch, p)),
        size,
        size,
      );
    else continue;
    for (let i = 0; i < mask.length; i += 1) mask[i] = Math.max(mask[i] as number, (drawn[i] as number) / 255);
  }
  return mask;
}
