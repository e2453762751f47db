/** faceswap-GAN v2.2 loss terms (NHWC, images in -1..1, masks in 0..1). */
import * as tf from '@tensorflow/tfjs-core';

type T4 = tf.Tensor4D;

export interface LossWeights {
  wD: number;
  wRecon: number;
  wEdge: number;
  wEyes: number;
  /** Perceptual weights from the deepest to the shallowest feature map. */
  wPerceptual: [number, number, number, number];
  maskL1: number;
  maskHinge: number;
  maskTV: number;
  cycle: number;
  weightDecay: number;
}

export const DEFAULT_LOSS_WEIGHTS: LossWeights = {
  wD: 0.1,
  wRecon: 1,
  wEdge: 0.1,
  wEyes: 30,
  wPerceptual: [0.01, 0.1, 0.3, 0.1],
  maskL1: 1e-2,
  maskHinge: 0.1,
  maskTV: 0.1,
  cycle: 10,
  weightDecay: 1e-4,
};

export const l1 = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.mean(tf.abs(tf.sub(a, b)));
export const mse = (a: tf.Tensor, b: tf.Tensor | number): tf.Scalar => tf.mean(tf.square(tf.sub(a, b)));

function dx(t: T4): T4 {
  const [b, h, w, c] = t.shape;
  return tf.sub(tf.slice(t, [0, 0, 1, 0], [b, h, w - 1, c]), tf.slice(t, [0, 0, 0, 0], [b, h, w - 1, c]));
}
function dy(t: T4): T4 {
  const [b, h, w, c] = t.shape;
  return tf.sub(tf.slice(t, [0, 1, 0, 0], [b, h - 1, w, c]), tf.slice(t, [0, 0, 0, 0], [b, h - 1, w, c]));
}

/** L1 between first-order image gradients (x and y). */
export function edgeLoss(output: T4, target: T4): tf.Scalar {
  return tf.add(l1(dx(output), dx(target)), l1(dy(output), dy(target)));
}

/** Total variation of the attention mask. */
export function totalVariation(mask: T4): tf.Scalar {
  return tf.add(tf.mean(tf.abs(dx(mask))), tf.mean(tf.abs(dy(mask))));
}

/** Reconstruction with the eye region weighted up. */
export function reconstruction(color: T4, target: T4, eyes: T4, w: LossWeights): tf.Scalar {
  return tf.add(
    tf.mul(w.wRecon, l1(color, target)),
    tf.mul(w.wEyes, tf.mean(tf.abs(tf.mul(eyes, tf.sub(color, target))))),
  );
}

export function edgeTerms(color: T4, target: T4, eyes: T4, w: LossWeights): tf.Scalar {
  return tf.add(
    tf.mul(w.wEdge, edgeLoss(color, target)),
    tf.mul(w.wEyes * w.wEdge, edgeLoss(tf.mul(color, eyes), tf.mul(target, eyes))),
  );
}

/** Mask regularisation: a small L1 pull towards 0, or with the hinge, a floor at m_mask. */
export function maskRegularisation(alpha: T4, hinge: boolean, mMask: number, w: LossWeights): tf.Scalar {
  return hinge ? tf.mul(w.maskHinge, tf.mean(tf.relu(tf.sub(mMask, alpha)))) : tf.mul(w.maskL1, tf.mean(alpha));
}

/** Sum of scalars by pairwise adds: WebGPU's AddN binds one buffer per input and hits the 8-buffer limit. */
export function sumOf(terms: readonly tf.Scalar[]): tf.Scalar {
  if (terms.length === 0) return tf.scalar(0);
  let total = terms[0] as tf.Scalar;
  for (const t of terms.slice(1)) total = tf.add(total, t);
  return total;
}
