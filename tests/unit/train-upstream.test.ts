/** The training pieces that follow upstream's code (networks/losses.py, faceswap_gan_model.py, data_loader). */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { archFromSettings } from '../../src-main/engine/model/config.js';
import { buildNetworks } from '../../src-main/engine/model/networks.js';
import { Weights } from '../../src-main/engine/model/weights.js';
import { WARP_HALF_MAX, WARP_HALF_MIN, randomWarp, type Sample } from '../../src-main/engine/train/augment.js';
import type { Batch } from '../../src-main/engine/train/batch.js';
import {
  DEFAULT_LOSS_WEIGHTS,
  edgeLoss,
  reconstruction,
  relativisticDiscriminator,
  relativisticGenerator,
} from '../../src-main/engine/train/losses.js';
import { Rng } from '../../src-shared/math/rng.js';
import { Trainer, batchTensors } from '../../src-main/engine/train/trainer.js';

const W = DEFAULT_LOSS_WEIGHTS;
const TINY = archFromSettings({
  resolution: 64,
  capacity: 'lite',
  useSelfAttention: false,
  norm: 'instancenorm',
  modelWidth: 4,
  discriminatorWidth: 4,
});
const value = (t: tf.Tensor): number => t.dataSync()[0] as number;

function batch(seed: number, size = 64, count = 2): Batch {
  const rng = new Rng(seed);
  const image = (): Float32Array => Float32Array.from({ length: count * size * size * 3 }, () => rng.uniform(-1, 1));
  const eyes = new Float32Array(count * size * size);
  for (let i = 0; i < eyes.length; i += 1)
    eyes[i] = Math.floor(i / size) % size > 20 && Math.floor(i / size) % size < 30 ? 1 : 0;
  return { warped: image(), target: image(), eyes, size, count };
}

describe('losses in upstream form', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('edge loss compares absolute gradients (a mirrored ramp has the same edges) and weights the eyes by w_eyes', () => {
    const size = 8;
    // Target rises left to right, output falls: |gradient| equal everywhere, so upstream's edge loss is 0.
    const ramp = (sign: number): tf.Tensor4D =>
      tf.tensor4d(
        Float32Array.from({ length: size * size * 3 }, (_, i) => sign * (Math.floor(i / 3) % size) * 0.1),
        [1, size, size, 3],
      );
    const eyes = tf.ones([1, size, size, 1]) as tf.Tensor4D;
    expect(value(edgeLoss(ramp(-1), ramp(1), eyes, W))).toBeCloseTo(0, 6);
    // A flat output against the ramp: each horizontal |gradient| differs by 0.1, vertical ones by 0.
    const flat = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
    const expected = 0.1 * (W.wEdge + W.wEyes * 1); // axis 2 only; the eye mask is 1 everywhere
    expect(value(edgeLoss(flat, ramp(1), eyes, W))).toBeCloseTo(expected, 5);
    // Without the eyes, only w_edge: the eye term is w_eyes, not w_eyes * w_edge.
    expect(value(edgeLoss(flat, ramp(1), tf.zeros([1, size, size, 1]) as tf.Tensor4D, W))).toBeCloseTo(
      0.1 * W.wEdge,
      5,
    );
  });

  it('reconstruction weights the intermediate outputs by w_recon', () => {
    const target = tf.ones([1, 8, 8, 3]) as tf.Tensor4D;
    const color = tf.ones([1, 8, 8, 3]) as tf.Tensor4D;
    const mid = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const eyes = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    expect(value(reconstruction(color, target, eyes, [mid], { ...W, wRecon: 1 }))).toBeCloseTo(1, 6);
    expect(value(reconstruction(color, target, eyes, [mid], { ...W, wRecon: 2.5 }))).toBeCloseTo(2.5, 6);
  });

  it("relativistic LSGAN: upstream's halved terms, a plain LSGAN term for the composite", () => {
    const real = tf.tensor4d([1, 3], [2, 1, 1, 1]);
    const masked = tf.tensor4d([0.5, 0.5], [2, 1, 1, 1]);
    const color = tf.tensor4d([0, 2], [2, 1, 1, 1]);
    // mean(real) = 2, mean(color) = 1.
    const d = ((0 + 4) / 2 + 0.25) / 2 + ((-1) ** 2 + 1 ** 2) / 2 / 2 + ((0 - 2) ** 2 + (2 - 2) ** 2) / 2 / 2;
    expect(value(relativisticDiscriminator(real, masked, color))).toBeCloseTo(d, 6);
    const g = W.wD * (0.25 + (0 + 4) / 2 / 2 + ((0 - 2 - 1) ** 2 + (2 - 2 - 1) ** 2) / 2 / 2);
    expect(value(relativisticGenerator(real, masked, color, W))).toBeCloseTo(g, 6);
  });
});

