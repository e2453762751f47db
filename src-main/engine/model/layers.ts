/** The building blocks of faceswap-GAN v2.2 as functional tfjs ops over named weights (NHWC). */
import * as tf from '@tensorflow/tfjs-core';
import type { NormKind } from './config.js';
import type { Init, Weights } from './weights.js';

type T4 = tf.Tensor4D;

export interface ConvOptions {
  bias?: boolean;
  init?: Init;
  pad?: 'same' | 'valid';
  /** Upstream's kernel_regularizer (L2 weight decay) on the kernel. */
  decay?: boolean;
}

export function conv(
  w: Weights,
  name: string,
  x: T4,
  filters: number,
  k: number,
  stride = 1,
  options: ConvOptions = {},
): T4 {
  const inC = x.shape[3];
  const kernel = w.get(`${name}/kernel`, [k, k, inC, filters], options.init ?? 'glorot', {
    decay: options.decay ?? false,
  });
  let y = tf.conv2d(x, kernel as tf.Tensor4D, stride, options.pad ?? 'same');
  if (options.bias) y = tf.add(y, w.get(`${name}/bias`, [filters], 'zeros'));
  return y;
}

/** A conv with upstream's conv_init (he_normal) and L2 kernel regulariser, as its blocks declare them. */
function regularisedConv(
  w: Weights,
  name: string,
  x: T4,
  filters: number,
  k: number,
  stride: number,
  options: ConvOptions = {},
): T4 {
  return conv(w, name, x, filters, k, stride, { init: 'he', decay: true, ...options });
}

/** (x - mean) / (sd + eps) over `axes`: keras-contrib's InstanceNormalization adds eps to the standard deviation. */
function standardise(x: tf.Tensor, axes: number[], epsilon: number, onStd: boolean): tf.Tensor {
  const { mean, variance } = tf.moments(x, axes, true);
  const scale = onStd ? tf.add(tf.sqrt(variance), epsilon) : tf.sqrt(tf.add(variance, epsilon));
  return tf.div(tf.sub(x, mean), scale);
}

function affine(w: Weights, name: string, y: tf.Tensor, size: number): T4 {
  return tf.add(tf.mul(y, w.get(`${name}/gamma`, [size], 'ones')), w.get(`${name}/beta`, [size], 'zeros')) as T4;
}

/** GroupNormalization (upstream's): `groups` groups of channels, moments over H, W and the group; gamma/beta per channel. */
function groupNorm(w: Weights, name: string, x: T4, groups: number): T4 {
  const g = Math.max(1, Math.min(groups, x.shape[3]));
  return affine(w, name, standardiseGroups(x, g, 1e-6), x.shape[3]);
}

/**
 * (x - mean) / sqrt(variance + epsilon) with the moments of each sample's channel group over H, W and the group's
 * channels (two passes, as tf.moments). The sums over H x W are last-axis sums of the map transposed to
 * [b, C, HW]: wasm reduces an outer axis by transposing with its generic kernel (slow), and a product with a row of
 * ones repacks the map as XNNPACK weights on every call (42-105 ms for [8, 4096, 32]); the tiled transpose
 * (backend/wasm-kernels.ts) and a row sum take ~2 ms. tests/unit/train-math.test.ts holds it to tf.moments.
 */
export function standardiseGroups(x: T4, groups: number, epsilon: number): T4 {
  const [b, h, wd, c] = x.shape;
  const size = c / groups;
  const count = h * wd * size;
  // Per sample and group: the mean over H, W and the group's channels, shaped to broadcast over [b, HW, g, size].
  const groupMean = (t: tf.Tensor): tf.Tensor => {
    const perChannel = tf.sum(tf.transpose(tf.reshape(t, [b, h * wd, c]), [0, 2, 1]), -1);
    return tf.reshape(tf.div(tf.sum(tf.reshape(perChannel, [b, groups, size]), -1), count), [b, 1, groups, 1]);
  };
  const grouped = tf.reshape(x, [b, h * wd, groups, size]);
  const centred = tf.sub(grouped, groupMean(grouped));
  const variance = groupMean(tf.square(centred));
  return tf.reshape(tf.div(centred, tf.sqrt(tf.add(variance, epsilon))), x.shape) as T4;
}

