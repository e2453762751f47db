/**
 * The generator's loss as named terms the trainer sums: each term says when it is on and what it costs. A new loss
 * is one term here (and its weight in LossWeights); the trainer reports each as G<side>_<name>.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdversarialLoss } from '../../../src-shared/contract/index.js';
import type { DecoderOutput, DecoderSide } from '../model/networks.js';
import {
  cycleLoss,
  edgeLoss,
  maskRegularisation,
  maskTotalVariation,
  mixupGenerator,
  reconstruction,
  relativisticGenerator,
  type LossWeights,
} from './losses.js';
import { perceptualLoss, type PerceptualNet } from './perceptual.js';
import type { ScheduleState } from './schedule.js';

type T4 = tf.Tensor4D;

/** What a generator step has computed, and how to reach the networks for terms that need more. */
export interface GeneratorStep {
  side: DecoderSide;
  warped: T4;
  target: T4;
  eyes: T4;
  out: DecoderOutput;
  /** alpha * colour + (1 - alpha) * warped. */
  masked: T4;
  weights: LossWeights;
  schedule: ScheduleState;
  adversarial: AdversarialLoss;
  /** The perceptual loss's mix of raw and masked output for this step. */
  lambdaPerceptual: number;
  perceptual: PerceptualNet | null;
  cycle: boolean;
  /** This side's discriminator on an image (paired with the warped input). */
  discriminate(image: T4): T4;
  /** A side's generator on faces: encoder, then that side's decoder. */
  generate(side: DecoderSide, input: T4): DecoderOutput;
}

export interface LossTerm {
  readonly name: string;
  active(step: GeneratorStep): boolean;
  value(step: GeneratorStep): tf.Scalar;
}

const always = (): boolean => true;

/** upstream's generator terms, in the order it adds them. */
export const GENERATOR_TERMS: readonly LossTerm[] = [
  {
    name: 'adv',
    active: always,
    value: (s) =>
      s.adversarial === 'ralsgan'
        ? relativisticGenerator(
            s.discriminate(s.target),
            s.discriminate(s.masked),
            s.discriminate(s.out.color),
            s.weights,
          )
        : mixupGenerator(s.discriminate(s.masked), s.discriminate(s.out.color), s.weights),
  },
  {
    name: 'recon',
    active: always,
    value: (s) => reconstruction(s.out.color, s.target, s.eyes, s.out.intermediates, s.weights),
  },
  { name: 'edge', active: always, value: (s) => edgeLoss(s.out.color, s.target, s.eyes, s.weights) },
  {
    name: 'pl',
    active: (s) => s.schedule.perceptual && s.perceptual !== null,
    value: (s) => {
      const lam = s.lambdaPerceptual;
      const fake = tf.add(tf.mul(lam, s.out.color), tf.mul(1 - lam, s.masked)) as T4;
      return perceptualLoss(s.perceptual as PerceptualNet, fake, s.target, s.weights.wPerceptual);
    },
  },
  {
    name: 'cycle',
    active: (s) => s.cycle,
    value: (s) => {
      // upstream's cyclic_loss: the other side's raw output for the real face, then back through this side.
      const there = s.generate(s.side === 'A' ? 'B' : 'A', s.target);
      const back = s.generate(s.side, there.color);
      return cycleLoss(back.color, back.alpha, s.target, there.alpha, s.weights);
    },
  },
  {
    name: 'mask',
    active: always,
    value: (s) => maskRegularisation(s.out.alpha, s.schedule.hinge, s.schedule.mMask, s.weights),
  },
  { name: 'tv', active: always, value: (s) => maskTotalVariation(s.out.alpha, s.weights) },
];