describe('the model: weight decay where upstream declares a regulariser', () => {
  it('decays conv blocks, upscales, residual and attention convs; not the first conv, Dense, outputs or the critic', () => {
    const weights = new Weights(null);
    const arch = archFromSettings({
      resolution: 128,
      capacity: 'standard',
      useSelfAttention: true,
      norm: 'hybrid',
      modelWidth: 8,
      discriminatorWidth: 8,
    });
    try {
      buildNetworks(weights, arch, { discriminators: true });
      const decayed = [...weights.decayed];
      for (const name of [
        'enc/cb1/kernel',
        'enc/sa2/f/kernel',
        'enc/up/kernel',
        'decA/up1/kernel',
        'decA/res/a/kernel',
        'decA/cbx0/kernel',
        'disA/cb2/kernel',
        'disA/saextra0/h/kernel',
        'enc/cb2/norm/conv/kernel',
      ])
        expect(decayed, name).toContain(name);
      for (const name of [
        'enc/conv0/kernel',
        'enc/dense1/kernel',
        'decA/alpha/kernel',
        'decA/bgr/kernel',
        'decA/out64/kernel',
        'disA/out/kernel',
        'enc/up/bias',
        'enc/sa2/gamma',
      ])
        expect(decayed, name).not.toContain(name);
      // Every decayed variable is a kernel.
      expect(decayed.every((n) => n.endsWith('/kernel'))).toBe(true);
    } finally {
      weights.dispose();
    }
  });
});

describe('random_warp frames the face as upstream', () => {
  it('spans the whole 5x5 grid (half-width 78..97 px of the 256 crop) in the output, not its inner 80 %', () => {
    // A horizontal ramp: the target's gradient per output pixel is the source pixels one output pixel spans.
    const rgb = new Uint8Array(256 * 256 * 3);
    for (let y = 0; y < 256; y += 1) for (let x = 0; x < 256; x += 1) rgb[(y * 256 + x) * 3] = x;
    const face: Sample = { rgb, eyes: new Uint8Array(256 * 256) };
    const spans: number[] = [];
    for (let seed = 1; seed <= 24; seed += 1) {
      const out = randomWarp(face, new Rng(seed), 64);
      const row = 32 * 64;
      spans.push(((out.target[(row + 60) * 3] as number) - (out.target[(row + 3) * 3] as number)) / 57);
    }
    const mean = spans.reduce((a, b) => a + b, 0) / spans.length;
    // Mean half-width 87.5: 175 source px across 64 output px; upstream's 1/32..4-1/32 of the grid, up to noise.
    expect(mean).toBeGreaterThan((2 * WARP_HALF_MIN) / 64);
    expect(mean).toBeLessThan((2 * WARP_HALF_MAX) / 64);
    expect(Math.abs(mean - 175 / 64)).toBeLessThan(0.12);
  });
});

