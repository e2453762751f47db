import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { FACE_SIZE, trainedRegion } from './augment.js';
import type { FaceSet } from './dataset.js';
import type { Trainer } from './trainer.js';

const SAMPLES = 4;

function facesTensor(faces: FaceSet, side: 'a' | 'b', size: number): tf.Tensor4D {
  const pool = faces.faces[side];
  const picks = Array.from({ length: SAMPLES }, (_, i) => pool[Math.floor((i * pool.length) / SAMPLES)] ?? pool[0]);
  return tf.tidy(() => {
    const full = tf.stack(picks.map((p) => tf.tensor3d(p?.rgb as Uint8Array, [256, 256, 3], 'int32')));
    // The region the network sees, as conversion frames it.
    const [from, to] = trainedRegion().map((v) => v / FACE_SIZE) as [number, number];
    const crop = tf.image.cropAndResize(
      tf.cast(full, 'float32') as tf.Tensor4D,
      Array.from({ length: SAMPLES }, () => [from, from, to, to]),
      Array.from({ length: SAMPLES }, (_, i) => i),
      [size, size],
    );
    return tf.sub(tf.div(crop, 127.5), 1) as tf.Tensor4D;
  });
}

/**
 * The preview grid: for each side, rows of samples with columns input, reconstruction (A->A) raw and masked,
 * swap (A->B) raw and masked, and the attention mask; A on the left, B on the right. The raw colour output shows
 * what the decoder has learnt even while the attention mask is still near 0 (early in training the masked output
 * is mostly the input).
 */
export async function previewPng(trainer: Trainer, faces: FaceSet): Promise<Buffer> {
  const size = trainer.options.arch.resolution;
  const block = (side: 'a' | 'b'): tf.Tensor3D =>
    tf.tidy(() => {
      const input = facesTensor(faces, side, size);
      const own = trainer.generate(side === 'a' ? 'A' : 'B', input);
      const swap = trainer.generate(side === 'a' ? 'B' : 'A', input);
      const mask = tf.sub(tf.mul(tf.tile(own.alpha, [1, 1, 1, 3]), 2), 1);
      const row = tf.concat([input, own.color, own.masked, swap.color, swap.masked, mask], 2); // [S, size, 6*size, 3]
      return tf.reshape(row, [SAMPLES * size, 6 * size, 3]) as tf.Tensor3D;
    });
  const grid = tf.tidy(() => {
    const both = tf.concat([block('a'), block('b')], 1);
    return tf.cast(tf.clipByValue(tf.round(tf.mul(tf.add(both, 1), 127.5)), 0, 255), 'int32');
  });
  const [h, w] = grid.shape as [number, number, number];
  const pixels = Uint8Array.from(await grid.data());
  grid.dispose();
  return sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 3 } })
    .resize({ width: w * 2, height: h * 2, kernel: 'nearest' })
    .png()
    .toBuffer();
}