/**
 * upstream's normalization(x, norm, group), name by name, as its code has them (not as the names suggest):
 * - instancenorm: keras-contrib InstanceNormalization() with its default axis=None: each sample normalised over
 *   height, width AND channels, epsilon 1e-3 added to the standard deviation, a scalar gamma and beta.
 * - layernorm: GroupNormalization(group=`group`, the block's filter count): per channel where the block's output
 *   has `group` channels (conv blocks), groups of four channels in upscale_ps (4f channels, group f).
 * - groupnorm: GroupNormalization(group=16).
 * - batchnorm: per channel over the batch, epsilon 1e-3. Statistics of the batch being run, also when converting
 *   (Keras would use moving averages there; with one face a batch, that is the face's own statistics).
 * - hybrid: the first group/2 channels through a 1x1 conv, the rest through InstanceNormalization() as above.
 */
export function norm(w: Weights, name: string, x: T4, kind: NormKind, group: number): T4 {
  const c = x.shape[3];
  switch (kind) {
    case 'none':
      return x;
    case 'instancenorm':
      return affine(w, name, standardise(x, [1, 2, 3], 1e-3, true), 1);
    case 'layernorm':
      return groupNorm(w, name, x, group);
    case 'groupnorm':
      return groupNorm(w, name, x, 16);
    case 'batchnorm': {
      // Per channel over the batch too: the batch's samples stacked as one tall sample.
      const [b, h, wd] = x.shape;
      const stacked = tf.reshape(x, [1, b * h, wd, c]) as T4;
      return affine(w, name, tf.reshape(standardiseGroups(stacked, c, 1e-3), x.shape), c);
    }
    case 'hybrid': {
      const half = Math.max(1, Math.floor(group / 2));
      const [a, b] = tf.split(x, [half, c - half], 3) as [T4, T4];
      const left = conv(w, `${name}/conv`, a, half, 1, 1, { bias: true, init: 'he', decay: true });
      const right = affine(w, `${name}/in`, standardise(b, [1, 2, 3], 1e-3, true), 1);
      return tf.concat([left, right], 3);
    }
  }
}

export const leaky = (x: T4, alpha: number): T4 => tf.leakyRelu(x, alpha);

/** conv_block: 3x3 (stride 2, or 1 where the decoder asks) -> ReLU -> norm. No bias. */
export function convBlock(w: Weights, name: string, x: T4, f: number, kind: NormKind, stride = 2): T4 {
  return norm(w, `${name}/norm`, tf.relu(regularisedConv(w, name, x, f, 3, stride)), kind, f);
}

/** conv_block_d: 4x4 stride 2 -> LeakyReLU(0.2) -> norm. No bias. */
export function convBlockD(w: Weights, name: string, x: T4, f: number, kind: NormKind): T4 {
  return norm(w, `${name}/norm`, leaky(regularisedConv(w, name, x, f, 4, 2), 0.2), kind, f);
}

/** res_block as the decoder calls it (use_norm off): conv -> LeakyReLU(0.2) -> conv, + input -> LeakyReLU(0.2). */
export function resBlock(w: Weights, name: string, x: T4, f: number): T4 {
  const y = regularisedConv(w, `${name}/b`, leaky(regularisedConv(w, `${name}/a`, x, f, 3, 1), 0.2), f, 3, 1);
  return leaky(tf.add(x, y), 0.2);
}

/** Sub-pixel x2 from reshape and transpose: tfjs has no depthToSpace gradient. */
export function pixelShuffle(x: T4): T4 {
  const [b, h, wd, c] = x.shape;
  const oc = c / 4;
  const y = tf.transpose(tf.reshape(x, [b, h, wd, 2, 2, oc]), [0, 1, 3, 2, 4, 5]);
  return tf.reshape(y, [b, h * 2, wd * 2, oc]);
}

/**
 * upscale_ps (standard): conv to 4f (bias, ICNR) -> LeakyReLU(0.2) -> norm -> pixel shuffle.
 * upscale_nn (lite): nearest x2 -> reflect pad -> conv f (bias) -> norm; no activation.
 */
