import { alignmentTransform, estimatePose, eyeCentres, templateInCrop } from '../../../src-shared/math/face.js';
import { applyAffine, affineScale, type Affine, type Point } from '../../../src-shared/math/geometry.js';
import { grayscale, laplacianVariance, warpAffine } from '../../../src-shared/math/raster.js';

/** Side of the stored aligned face crops; training resizes from these. */
export const ALIGNED_SIZE = 256;

export interface AlignedFace {
  transform: Affine;
  /** Packed RGB of the aligned crop. */
  crop: Uint8Array;
  /** Landmarks in crop pixels. */
  cropLandmarks: Point[];
  /** Face size in frame pixels (distance that the template's inner region spans). */
  faceSide: number;
  sharpness: number;
  yaw: number;
  pitch: number;
  roll: number;
}

/** Align a face to the template and measure what the quality filters need. Pure. */
export function alignFace(
  rgb: Uint8Array,
  width: number,
  height: number,
  landmarks: Point[],
  size = ALIGNED_SIZE,
): AlignedFace {
  const transform = alignmentTransform(landmarks, size);
  const crop = warpAffine(rgb, width, height, 3, transform, size, size);
  const cropLandmarks = landmarks.map((p) => applyAffine(transform, p));
  // Sharpness is measured at the face's own resolution, not after upscaling, so small faces are not all 'blurry'.
  const faceSide = (size * (1 - 2 * 0.1875)) / affineScale(transform);
  const measureSize = Math.max(32, Math.min(size, Math.round(faceSide / (1 - 2 * 0.1875))));
  const scaled: Affine = transform.map((v) => (v * measureSize) / size) as Affine;
  const small = warpAffine(rgb, width, height, 3, scaled, measureSize, measureSize);
  const sharpness = laplacianVariance(grayscale(small, measureSize, measureSize), measureSize, measureSize);
  return { transform, crop, cropLandmarks, faceSide, sharpness, ...estimatePose(landmarks) };
}

/** How far the aligned eye centres are from the template's, as a share of the crop size. */
export function eyeAlignmentError(cropLandmarks: Point[], size = ALIGNED_SIZE): number {
  const template = templateInCrop(size);
  // Template points are landmarks 17..67, so eye i sits at i - 17.
  const templateFull: Point[] = new Array<Point>(17).fill([0, 0]).concat(template);
  const want = eyeCentres(templateFull);
  const got = eyeCentres(cropLandmarks);
  return (
    Math.max(
      Math.hypot(want.left[0] - got.left[0], want.left[1] - got.left[1]),
      Math.hypot(want.right[0] - got.right[0], want.right[1] - got.right[1]),
    ) / size
  );
}
