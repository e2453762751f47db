import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { pixelShuffle } from '../../src-main/engine/model/layers.js';
import { colourMatch, randomWarp, randomTransform, type Sample } from '../../src-main/engine/train/augment.js';
import { decodeModelFile } from '../../src-main/engine/io/model-file.js';
import { Rng } from '../../src-shared/math/rng.js';
import { INITIAL_SCHEDULE_STATE, scaledSchedule, scheduleAt } from '../../src-main/engine/train/schedule.js';
import { relativeError } from '../helpers/tensors.js';

function gradientFace(): Sample {
  const rgb = new Uint8Array(256 * 256 * 3);
  for (let y = 0; y < 256; y += 1)
    for (let x = 0; x < 256; x += 1) {
      const i = (y * 256 + x) * 3;
      rgb[i] = x;
      rgb[i + 1] = y;
      rgb[i + 2] = (x * 7 + y * 3) % 256;
    }
  const eyes = new Uint8Array(256 * 256);
  for (let y = 100; y < 120; y += 1) for (let x = 80; x < 176; x += 1) eyes[y * 256 + x] = 255;
  return { rgb, eyes };
}

describe('schedule as data', () => {
  it('scales the 40k schedule to the chosen total and applies it in order', () => {
    const events = scaledSchedule(20_000);
    expect(events.map((e) => e.at)).toEqual([3925, 5925, 7925, 9925, 13258, 15925, 17925]);
    expect(scheduleAt(events, 0)).toEqual(INITIAL_SCHEDULE_STATE);
    expect(scheduleAt(events, 3925)).toMatchObject({ perceptual: true, hinge: false });
    expect(scheduleAt(events, 8000)).toMatchObject({ hinge: true, mMask: 0.2 });
    expect(scheduleAt(events, 14000)).toMatchObject({ hinge: false, lrFactor: 0.3, swapped: false });
    expect(scheduleAt(events, 16000)).toMatchObject({ hinge: true, mMask: 0.1, swapped: true });
    expect(scheduleAt(events, 20000)).toMatchObject({ hinge: false, lrFactor: 0.1, swapped: true });
  });
});

describe('seeded randomness', () => {
  it('repeats exactly from a saved state', () => {
    const a = new Rng(42);
    a.next();
    const saved = a.seedState;
    const first = [a.next(), a.normal(), a.beta(0.2, 0.2)];
    const b = new Rng(0);
    b.restore(saved);
    expect([b.next(), b.normal(), b.beta(0.2, 0.2)]).toEqual(first);
  });

  it('draws Beta(0.2, 0.2) mostly near 0 and 1', () => {
    const rng = new Rng(3);
    const draws = Array.from({ length: 2000 }, () => rng.beta(0.2, 0.2));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThanOrEqual(1);
    const extreme = draws.filter((d) => d < 0.1 || d > 0.9).length / draws.length;
    expect(extreme).toBeGreaterThan(0.5);
    expect(Math.abs(draws.reduce((s, d) => s + d, 0) / draws.length - 0.5)).toBeLessThan(0.05);
  });
});

