import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { convolutionAsProduct, registerWasmTrainingKernels } from '../../src-main/engine/backend/wasm-kernels.js';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { relativeError } from '../helpers/tensors.js';

/** Seeded uniform values, so a failing shape can be reproduced. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  stride: number;
  pad: 'same' | 'valid' | number;
  dilation: number;
}

// tfjs has no gradient for dilated convolutions on any backend, so dilation stays 1 (the model uses none).
const CASES: Case[] = [
  { x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: 1, pad: 'same', dilation: 1 },
  { x: [2, 10, 10, 3], k: [3, 3], co: 5, stride: 2, pad: 'same', dilation: 1 },
  { x: [1, 11, 8, 2], k: [5, 5], co: 3, stride: 1, pad: 'same', dilation: 1 },
  { x: [3, 16, 16, 4], k: [4, 4], co: 6, stride: 2, pad: 'same', dilation: 1 },
  { x: [2, 12, 12, 3], k: [3, 3], co: 2, stride: 2, pad: 'valid', dilation: 1 },
  { x: [2, 13, 13, 2], k: [3, 3], co: 3, stride: 3, pad: 1, dilation: 1 },
  { x: [1, 7, 7, 6], k: [1, 1], co: 4, stride: 1, pad: 'valid', dilation: 1 },
  { x: [8, 16, 16, 8], k: [5, 5], co: 8, stride: 1, pad: 'same', dilation: 1 },
  // Stride 2 takes the sub-pixel path: odd and uneven sizes, both paddings, even and odd kernels.
  { x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: 2, pad: 'same', dilation: 1 },
  { x: [1, 7, 10, 2], k: [4, 4], co: 3, stride: 2, pad: 'same', dilation: 1 },
  { x: [2, 11, 9, 3], k: [4, 4], co: 2, stride: 2, pad: 'valid', dilation: 1 },
  // A numeric pad with a non-square filter: tfjs-wasm's own Conv2D got it wrong and wrote past its output.
  { x: [1, 12, 12, 2], k: [3, 5], co: 3, stride: 2, pad: 2, dilation: 1 },
  { x: [2, 8, 8, 4], k: [2, 2], co: 3, stride: 2, pad: 'valid', dilation: 1 },
  // No more output positions than channels: both gradients as one matrix product (the encoder's 4x4 layers).
  { x: [2, 4, 4, 6], k: [3, 3], co: 40, stride: 1, pad: 'same', dilation: 1 },
  { x: [2, 8, 8, 5], k: [3, 3], co: 36, stride: 2, pad: 'same', dilation: 1 },
  { x: [1, 6, 5, 3], k: [4, 4], co: 12, stride: 2, pad: 'valid', dilation: 1 },
  { x: [2, 5, 5, 4], k: [3, 3], co: 60, stride: 1, pad: 1, dilation: 1 },
  { x: [3, 3, 7, 2], k: [1, 3], co: 64, stride: 1, pad: 'valid', dilation: 1 },
];

/** The output geometry tfjs gives a case, for the choice between the convolution and product forms. */
function geometryOf(c: Case): { b: number; ho: number; wo: number; co: number } {
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.co], c.stride, 1, c.pad);
  return { b: c.x[0], ho: info.outHeight, wo: info.outWidth, co: c.co };
}

/** A case's convolution and its two gradients on a backend. */
async function gradients(
  backend: string,
  c: Case,
  seed: number,
): Promise<{ y: Float32Array; dx: Float32Array; dw: Float32Array }> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(
    values(
      c.x.reduce((a, b) => a * b),
      seed,
    ),
    c.x,
  );
  const w = tf.tensor4d(values(c.k[0] * c.k[1] * c.x[3] * c.co, seed + 1), [c.k[0], c.k[1], c.x[3], c.co]);
  const loss = (xi: tf.Tensor4D, wi: tf.Tensor4D): tf.Scalar => {
    const y = tf.conv2d(xi, wi, c.stride, c.pad, 'NHWC', c.dilation);
    // A non-uniform upstream gradient: weight the outputs by a fixed pattern.
    return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
  };
  const [dx, dw] = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, w]);
  const y = tf.conv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation);
  const result = {
    y: (await y.data()) as Float32Array,
    dx: (await dx?.data()) as Float32Array,
    dw: (await dw?.data()) as Float32Array,
  };
  tf.dispose([x, w, y, dx, dw] as tf.Tensor[]);
  return result;
}

/** Seeded integers in [lo, hi], for random shapes that reproduce. */
function seededInts(seed: number): (lo: number, hi: number) => number {
  let s = seed;
  return (lo, hi) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return lo + (s % (hi - lo + 1));
  };
}

