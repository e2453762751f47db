/** Drawing an augmented training batch from decoded faces: pure, so the loader thread can run it. */
import type { Side } from '../../../src-shared/contract/index.js';
import { colourMatch, motionBlur, randomTransform, randomWarp, type Sample } from './augment.js';
import type { Rng } from './rng.js';

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

/** Draw an augmented batch for one side; deterministic for a given RNG state. */
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
    sample = randomTransform(sample, rng);
    if (rng.next() < 0.5)
      sample = { ...sample, rgb: colourMatch(sample.rgb, (all[rng.int(all.length)] as Sample).rgb, rng) };
    if (options.motionBlur && rng.next() < 0.25) sample = { ...sample, rgb: motionBlur(sample.rgb, rng) };
    const out = randomWarp(sample, rng, size);
    const o = i * size * size * 3;
    for (let k = 0; k < size * size * 3; k += 1) {
      warped[o + k] = (out.warped[k] as number) / 127.5 - 1;
      target[o + k] = (out.target[k] as number) / 127.5 - 1;
    }
    for (let k = 0; k < size * size; k += 1) eyes[i * size * size + k] = (out.eyes[k] as number) / 255;
  }
  return { warped, target, eyes, size, count };
}