describe('augmentation', () => {
  it('random_warp distorts the input while the target is an undistorted similarity of the face', () => {
    const face = gradientFace();
    const out = randomWarp(face, new Rng(5), 64);
    // A similarity maps a linear ramp to a linear ramp: the target fits a plane up to rounding, the warped input does not.
    const planeResidual = (img: Uint8Array): number => {
      // Least squares of v = a + b x + c y over the red channel (x and y are centred, so the normal equations decouple).
      let sv = 0;
      let sxv = 0;
      let syv = 0;
      let sxx = 0;
      let syy = 0;
      const n = 64 * 64;
      for (let y = 0; y < 64; y += 1)
        for (let x = 0; x < 64; x += 1) {
          const v = img[(y * 64 + x) * 3] as number;
          const cx = x - 31.5;
          const cy = y - 31.5;
          sv += v;
          sxv += cx * v;
          syv += cy * v;
          sxx += cx * cx;
          syy += cy * cy;
        }
      const a = sv / n;
      const b = sxv / sxx;
      const c = syv / syy;
      let err = 0;
      for (let y = 0; y < 64; y += 1)
        for (let x = 0; x < 64; x += 1)
          err += ((img[(y * 64 + x) * 3] as number) - (a + b * (x - 31.5) + c * (y - 31.5))) ** 2;
      return Math.sqrt(err / n);
    };
    expect(planeResidual(out.target)).toBeLessThan(1.5);
    expect(planeResidual(out.warped)).toBeGreaterThan(2 * planeResidual(out.target));
    // The eye mask follows the target.
    expect(out.eyes.some((v) => v > 200)).toBe(true);
  });

  it("random_color_match moves the centre's colour statistics towards the reference's by the drawn ratio", () => {
    const flat = (r: number, g: number, b: number): Uint8Array => {
      const img = new Uint8Array(256 * 256 * 3);
      for (let i = 0; i < img.length; i += 3) {
        const wobble = ((i / 3) % 7) - 3;
        img[i] = r + wobble;
        img[i + 1] = g + wobble;
        img[i + 2] = b + wobble;
      }
      return img;
    };
    const source = flat(60, 90, 120);
    const reference = flat(180, 150, 100);
    const centreMean = (img: Uint8Array, ch: number): number => {
      let sum = 0;
      let n = 0;
      for (let y = 60; y < 196; y += 1)
        for (let x = 60; x < 196; x += 1) {
          sum += img[(y * 256 + x) * 3 + ch] as number;
          n += 1;
        }
      return sum / n;
    };
    let rgbRuns = 0;
    for (let seed = 1; seed <= 12; seed += 1) {
      const draws = new Rng(seed);
      const xyz = draws.next() < 0.5;
      const ratio = draws.uniform(0, 1);
      const out = colourMatch(source, reference, new Rng(seed));
      // The same draws give the same image (each face's statistics are kept from its first match).
      expect(Buffer.from(colourMatch(source, reference, new Rng(seed))).equals(Buffer.from(out))).toBe(true);
      if (xyz) continue;
      rgbRuns += 1;
      for (let ch = 0; ch < 3; ch += 1) {
        const want = ratio * centreMean(reference, ch) + (1 - ratio) * centreMean(source, ch);
        expect(Math.abs(centreMean(out, ch) - want), `seed ${seed} channel ${ch}`).toBeLessThan(1);
      }
    }
    expect(rgbRuns).toBeGreaterThan(2);
  });

  it('random_transform moves image and mask together', () => {
    const face = gradientFace();
    const moved = randomTransform(face, new Rng(9));
    let inside = 0;
    let total = 0;
    for (let i = 0; i < moved.eyes.length; i += 1) {
      if ((moved.eyes[i] as number) < 128) continue;
      total += 1;
      const y = Math.floor(i / 256);
      // The mask came from rows 100-119: the pixels under it still carry those rows' green values (rotation <= 10 deg, zoom 0.9-1.1).
      if (Math.abs((moved.rgb[i * 3 + 1] as number) - 110) < 40) inside += 1;
      void y;
    }
    expect(inside / total).toBeGreaterThan(0.9);
  });
});

describe('model pieces', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('pixel shuffle moves channel blocks to 2x2 sub-pixels', () => {
    const c = 2;
    const x = tf.tensor4d(
      Float32Array.from({ length: 1 * 1 * 1 * 4 * c }, (_, i) => i),
      [1, 1, 1, 4 * c],
    );
    const y = pixelShuffle(x);
    expect(y.shape).toEqual([1, 2, 2, c]);
    // Sub-pixel (i, j) takes channels [(i*2+j)*c, (i*2+j)*c + c).
    expect(Array.from(y.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    tf.dispose([x, y]);
  });

  it('refuses a truncated or corrupted checkpoint with a clear error', () => {
    expect(() => decodeModelFile('/x/ckpt.fpck', Buffer.from('nope'))).toThrow(/not a FaceParts checkpoint/);
    const header = Buffer.from(JSON.stringify({ version: 1, sha256: '00', tensors: [] }));
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(1, 0);
    lengths.writeUInt32LE(header.length, 4);
    const bytes = Buffer.concat([Buffer.from('FPCK'), lengths, header, Buffer.from([1, 2, 3, 4])]);
    expect(() => decodeModelFile('/x/ckpt.fpck', bytes)).toThrow(/checksum mismatch/);
    expect(() => decodeModelFile('/x/ckpt.fpck', bytes.subarray(0, 20))).toThrow(/truncated header/);
  });
});

describe('memory-saving attention', () => {
  // On wasm the backward pass transposes its N x N maps with the tiled kernel (n = 72: 5184 values, above the size
  // it takes); sharp logits (scale 3) test the softmax gradient.
  it.each([
    ['cpu', 6, 1],
    ['wasm', 72, 3],
  ] as const)(
    'on %s (n=%i, logit scale %i) matches the plain softmax(g f^T) h and its gradients',
    async (backend, n, scale) => {
      const { attention } = await import('../../src-main/engine/model/layers.js');
      await selectBackend(backend);
      const g = tf.randomNormal([2, n, 3], 0, scale, 'float32', 1);
      const f = tf.randomNormal([2, n, 3], 0, scale, 'float32', 2);
      const h = tf.randomNormal([2, n, 4], 0, 1, 'float32', 3);
      const weights = tf.randomNormal([2, n, 4], 0, 1, 'float32', 4);
      const plain = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar =>
        tf.sum(
          tf.mul(
            tf.matMul(tf.softmax(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true)), c as tf.Tensor3D),
            weights,
          ),
        );
      const custom = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(attention(a, b, c), weights));
      const value = await custom(g, f, h).data();
      expect(value[0]).toBeCloseTo((await plain(g, f, h).data())[0] as number, 3);
      const expected = tf.grads(plain as (...t: tf.Tensor[]) => tf.Tensor)([g, f, h]);
      const got = tf.grads(custom as (...t: tf.Tensor[]) => tf.Tensor)([g, f, h]);
      for (let i = 0; i < 3; i += 1) {
        const [o, e] = [await (got[i] as tf.Tensor).data(), await (expected[i] as tf.Tensor).data()];
        expect(relativeError(o, e)).toBeLessThan(1e-4);
      }
      await selectBackend('wasm');
    },
  );
});

