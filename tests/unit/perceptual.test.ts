import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { motionBlur } from '../../src-main/engine/train/augment.js';
import { PerceptualNet, perceptualLoss } from '../../src-main/engine/train/perceptual.js';
import { Rng } from '../../src-main/engine/train/rng.js';
import { media } from '../helpers/paths.js';

const W = [0.01, 0.1, 0.3, 0.1] as const;

describe('perceptual loss on the face-api recognition net', () => {
  let nets: FaceNets;
  let net: PerceptualNet;
  let face: tf.Tensor4D;
  let pixels: Uint8Array;

  beforeAll(async () => {
    await selectBackend('wasm');
    nets = await FaceNets.load();
    net = await PerceptualNet.fromFaceNets(nets);
    const { data } = await sharp(media('b_biden_1.jpg'))
      .resize(150, 150)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    pixels = new Uint8Array(data);
    face = tf.tidy(() => tf.sub(tf.div(tf.tensor4d(Float32Array.from(pixels), [1, 150, 150, 3]), 127.5), 1));
  });

  it("the rebuilt network is face-api's: the same 128-d descriptor for the same face", async () => {
    const reference = await nets.descriptor(pixels, 150, 150, [1, 0, 0, 0, 1, 0], 150);
    const rebuilt = await net.descriptor(face).data();
    let d = 0;
    for (let i = 0; i < 128; i += 1) d += ((rebuilt[i] as number) - (reference[i] as number)) ** 2;
    expect(Math.sqrt(d)).toBeLessThan(1e-4);
  });

  it('gives four feature maps, deepest first, and a loss of 0 for the same face', () => {
    const maps = net.features(face);
    expect(maps.map((m) => m.shape[3])).toEqual([256, 128, 64, 32]);
    expect(perceptualLoss(net, face, face, W).dataSync()[0]).toBeCloseTo(0, 6);
    tf.dispose(maps);
  });

  it('grows as the face is disturbed, and passes a gradient back to the fake face', () => {
    const blurred = tf.tidy(() => tf.avgPool(face, 9, 1, 'same') as tf.Tensor4D);
    const flipped = tf.tidy(() => tf.reverse(face, 1) as tf.Tensor4D);
    const mild = perceptualLoss(net, blurred, face, W).dataSync()[0] as number;
    const strong = perceptualLoss(net, flipped, face, W).dataSync()[0] as number;
    expect(mild).toBeGreaterThan(0);
    expect(strong).toBeGreaterThan(mild);
    const grad = tf.grad((x: tf.Tensor) => perceptualLoss(net, x as tf.Tensor4D, face, W))(blurred);
    expect(tf.max(tf.abs(grad)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([blurred, flipped, grad]);
  });
});

describe('motion blur augmentation', () => {
  it('smears a sharp edge along a random line, deterministically for a seed', () => {
    const size = 64;
    const rgb = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y += 1)
      for (let x = 0; x < size; x += 1) if (x >= 32) rgb.fill(255, (y * size + x) * 3, (y * size + x) * 3 + 3);
    const a = motionBlur(rgb, new Rng(3), size);
    const b = motionBlur(rgb, new Rng(3), size);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    // Some pixels near the edge are now between black and white, far from it nothing changed.
    const row = 20 * size;
    const grey = [28, 29, 30, 31, 32, 33, 34, 35].filter((x) => {
      const v = a[(row + x) * 3] as number;
      return v > 0 && v < 255;
    });
    expect(grey.length).toBeGreaterThan(0);
    expect(a[(row + 2) * 3]).toBe(0);
    expect(a[(row + 60) * 3]).toBe(255);
  });
});
