import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { filter2D, motionBlurKernel } from '../../src-main/engine/train/augment.js';
import { drawBatch } from '../../src-main/engine/train/batch.js';
import { PerceptualNet, perceptualLoss } from '../../src-main/engine/train/perceptual.js';
import { Rng } from '../../src-shared/math/rng.js';
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
  it("builds upstream's kernel: a rotated line through the centre, summing to 1, point-symmetric", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const kernel = motionBlurKernel(new Rng(seed));
      expect([5, 7, 9, 11]).toContain(kernel.size);
      const k = kernel.size;
      const sum = kernel.weights.reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      for (let i = 0; i < k * k; i += 1)
        expect(Math.abs((kernel.weights[i] as number) - (kernel.weights[k * k - 1 - i] as number))).toBeLessThan(1e-6);
      // A line, not a blob: at least half of the cells are empty, and the centre carries weight.
      expect(kernel.weights.filter((v) => v === 0).length).toBeGreaterThanOrEqual((k * k) / 2);
      expect(kernel.weights[(k * k - 1) / 2]).toBeGreaterThan(0);
    }
  });

  it('smears a sharp edge (filter2D, reflected borders) and leaves a flat area as it was', () => {
    const size = 32;
    const img = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y += 1)
      for (let x = 0; x < size; x += 1) if (x >= 16) img.fill(1, (y * size + x) * 3, (y * size + x) * 3 + 3);
    // A horizontal line kernel: seed chosen so the angle is within 20 degrees of horizontal.
    let kernel = motionBlurKernel(new Rng(1));
    for (let seed = 1; seed < 200; seed += 1) {
      const k = motionBlurKernel(new Rng(seed));
      const c = (k.size - 1) / 2;
      if (k.size >= 7 && (k.weights[c * k.size] as number) > 0.1) {
        kernel = k;
        break;
      }
    }
    const out = filter2D(img, size, kernel);
    const row = 10 * size;
    const between = [13, 14, 15, 16, 17, 18].filter((x) => {
      const v = out[(row + x) * 3] as number;
      return v > 0.05 && v < 0.95;
    });
    expect(between.length).toBeGreaterThan(1);
    expect(out[(row + 1) * 3]).toBeCloseTo(0, 5);
    expect(out[(row + 30) * 3]).toBeCloseTo(1, 5);
  });

  it('reaches the batches when switched on: the same draws give a blurred batch, warped and target alike', () => {
    const size = 64;
    const face = (seed: number): { rgb: Uint8Array; eyes: Uint8Array } => ({
      rgb: new Uint8Array(256 * 256 * 3).map((_, i) => (i % 768 < 384 ? 40 : 220) + ((i * 13 + seed) % 9)),
      eyes: new Uint8Array(256 * 256),
    });
    const faces = { a: [face(1), face(2)], b: [face(3)] };
    let differs = 0;
    for (let seed = 0; seed < 12; seed += 1) {
      const plain = drawBatch(faces, 'a', 1, size, new Rng(seed));
      const blurred = drawBatch(faces, 'a', 1, size, new Rng(seed), { motionBlur: true });
      const changed = (a: Float32Array, b: Float32Array): boolean =>
        a.some((v, i) => Math.abs(v - (b[i] as number)) > 1e-3);
      const w = changed(plain.warped, blurred.warped);
      expect(changed(plain.target, blurred.target)).toBe(w);
      if (w) differs += 1;
    }
    // p = 0.25 per face: some of twelve are blurred, not all.
    expect(differs).toBeGreaterThan(0);
    expect(differs).toBeLessThan(12);
  });
});
