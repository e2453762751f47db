/**
 * The seed's Method #1 for face parts: the target person's part (eyes, brows, nose or mouth), taken from the
 * target face most like the source face, pasted into the source face to make training images; the source decoder
 * learns to draw the source face with the target's part. The seed names its weaknesses (edges of the paste, one
 * training per part); this pastes with a similarity fit of the part's landmarks, a mean/std colour match inside
 * the pasted region and a feathered edge. Pure: images are 256 px aligned crops with their 68 landmarks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PART_HULLS } from '../../../src-shared/math/face.js';
import { umeyama, type Point } from '../../../src-shared/math/geometry.js';
import { partMask, type MaskPart } from '../../../src-shared/math/masks.js';
import { gaussianBlur, warpAffine } from '../../../src-shared/math/raster.js';
import type { PerceptualNet } from './perceptual.js';

export interface LandmarkedFace {
  /** 256 x 256 RGB, packed. */
  rgb: Uint8Array;
  /** The face's 68 landmarks in the crop's pixels. */
  landmarks: readonly Point[];
}

export const PASTE_SIZE = 256;
/** The pasted region: the part's hull dilated by this square (px of the 256 crop), then feathered. */
const PASTE_DILATION = 15;
const PASTE_FEATHER = 15;

/** The part's landmark indexes (both eyes, both brows, ...). */
const partPoints = (part: MaskPart): number[] => PART_HULLS[part].flat();

/**
 * The source face with the donor's part: the donor warped so its part's landmarks fit the source's (similarity),
 * its colours matched to the source's inside the region, blended in through the feathered region. Returns the new
 * image and the blend weight per pixel (nothing outside its non-zero support changes).
 */
export function pastePart(
  source: LandmarkedFace,
  donor: LandmarkedFace,
  part: MaskPart,
): { rgb: Uint8Array; mask: Float32Array } {
  const size = PASTE_SIZE;
  const idx = partPoints(part);
  const fit = umeyama(
    idx.map((i) => donor.landmarks[i] as Point),
    idx.map((i) => source.landmarks[i] as Point),
  );
  const warped = warpAffine(donor.rgb, size, size, 3, fit, size, size);
  const hard = partMask(source.landmarks, [part], size, size, { dilation: PASTE_DILATION, feather: 0 });
  const mask = gaussianBlur(hard, size, size, PASTE_FEATHER);
  // Mean and spread of each channel, weighted by the region, on both sides: the donor's part takes the source's.
  const moments = (img: Uint8Array): { mean: number[]; std: number[] } => {
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    let n = 0;
    for (let p = 0; p < size * size; p += 1) {
      const w = mask[p] as number;
      if (w <= 0) continue;
      n += w;
      for (let c = 0; c < 3; c += 1) {
        const v = img[p * 3 + c] as number;
        sum[c] = (sum[c] as number) + w * v;
        sq[c] = (sq[c] as number) + w * v * v;
      }
    }
    const mean = sum.map((s) => s / Math.max(n, 1e-6));
    return { mean, std: sq.map((s, c) => Math.sqrt(Math.max(1e-6, s / Math.max(n, 1e-6) - (mean[c] as number) ** 2))) };
  };
  const s = moments(source.rgb);
  const d = moments(warped);
  const rgb = Uint8Array.from(source.rgb);
  for (let p = 0; p < size * size; p += 1) {
    const w = mask[p] as number;
    if (w <= 0) continue;
    for (let c = 0; c < 3; c += 1) {
      const o = p * 3 + c;
      const matched =
        (((warped[o] as number) - (d.mean[c] as number)) / (d.std[c] as number)) * (s.std[c] as number) +
        (s.mean[c] as number);
      rgb[o] = Math.round(Math.min(255, Math.max(0, w * matched + (1 - w) * (source.rgb[o] as number))));
    }
  }
  return { rgb, mask };
}

/**
 * The seed's "averaged feature maps": each stage of the recognition net (the perceptual loss's) averaged over the
 * face, the four concatenated (480 values) and scaled to unit length.
 */
export async function faceFeatures(
  net: PerceptualNet,
  faces: readonly Uint8Array[],
  size = PASTE_SIZE,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < faces.length; start += 16) {
    const chunk = faces.slice(start, start + 16);
    const features = tf.tidy(() => {
      const input = tf.sub(
        tf.div(
          tf.tensor4d(Float32Array.from(chunk.flatMap((f) => Array.from(f))), [chunk.length, size, size, 3]),
          127.5,
        ),
        1,
      ) as tf.Tensor4D;
      const pooled = net.features(input).map((map) => tf.mean(map, [1, 2]));
      const joined = tf.concat(pooled, 1);
      return tf.div(joined, tf.norm(joined, 'euclidean', 1, true));
    });
    const values = (await features.data()) as Float32Array;
    const width = features.shape[1] as number;
    features.dispose();
    for (let i = 0; i < chunk.length; i += 1) out.push(values.slice(i * width, (i + 1) * width));
  }
  return out;
}

/** For each source feature, the nearest target (k = 1, Euclidean on unit vectors) and its distance. */
export function nearest(
  sources: readonly Float32Array[],
  targets: readonly Float32Array[],
): Array<{ index: number; distance: number }> {
  if (targets.length === 0) return [];
  const dims = (targets[0] as Float32Array).length;
  const result = tf.tidy(() => {
    const a = tf.tensor2d(Float32Array.from(sources.flatMap((f) => Array.from(f))), [sources.length, dims]);
    const b = tf.tensor2d(Float32Array.from(targets.flatMap((f) => Array.from(f))), [targets.length, dims]);
    const similarity = tf.matMul(a, b, false, true);
    return [tf.argMax(similarity, 1), tf.max(similarity, 1)];
  });
  const index = result[0]?.dataSync() as Int32Array;
  const best = result[1]?.dataSync() as Float32Array;
  tf.dispose(result);
  // |a - b|^2 = 2 - 2 a.b for unit vectors.
  return Array.from(index, (i, k) => ({ index: i, distance: Math.sqrt(Math.max(0, 2 - 2 * (best[k] as number))) }));
}
