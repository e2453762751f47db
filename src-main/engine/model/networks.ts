/**
 * faceswap-GAN v2.2: a shared encoder, decoders A and B (alpha + colour), patch discriminators A and B, as
 * upstream's networks/faceswap_gan_model.py builds them (scripts/upstream-param-counts.py counts the same layers).
 */
import * as tf from '@tensorflow/tfjs-core';
import { channels, type ArchConfig } from './config.js';
import { conv, convBlock, convBlockD, dense, resBlock, selfAttention, upscale } from './layers.js';
import type { Weights } from './weights.js';

type T4 = tf.Tensor4D;
/**
 * A decoder (and its discriminator): A learns the project's side a, B side b. Capitals keep it apart from the
 * contract's Side ('a' | 'b'), which names the project's people, not the model's halves.
 */
export type DecoderSide = 'A' | 'B';

export interface DecoderOutput {
  alpha: T4;
  color: T4;
  /** Intermediate tanh RGB outputs at 64 (and 128) px for multi-scale supervision (R > 64). */
  intermediates: T4[];
}

export function encoder(w: Weights, arch: ArchConfig, x: T4): T4 {
  const ch = channels(arch);
  const lite = arch.capacity === 'lite';
  // The first conv has no bias, no regulariser and Keras' default initialiser, as upstream wrote it.
  let y = conv(w, 'enc/conv0', x, ch.enc[0], 5);
  y = convBlock(w, 'enc/cb1', y, ch.enc[1], 'none');
  y = convBlock(w, 'enc/cb2', y, ch.enc[2], arch.norm);
  if (arch.useSelfAttention) y = selfAttention(w, 'enc/sa2', y);
  y = convBlock(w, 'enc/cb3', y, ch.enc[3], arch.norm);
  if (arch.useSelfAttention) y = selfAttention(w, 'enc/sa3', y);
  y = convBlock(w, 'enc/cb4', y, ch.enc[4], arch.norm);
  // One more stride-2 block per doubling above 64 px, so the map is always 4x4.
  for (let r = arch.resolution, i = 0; r > 64; r /= 2, i += 1)
    y = convBlock(w, `enc/extra${i}`, y, ch.enc[4], arch.norm);
  const b = y.shape[0];
  let z = dense(w, 'enc/dense1', tf.reshape(y, [b, -1]) as tf.Tensor2D, arch.latent);
  z = dense(w, 'enc/dense2', z, 4 * 4 * ch.enc[4]);
  return upscale(w, 'enc/up', tf.reshape(z, [b, 4, 4, ch.enc[4]]), ch.up, lite, arch.norm);
}

export function decoder(w: Weights, arch: ArchConfig, side: DecoderSide, z: T4): DecoderOutput {
  const ch = channels(arch);
  const lite = arch.capacity === 'lite';
  const p = `dec${side}`;
  let y = upscale(w, `${p}/up1`, z, ch.dec[0], lite, arch.norm);
  y = upscale(w, `${p}/up2`, y, ch.dec[1], lite, arch.norm);
  if (arch.useSelfAttention) y = selfAttention(w, `${p}/sa2`, y);
  y = upscale(w, `${p}/up3`, y, ch.dec[2], lite, arch.norm);
  y = resBlock(w, `${p}/res`, y, ch.dec[2]);
  y = arch.useSelfAttention ? selfAttention(w, `${p}/sa3`, y) : convBlock(w, `${p}/cb`, y, ch.dec[2], 'none', 1);
  const intermediates: T4[] = [];
  // Above 64 px: a tanh RGB output at each scale, then an upscale and a stride-1 conv_block (no norm).
  for (let r = 64, i = 0; r < arch.resolution; r *= 2, i += 1) {
    intermediates.push(tf.tanh(conv(w, `${p}/out${r}`, y, 3, 5, 1, { bias: true })));
    y = upscale(w, `${p}/upx${i}`, y, ch.dec[2], lite, arch.norm);
    y = convBlock(w, `${p}/cbx${i}`, y, ch.dec[2], 'none', 1);
  }
  const alpha = tf.sigmoid(conv(w, `${p}/alpha`, y, 1, 5, 1, { bias: true }));
  const color = tf.tanh(conv(w, `${p}/bgr`, y, 3, 5, 1, { bias: true }));
  return { alpha, color, intermediates };
}

export function discriminator(w: Weights, arch: ArchConfig, side: DecoderSide, x: T4): T4 {
  const p = `dis${side}`;
  const d = arch.discFilters;
  let y = convBlockD(w, `${p}/cb1`, x, d, 'none');
  y = convBlockD(w, `${p}/cb2`, y, d * 2, arch.norm);
  y = convBlockD(w, `${p}/cb3`, y, d * 4, arch.norm);
  if (arch.useSelfAttention) y = selfAttention(w, `${p}/sa3`, y);
  for (let r = arch.resolution / 8, i = 0; r > 8; r /= 2, i += 1) {
    y = convBlockD(w, `${p}/extra${i}`, y, d * 4, arch.norm);
    if (arch.useSelfAttention) y = selfAttention(w, `${p}/saextra${i}`, y);
  }
  // An 8x8 patch map; no bias and no regulariser, as upstream.
  return conv(w, `${p}/out`, y, 1, 4, 1);
}

/** Composite of the attention mask: alpha * colour + (1 - alpha) * input. */
export function composite(alpha: T4, color: T4, input: T4): T4 {
  return tf.add(tf.mul(alpha, color), tf.mul(tf.sub(1, alpha), input));
}

/** Build every variable of the five networks once, in a fixed order (a dummy forward pass). */
export function buildNetworks(w: Weights, arch: ArchConfig, parts: { discriminators: boolean }): void {
  tf.tidy(() => {
    const x = tf.zeros([1, arch.resolution, arch.resolution, 3]) as T4;
    const z = encoder(w, arch, x);
    for (const side of ['A', 'B'] as const) {
      decoder(w, arch, side, z);
      if (parts.discriminators) discriminator(w, arch, side, tf.concat([x, x], 3));
    }
  });
}