describe('the training iteration in upstream order', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it("trains the discriminators first: the generators' adversarial loss already sees D updated on D's own batches", async () => {
    const run = async (dSeed: number): Promise<Record<string, number>> => {
      const trainer = new Trainer({ arch: TINY, batchSize: 2, totalIterations: 100, seed: 4, learningRateFactor: 1 });
      try {
        return await trainer.stepBatches({
          d: { a: batch(dSeed), b: batch(dSeed + 1) },
          g: { a: batch(7), b: batch(8) },
        });
      } finally {
        trainer.dispose();
      }
    };
    const one = await run(1);
    const two = await run(11);
    expect(Math.abs((one.DA as number) - (two.DA as number))).toBeGreaterThan(1e-6);
    // Same generator batches, different discriminator batches: the generators' adversarial terms differ.
    expect(Math.abs((one.GA_adv as number) - (two.GA_adv as number))).toBeGreaterThan(1e-7);
    expect(Math.abs((one.GB_adv as number) - (two.GB_adv as number))).toBeGreaterThan(1e-7);
  });

  it('the cycle loss starts from the real (target) face, whatever the warped input is', () => {
    const trainer = new Trainer({
      arch: TINY,
      batchSize: 2,
      totalIterations: 100,
      seed: 4,
      learningRateFactor: 1,
      cycle: true,
    });
    try {
      const a = batch(3);
      const b = { ...batch(5), target: a.target };
      const draws = { lambda: 0.5, lambdaPerceptual: 0 };
      const cycleOf = (data: Batch): number => {
        const tensors = batchTensors(data);
        const step = trainer.gradients('G', 'A', tensors, draws);
        const v = value(step.terms.GA_cycle as tf.Scalar);
        tf.dispose([
          ...step.grads.values(),
          ...Object.values(step.terms),
          tensors.warped,
          tensors.target,
          tensors.eyes,
        ]);
        return v;
      };
      expect(cycleOf(a)).toBeCloseTo(cycleOf(b), 6);
    } finally {
      trainer.dispose();
    }
  });

  it("the schedule's decoder swap moves the Adam moments with the decoders", async () => {
    // 40 iterations: the swap fires at iteration 32 (31,850 of 40,000).
    const trainer = new Trainer({ arch: TINY, batchSize: 2, totalIterations: 40, seed: 9, learningRateFactor: 1 });
    try {
      const moment = (key: 'GA' | 'GB', name: string): Float32Array =>
        trainer
          .optimizerWeights()
          .find((t) => t.name === `adam${key}:m:${name}`)
          ?.tensor.dataSync() as Float32Array;
      for (let i = 0; i < 31; i += 1)
        await trainer.stepBatches({
          d: { a: batch(i), b: batch(i + 50) },
          g: { a: batch(i + 100), b: batch(i + 150) },
        });
      const name = 'decA/alpha/kernel';
      const other = 'decB/alpha/kernel';
      const before = { a: Float32Array.from(moment('GA', name)), b: Float32Array.from(moment('GB', other)) };
      const weightA = Float32Array.from(trainer.weights.vars.get(name)?.dataSync() as Float32Array);
      // Iteration 32 swaps, then trains once: compare where the moments and weights went.
      await trainer.stepBatches({ d: { a: batch(90), b: batch(91) }, g: { a: batch(92), b: batch(93) } });
      expect(trainer.scheduleState.swapped).toBe(true);
      const afterA = moment('GA', name);
      // Adam's m after the swap is 0.5 * (B's old m) + 0.5 * grad: closer to B's old moments than to A's.
      const distance = (x: Float32Array, y: Float32Array): number =>
        Math.hypot(...x.map((v, i) => v - (y[i] as number)));
      expect(distance(afterA, before.b)).toBeLessThan(distance(afterA, before.a));
      // And the weights moved too: decoder A now holds (an update of) decoder B's old weights.
      expect(distance(trainer.weights.vars.get(other)?.dataSync() as Float32Array, weightA)).toBeLessThan(
        distance(trainer.weights.vars.get(name)?.dataSync() as Float32Array, weightA),
      );
    } finally {
      trainer.dispose();
    }
  });
});