describe('group normalisation by transposed row sums', () => {
  // Upstream's 'layernorm' (groups of one channel in conv blocks, of four in upscale_ps) and 'groupnorm' (16).
  it.each([
    ['cpu', 8, 8],
    ['wasm', 8, 8],
    ['wasm', 16, 4],
    ['wasm', 32, 16],
  ] as const)(
    'on %s (%i channels in %i groups) equals tf.moments over H, W and the group, values and gradients',
    async (backend, channels, groups) => {
      const { standardiseGroups } = await import('../../src-main/engine/model/layers.js');
      await selectBackend(backend);
      // Channels with their own offsets and scales (a ReLU-like one near constant), so the moments matter.
      const base = tf.randomNormal([2, 6, 5, channels], 0, 1, 'float32', 5);
      const x = tf.add(tf.mul(base, tf.linspace(0.05, 3, channels)), tf.linspace(-2, 4, channels)) as tf.Tensor4D;
      const weights = tf.randomNormal([2, 6, 5, channels], 0, 1, 'float32', 6);
      const reference = (t: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(groupMomentsReference(t as tf.Tensor4D, groups), weights));
      const ours = (t: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(standardiseGroups(t as tf.Tensor4D, groups, 1e-6), weights));
      expect(await tensorError(standardiseGroups(x, groups, 1e-6), groupMomentsReference(x, groups))).toBeLessThan(
        1e-5,
      );
      expect(await tensorError(tf.grad(ours)(x), tf.grad(reference)(x))).toBeLessThan(1e-4);
      await selectBackend('wasm');
    },
  );
});

describe('batch normalisation by products', () => {
  it('equals tf.moments over the batch, H and W per channel, values and gradients (wasm)', async () => {
    const { norm } = await import('../../src-main/engine/model/layers.js');
    const { Weights } = await import('../../src-main/engine/model/weights.js');
    await selectBackend('wasm');
    const base = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 7);
    const x = tf.add(tf.mul(base, tf.linspace(0.1, 2, 6)), tf.linspace(-1, 3, 6)) as tf.Tensor4D;
    const weights = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 8);
    // gamma 1, beta 0: the affine part leaves the standardised map as it is.
    const layer = new Weights(null);
    const ours = (t: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(norm(layer, 'bn', t as tf.Tensor4D, 'batchnorm', 6), weights));
    const reference = (t: tf.Tensor): tf.Scalar => {
      const { mean, variance } = tf.moments(t, [0, 1, 2], true);
      return tf.sum(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-3))), weights));
    };
    expect(await tensorError(tf.grad(ours)(x), tf.grad(reference)(x))).toBeLessThan(1e-4);
    const [a, b] = [(await ours(x).data())[0] as number, (await reference(x).data())[0] as number];
    expect(Math.abs(a - b)).toBeLessThan(1e-3 * Math.max(1, Math.abs(b)));
  });
});

/** tf.moments' group normalisation without the affine part (the reference for standardiseGroups). */
function groupMomentsReference(x: tf.Tensor4D, groups: number): tf.Tensor {
  const [b, h, w, c] = x.shape;
  const grouped = tf.reshape(x, [b, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
  return tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-6))), x.shape);
}

async function tensorError(got: tf.Tensor, expected: tf.Tensor): Promise<number> {
  return relativeError(await got.data(), await expected.data());
}