export function upscale(w: Weights, name: string, x: T4, f: number, lite: boolean, kind: NormKind): T4 {
  if (!lite) {
    const y = leaky(regularisedConv(w, name, x, f * 4, 3, 1, { bias: true, init: 'icnr' }), 0.2);
    return pixelShuffle(norm(w, `${name}/norm`, y, kind, f));
  }
  const [, h, wd] = x.shape;
  const up = tf.image.resizeNearestNeighbor(x, [h * 2, wd * 2]);
  const padded = tf.mirrorPad(
    up,
    [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    'reflect',
  );
  return norm(w, `${name}/norm`, regularisedConv(w, name, padded, f, 3, 1, { bias: true, pad: 'valid' }), kind, f);
}

/** SAGAN self-attention: x + gamma * attention(h), gamma starting at 0. */
export function selfAttention(w: Weights, name: string, x: T4): T4 {
  const [b, h, wd, c] = x.shape;
  const c8 = Math.max(1, Math.floor(c / 8));
  const n = h * wd;
  // Keras' default initialiser (glorot_uniform) and bias, with upstream's L2 regulariser.
  const options = { bias: true, decay: true } as const;
  const f = tf.reshape(conv(w, `${name}/f`, x, c8, 1, 1, options), [b, n, c8]);
  const g = tf.reshape(conv(w, `${name}/g`, x, c8, 1, 1, options), [b, n, c8]);
  const hh = tf.reshape(conv(w, `${name}/h`, x, c, 1, 1, options), [b, n, c]);
  const o = tf.reshape(attention(g, f, hh), [b, h, wd, c]);
  return tf.add(x, tf.mul(w.get(`${name}/gamma`, [1], 'zeros'), o));
}

export function dense(w: Weights, name: string, x: tf.Tensor2D, units: number): tf.Tensor2D {
  // Keras' Dense defaults: glorot_uniform, bias, no regulariser in upstream.
  const kernel = w.get(`${name}/kernel`, [x.shape[1], units], 'glorot');
  return tf.add(tf.matMul(x, kernel as tf.Tensor2D), w.get(`${name}/bias`, [units], 'zeros'));
}

/** Softmax(g f^T) h for one sample: [N, C8] x [N, C8] x [N, C] -> [N, C]. */
function attendOne(g: tf.Tensor2D, f: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.softmax(tf.matMul(g, f, false, true)), h);
}

/**
 * Attention over all positions with a recomputing gradient: the N x N map of a 64 px feature map is 64 MB a
 * sample, and keeping it (and its softmax) for the whole batch until the backward pass would exhaust wasm's
 * 4 GB heap. Forward and backward go sample by sample and keep only the inputs.
 */
export const attention = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [g, f, h, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const [batch, n, c8] = g.shape as [number, number, number];
  const c = h.shape[2] as number;
  const sample = (t: tf.Tensor, i: number, width: number): tf.Tensor2D =>
    tf.reshape(tf.slice(t, [i, 0, 0], [1, n, width]), [n, width]);
  const value = tf.stack(
    Array.from({ length: batch }, (_, i) =>
      tf.tidy(() => attendOne(sample(g, i, c8), sample(f, i, c8), sample(h, i, c))),
    ),
  );
  save([g, f, h]);
  return {
    value,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sg, sf, sh] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const upstream = dy as tf.Tensor;
      const grads = Array.from({ length: batch }, (_, i) =>
        tf.tidy(() => {
          const gi = sample(sg, i, c8);
          const fi = sample(sf, i, c8);
          const hi = sample(sh, i, c);
          const dyi = sample(upstream, i, c);
          // Every product keeps the N x N map on the left (on wasm a large right operand is repacked on each
          // call, ~0.5 s for a 64 MB map); the transposed maps come from a tiled transpose (wasm-kernels.ts).
          const a = tf.softmax(tf.matMul(gi, fi, false, true));
          const da = tf.matMul(dyi, hi, false, true);
          const ds = tf.mul(a, tf.sub(da, tf.sum(tf.mul(da, a), -1, true)));
          return [tf.matMul(ds, fi), tf.matMul(tf.transpose(ds), gi), tf.matMul(tf.transpose(a), dyi)];
        }),
      );
      return [
        tf.stack(grads.map((t) => t[0] as tf.Tensor)),
        tf.stack(grads.map((t) => t[1] as tf.Tensor)),
        tf.stack(grads.map((t) => t[2] as tf.Tensor)),
      ];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (g: tf.Tensor, f: tf.Tensor, h: tf.Tensor) => tf.Tensor;
