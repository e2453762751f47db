/**
 * Carrying a followed face from one frame to the next by its landmarks alone, without a detector run: the box moves
 * as the landmarks moved, and a small aligned look at the face must still resemble the last frame's, or the
 * detector is asked after all (a face that turned away, left or was covered). Pure: frames and points in.
 */
import { alignmentTransform } from '../../../src-shared/math/face.js';
import { applyAffine, umeyama, type Box, type Point } from '../../../src-shared/math/geometry.js';
import { warpAffine } from '../../../src-shared/math/raster.js';

/** Side of the aligned grey look (px): enough for the face's layout, too small for expression details. */
export const LOOK_SIZE = 16;

/**
 * The face's aligned grey look, zero mean and unit length (so two looks compare by their dot product, a normalised
 * cross-correlation). Null for a flat patch (nothing to compare).
 */
export function faceLook(
  rgb: Uint8Array,
  width: number,
  height: number,
  landmarks: readonly Point[],
): Float32Array | null {
  const crop = warpAffine(rgb, width, height, 3, alignmentTransform(landmarks, LOOK_SIZE), LOOK_SIZE, LOOK_SIZE);
  const look = new Float32Array(LOOK_SIZE * LOOK_SIZE);
  let mean = 0;
  for (let i = 0; i < look.length; i += 1) {
    const v =
      0.299 * (crop[3 * i] as number) + 0.587 * (crop[3 * i + 1] as number) + 0.114 * (crop[3 * i + 2] as number);
    look[i] = v;
    mean += v;
  }
  mean /= look.length;
  let norm = 0;
  for (let i = 0; i < look.length; i += 1) {
    const v = (look[i] as number) - mean;
    look[i] = v;
    norm += v * v;
  }
  if (norm < 1e-6 * look.length) return null;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < look.length; i += 1) look[i] = (look[i] as number) * scale;
  return look;
}

/** Normalised cross-correlation of two looks (1: the same picture up to brightness and contrast). */
export function lookSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i += 1) dot += (a[i] as number) * (b[i] as number);
  return dot;
}

/** The box moved, scaled and shifted as the landmarks moved (a least-squares similarity, its rotation ignored). */
export function carryBox(box: Box, from: readonly Point[], to: readonly Point[]): Box {
  const m = umeyama(from, to);
  const scale = Math.hypot(m[0], m[3]);
  const [cx, cy] = applyAffine(m, [box.x + box.width / 2, box.y + box.height / 2]);
  const width = box.width * scale;
  const height = box.height * scale;
  return { x: cx - width / 2, y: cy - height / 2, width, height };
}

/** Whether a box lies inside the frame with `margin` (a share of the box's side) to spare on every side. */
export function wellInside(box: Box, width: number, height: number, margin: number): boolean {
  const mx = box.width * margin;
  const my = box.height * margin;
  return box.x >= mx && box.y >= my && box.x + box.width <= width - mx && box.y + box.height <= height - my;
}
