/**
 * faceswap-GAN v2.2 loss terms as upstream's networks/losses.py and faceswap_gan_model.py write them
 * (NHWC, images in -1..1, masks in 0..1). Each term is a mean over the batch, so a batch split across workers
 * gives the full batch's gradient as the average of the halves' gradients.
 */
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

/**
 * upstream's first_order: |x[i] - x[i+1]| along rows (axis 1) or columns (axis 2), both cropped to the top-left
 * (H-1) x (W-1) so the two maps line up.
 */
export function firstOrder(t: T4, axis: 1 | 2): T4 {
  const [b, h, w, c] = t.shape;
  const base = tf.slice(t, [0, 0, 0, 0], [b, h - 1, w - 1, c]);
  const next =
    axis === 1 ? tf.slice(t, [0, 1, 0, 0], [b, h - 1, w - 1, c]) : tf.slice(t, [0, 0, 1, 0], [b, h - 1, w - 1, c]);
  return tf.abs(tf.sub(base, next)) as T4;
}

/**
 * reconstruction_loss: w_recon * L1(colour, target) + w_eyes * mean|eyes * (colour - target)|, plus w_recon * L1
 * of each intermediate output against the target resized to it (TF1's bilinear resize, no half-pixel centres).
 */
export function reconstruction(
  color: T4,
  target: T4,
  eyes: T4,
  intermediates: readonly T4[],
  w: LossWeights,
): tf.Scalar {
  let loss = tf.add(
    tf.mul(w.wRecon, l1(color, target)),
    tf.mul(w.wEyes, tf.mean(tf.abs(tf.mul(eyes, tf.sub(color, target))))),
  );
  for (const mid of intermediates)
    loss = tf.add(loss, tf.mul(w.wRecon, l1(mid, tf.image.resizeBilinear(target, [mid.shape[1], mid.shape[2]]))));
  return loss as tf.Scalar;
}

/**
 * edge_loss: L1 between the absolute first-order gradients of colour and target on both axes (w_edge), and the
 * same differences inside the eye mask (resized to the gradient maps) with w_eyes.
 */
export function edgeLoss(color: T4, target: T4, eyes: T4, w: LossWeights): tf.Scalar {
  const [, h, wd] = eyes.shape;
  const mask = tf.image.resizeBilinear(eyes, [h - 1, wd - 1]);
  let loss: tf.Tensor = tf.scalar(0);
  for (const axis of [1, 2] as const) {
    const diff = tf.sub(firstOrder(color, axis), firstOrder(target, axis));
    loss = tf.add(
      loss,
      tf.add(tf.mul(w.wEdge, tf.mean(tf.abs(diff))), tf.mul(w.wEyes, tf.mean(tf.abs(tf.mul(mask, diff))))),
    );
  }
  return loss as tf.Scalar;
}

/** Mask total variation: weight * (mean first_order(alpha, 1) + mean first_order(alpha, 2)). */
export function maskTotalVariation(alpha: T4, w: LossWeights): tf.Scalar {
  return tf.mul(w.maskTV, tf.add(tf.mean(firstOrder(alpha, 1)), tf.mean(firstOrder(alpha, 2))));
}

/** Mask regularisation: a small L1 pull towards 0, or with the hinge, a floor at m_mask. */
export function maskRegularisation(alpha: T4, hinge: boolean, mMask: number, w: LossWeights): tf.Scalar {
  return hinge ? tf.mul(w.maskHinge, tf.mean(tf.relu(tf.sub(mMask, alpha)))) : tf.mul(w.maskL1, tf.mean(tf.abs(alpha)));
}

/**
 * cyclic_loss(netG_self, netG_other, real): the other side's raw output for the real face, back through this
 * side: L1 of its colour to the real face plus 0.1 * L1 of its alpha to the other side's alpha; weight `cycle`.
 */
export function cycleLoss(backColor: T4, backAlpha: T4, real: T4, otherAlpha: T4, w: LossWeights): tf.Scalar {
  return tf.mul(w.cycle, tf.add(l1(backColor, real), tf.mul(0.1, l1(backAlpha, otherAlpha))));
}

/** Sum of scalars by pairwise adds: WebGPU's AddN binds one buffer per input and hits the 8-buffer limit. */
export function sumOf(terms: readonly tf.Scalar[]): tf.Scalar {
  if (terms.length === 0) return tf.scalar(0);
  let total = terms[0] as tf.Scalar;
  for (const t of terms.slice(1)) total = tf.add(total, t);
  return total;
}

/** mixup-LSGAN, the discriminator's side: regress lambda on lambda * real + (1 - lambda) * fake, for both fakes. */
export function mixupDiscriminator(
  D: (pair: T4) => T4,
  realPair: T4,
  fakePairs: readonly [T4, T4],
  lambda: number,
): tf.Scalar {
  const mixed = fakePairs.map((fake) => D(tf.add(tf.mul(lambda, realPair), tf.mul(1 - lambda, fake)) as T4));
  return tf.add(mse(mixed[0] as T4, lambda), mse(mixed[1] as T4, lambda));
}

/** mixup-LSGAN, the generator's side: w_D * MSE(D(fake), 1) for the composite and the raw colour. */
export function mixupGenerator(predMasked: T4, predColor: T4, w: LossWeights): tf.Scalar {
  return tf.mul(w.wD, tf.add(mse(predMasked, 1), mse(predColor, 1)));
}

const batchMean = (t: T4): tf.Tensor => tf.mean(t, 0, true);

/**
 * relativistic_avg_LSGAN as upstream writes it: a plain LSGAN term for the composite (real -> 1, composite -> 0)
 * and a relativistic-average term for the raw colour output; every term halved.
 */
export function relativisticDiscriminator(real: T4, fakeMasked: T4, fakeColor: T4): tf.Scalar {
  return sumOf([
    tf.div(mse(real, 1), 2),
    tf.div(mse(fakeMasked, 0), 2),
    tf.div(mse(tf.sub(real, batchMean(fakeColor)), 1), 2),
    tf.div(mse(tf.sub(fakeColor, batchMean(real)), 0), 2),
  ]);
}

/** relativistic_avg_LSGAN, the generator's side (w_D applied to each term as upstream). */
export function relativisticGenerator(real: T4, fakeMasked: T4, fakeColor: T4, w: LossWeights): tf.Scalar {
  return tf.mul(
    w.wD,
    sumOf([
      mse(fakeMasked, 1),
      tf.div(mse(tf.sub(real, batchMean(fakeColor)), 0), 2),
      tf.div(mse(tf.sub(fakeColor, batchMean(real)), 1), 2),
    ]),
  );
}
