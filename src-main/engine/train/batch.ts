/** Drawing an augmented training batch from decoded faces: pure, so the loader thread can run it. */
import type { Side } from '../../../src-shared/contract/index.js';
import { colourMatch, filter2D, motionBlurKernel, randomTransform, randomWarp, type Sample } from './augment.js';
import type { Rng } from '../../../src-shared/math/rng.js';
import { mapToFloat32 } from '../../../src-shared/math/arrays.js';

/** A batch as flat arrays: images in -1..1 (NHWC), eye masks in 0..1 (NHW1). */
export interface Batch {
  warped: Float32Array;
  target: Float32Array;
  eyes: Float32Array;
  size: number;
  count: number;
}

export interface AugmentOptions {
  /** Motion blur with p = 0.25 (off by default, as in the original). */
  motionBlur?: boolean;
}

/**
 * Draw an augmented batch for one side; deterministic for a given RNG state. Per face, in upstream's order
 * (data_loader/data_augmentation.py read_image): random colour match (p 0.5) against any face of A or B,
 * random_transform, random_warp, then the optional motion blur (p 0.25) on the warped input and the target
 * alike, at the output size.
 */
export function drawBatch(
  faces: Record<Side, Sample[]>,
  side: Side,
  count: number,
  size: number,
  rng: Rng,
  options: AugmentOptions = {},
): Batch {
  const pool = faces[side];
  const all = [...faces.a, ...faces.b];
  const warped = new Float32Array(count * size * size * 3);
  const target = new Float32Array(count * size * size * 3);
  const eyes = new Float32Array(count * size * size);
  for (let i = 0; i < count; i += 1) {
    let sample = pool[rng.int(pool.length)] as Sample;
    if (rng.next() < 0.5)
      sample = { ...sample, rgb: colourMatch(sample.rgb, (all[rng.int(all.length)] as Sample).rgb, rng) };
    sample = randomTransform(sample, rng);
    const out = randomWarp(sample, rng, size);
    let w: Float32Array = mapToFloat32(out.warped, (v) => v / 127.5 - 1);
    let t: Float32Array = mapToFloat32(out.target, (v) => v / 127.5 - 1);
    if (options.motionBlur && rng.next() < 0.25) {
      const kernel = motionBlurKernel(rng);
      w = filter2D(w, size, kernel);
      t = filter2D(t, size, kernel);
    }
    warped.set(w, i * size * size * 3);
    target.set(t, i * size * size * 3);
    for (let k = 0; k < size * size; k += 1) eyes[i * size * size + k] = (out.eyes[k] as number) / 255;
  }
  return { warped, target, eyes, size, count };
}

/** The four batches of one iteration: the discriminators' pair, then the generators' pair (upstream draws both). */
export interface IterationBatches {
  d: Record<Side, Batch>;
  g: Record<Side, Batch>;
}

/** The four batches of one training iteration, in upstream's order: D's pair (A, B), then G's pair (A, B). */
export function drawIteration(
  faces: Record<Side, Sample[]>,
  request: { count: number; size: number } & AugmentOptions,
  rng: Rng,
): IterationBatches {
  const draw = (side: Side): Batch => drawBatch(faces, side, request.count, request.size, rng, request);
  const d = { a: draw('a'), b: draw('b') };
  const g = { a: draw('a'), b: draw('b') };
  return { d, g };
}