/** The convolution and both gradients of a case on wasm agree with the cpu backend within 1e-4. */
async function expectAgreement(c: Case, seed: number): Promise<void> {
  const reference = await gradients('cpu', c, seed);
  const wasm = await gradients('wasm', c, seed);
  expect(wasm.dw.length).toBe(reference.dw.length);
  expect(relativeError(wasm.y, reference.y), JSON.stringify(c)).toBeLessThan(1e-4);
  expect(relativeError(wasm.dw, reference.dw), JSON.stringify(c)).toBeLessThan(1e-4);
  expect(relativeError(wasm.dx, reference.dx), JSON.stringify(c)).toBeLessThan(1e-4);
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('the input gradient runs on the replacement kernel, not the loop it replaced', () => {
    // The replacement is registered by this module; the stock loop is gone from the registry.
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc.toString()).toContain('stuffed');
  });

  it('the forward convolution with few output positions runs on the product form', () => {
    expect(tf.getKernel('Conv2D', 'wasm')?.kernelFunc.toString()).toContain('convolutionAsProduct');
  });

  it('the cases take both forms of the gradients', () => {
    const product = CASES.filter((c) => convolutionAsProduct(geometryOf(c))).length;
    expect(product).toBe(5);
    expect(CASES.length - product).toBeGreaterThan(10);
  });

  it.each(CASES.map((c, i) => [i, c] as const))(
    'case %i: the convolution and its gradients on wasm match the cpu backend within 1e-4',
    async (i, c) => expectAgreement(c, 100 + i),
  );

  it('random shapes agree too', async () => {
    const rand = seededInts(7);
    for (let n = 0; n < 12; n += 1) {
      const k = rand(1, 4);
      const c: Case = {
        x: [rand(1, 3), rand(k + 2, 14), rand(k + 2, 14), rand(1, 5)],
        k: [k, k],
        co: rand(1, 5),
        stride: rand(1, 3),
        pad: n % 2 ? 'same' : 'valid',
        dilation: 1,
      };
      await expectAgreement(c, 300 + n);
    }
  });

  it('random shapes on the product form agree too', async () => {
    const rand = seededInts(11);
    for (let n = 0; n < 8; n += 1) {
      const k = rand(1, 4);
      const c: Case = {
        x: [rand(1, 3), rand(k, 7), rand(k, 7), rand(1, 9)],
        k: [k, rand(1, 4)],
        co: 1,
        stride: rand(1, 3),
        pad: n % 2 ? 'same' : 'valid',
        dilation: 1,
      };
      const g = geometryOf(c);
      c.co = g.b * g.ho * g.wo + rand(0, 6);
      expect(convolutionAsProduct(geometryOf(c))).toBe(true);
      await expectAgreement(c, 500 + n);
    }
  });

  it.each([
    { a: [3, 17], b: [17, 40], ta: false, tb: false },
    { a: [3, 17], b: [40, 17], ta: false, tb: true }, // a few rows against a large b: (b . a^T)^T
    { a: [1, 2, 33], b: [70, 33], ta: false, tb: true },
    { a: [20, 17], b: [40, 17], ta: false, tb: true },
    { a: [17, 3], b: [17, 40], ta: true, tb: false },
    { a: [17, 3], b: [40, 17], ta: true, tb: true },
    { a: [4, 9, 17], b: [4, 17, 6], ta: false, tb: false },
    { a: [4, 9, 17], b: [4, 6, 17], ta: false, tb: true },
    { a: [4, 17, 9], b: [1, 17, 6], ta: true, tb: false },
  ])('products $a x $b (transposed $ta, $tb) on wasm match the cpu backend', async ({ a, b, ta, tb }) => {
    const product = async (backend: string): Promise<Float32Array> => {
      await tf.setBackend(backend);
      const x = tf.tensor(
        values(
          a.reduce((p, q) => p * q),
          1,
        ),
        a,
      );
      const y = tf.tensor(
        values(
          b.reduce((p, q) => p * q),
          2,
        ),
        b,
      );
      const z = tf.matMul(x, y, ta, tb);
      const out = (await z.data()) as Float32Array;
      tf.dispose([x, y, z]);
      return out;
    };
    const reference = await product('cpu');
    const wasm = await product('wasm');
    expect(wasm.length).toBe(reference.length);
    expect(relativeError(wasm, reference)).toBeLessThan(1e-5);
  });
});

describe('wasm transpose of the last two axes', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    registerWasmTrainingKernels();
  });

  // Rows a multiple of 8 and not (the unrolled loop's remainder), batched and not, beside perms it leaves alone.
  it.each([
    [
      [80, 72],
      [1, 0],
    ],
    [
      [67, 130],
      [1, 0],
    ],
    [
      [3, 70, 65],
      [0, 2, 1],
    ],
    [
      [2, 2, 9, 600],
      [0, 1, 3, 2],
    ],
    [
      [4097, 4],
      [1, 0],
    ],
    [
      [3, 70, 65],
      [2, 1, 0],
    ],
    [
      [6, 5],
      [1, 0],
    ],
  ])('%j by %j equals the cpu backend exactly', async (shape, perm) => {
    const x = values(
      shape.reduce((a, b) => a * b),
      11,
    );
    const on = async (backend: string): Promise<Float32Array> => {
      await tf.setBackend(backend);
      const t = tf.tensor(x, shape);
      const out = tf.transpose(t, perm);
      const data = (await out.data()) as Float32Array;
      tf.dispose([t, out]);
      return data;
    };
    const reference = await on('cpu');
    expect(Array.from(await on('wasm'))).toEqual(Array.from(reference));
  });

  it('runs large float32 swaps on the tiled kernel, not the generic one', () => {
    expect(tf.getKernel('Transpose', 'wasm')?.kernelFunc.toString()).toContain('transposedOnHeap');
  });
});
