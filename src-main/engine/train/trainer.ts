/** The faceswap-GAN v2.2 training iteration on tfjs: G and D steps for A and B, schedule, checkpoints. */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchConfig } from '../model/config.js';
import { composite, decoder, discriminator, encoder, type Side } from '../model/networks.js';
import { Weights } from '../model/weights.js';
import type { Batch, FaceSet } from './dataset.js';
import {
  DEFAULT_LOSS_WEIGHTS,
  edgeTerms,
  l1,
  maskRegularisation,
  mse,
  reconstruction,
  sumOf,
  totalVariation,
  type LossWeights,
} from './losses.js';
import type { AdversarialLoss } from '../../../src-shared/contract/index.js';
import { NamedAdam, type NamedTensor } from './adam.js';
import { perceptualLoss, type PerceptualNet } from './perceptual.js';
import type { PreparedBatches } from './loader.js';
import { Rng } from './rng.js';
import { eventsAt, scaledSchedule, scheduleAt, type ScheduleEvent, type ScheduleState } from './schedule.js';

type T4 = tf.Tensor4D;
export type { NamedTensor } from './adam.js';

export interface TrainerOptions {
  arch: ArchConfig;
  batchSize: number;
  totalIterations: number;
  seed: number;
  learningRateFactor: number;
  weights?: Partial<LossWeights>;
  /** mixup-LSGAN (the original's default) or relativistic-average LSGAN. */
  adversarial?: AdversarialLoss;
  /** The optional cycle loss (A -> B -> A back to A). */
  cycle?: boolean;
  /** The perceptual loss's network; the loss runs while the schedule has it on and this is given. */
  perceptual?: PerceptualNet | null;
}

export type LossRecord = Record<string, number>;

function toTensors(batch: Batch): { warped: T4; target: T4; eyes: T4 } {
  const { count, size } = batch;
  return {
    warped: tf.tensor4d(batch.warped, [count, size, size, 3]),
    target: tf.tensor4d(batch.target, [count, size, size, 3]),
    eyes: tf.tensor4d(batch.eyes, [count, size, size, 1]),
  };
}

export class Trainer {
  readonly weights: Weights;
  /** Draws of the training step itself (mixup lambda). */
  readonly rng: Rng;
  /** Draws of data augmentation, apart so batches can be prepared ahead without changing the step's draws. */
  readonly dataRng: Rng;
  iteration = 0;
  /** One Adam for the generators (encoder + both decoders) and one for the discriminators, keyed by name. */
  private readonly optimisers: Record<'G' | 'D', NamedAdam>;
  private readonly schedule: ScheduleEvent[];
  private state: ScheduleState;
  private readonly lossWeights: LossWeights;

  constructor(readonly options: TrainerOptions) {
    this.rng = new Rng(options.seed);
    this.dataRng = new Rng(options.seed ^ 0xda7a);
    this.weights = new Weights(new Rng(options.seed ^ 0x5eed));
    this.lossWeights = { ...DEFAULT_LOSS_WEIGHTS, ...options.weights };
    this.schedule = scaledSchedule(options.totalIterations);
    this.state = scheduleAt(this.schedule, 0);
    const g = 1e-4 * options.learningRateFactor;
    const d = 2e-4 * options.learningRateFactor;
    this.optimisers = { G: new NamedAdam(g, 0.5, 0.999), D: new NamedAdam(d, 0.5, 0.999) };
    this.build();
  }

  /** Create every variable once, in a fixed order, with a dummy forward pass. */
  private build(): void {
    const { arch } = this.options;
    tf.tidy(() => {
      const x = tf.zeros([1, arch.resolution, arch.resolution, 3]) as T4;
      const z = encoder(this.weights, arch, x);
      for (const side of ['A', 'B'] as const) {
        decoder(this.weights, arch, side, z);
        discriminator(this.weights, arch, side, tf.concat([x, x], 3));
      }
    });
  }

  get scheduleState(): ScheduleState {
    return { ...this.state };
  }

  /** The variables one step trains, by their model names. */
  private trainable(...prefixes: string[]): Map<string, tf.Variable> {
    return new Map([...this.weights.vars].filter(([name]) => prefixes.some((p) => name.startsWith(p))));
  }

  private applySchedule(iteration: number, fire = true): void {
    if (fire) for (const event of eventsAt(this.schedule, iteration)) if (event.swapDecoders) this.swapDecoders();
    this.state = scheduleAt(this.schedule, iteration);
    const factor = this.options.learningRateFactor * this.state.lrFactor;
    // In place, as the original should have: no graph rebuild.
    this.optimisers.G.learningRate = 1e-4 * factor;
    this.optimisers.D.learningRate = 2e-4 * factor;
  }

  private swapDecoders(): void {
    for (const [name, a] of this.weights.vars) {
      if (!name.startsWith('decA/')) continue;
      const b = this.weights.vars.get(name.replace(/^decA\//, 'decB/'));
      if (!b) continue;
      const copy = tf.clone(a);
      a.assign(b);
      b.assign(copy);
      copy.dispose();
    }
  }

  /** One iteration: for A then B, a generator step then a discriminator step. Returns every loss term. */
  step(faces: FaceSet): Promise<LossRecord> {
    const { batchSize, arch } = this.options;
    const a = faces.batch('a', batchSize, arch.resolution, this.dataRng);
    const b = faces.batch('b', batchSize, arch.resolution, this.dataRng);
    return this.stepBatches(a, b);
  }

  /** One iteration on batches a loader prepared; the data RNG takes the state after them (for checkpoints). */
  async stepPrepared(prepared: PreparedBatches): Promise<LossRecord> {
    const losses = await this.stepBatches(prepared.a, prepared.b);
    this.dataRng.restore(prepared.rngStateAfter);
    return losses;
  }

  /** One iteration on prepared batches (the data RNG has already drawn them). */
  async stepBatches(a: Batch, b: Batch): Promise<LossRecord> {
    this.iteration += 1;
    this.applySchedule(this.iteration);
    return { ...(await this.stepSide('A', a)), ...(await this.stepSide('B', b)) };
  }

  private async stepSide(side: Side, batch: Batch): Promise<LossRecord> {
    const { arch } = this.options;
    const w = this.lossWeights;
    const relativistic = this.options.adversarial === 'ralsgan';
    // Draws in a fixed order: the mixup lambda (mixup-LSGAN), then the perceptual mix (when it is on).
    const lam = relativistic ? 0 : this.rng.beta(0.2, 0.2);
    const perceptual = this.state.perceptual && this.options.perceptual ? this.options.perceptual : null;
    const lamPl = perceptual ? this.rng.beta(0.2, 0.2) : 0;
    const terms: Record<string, tf.Scalar> = {};
    const captured: { masked?: T4; color?: T4 } = {};
    const data = toTensors(batch);
    const D = (image: T4): T4 => discriminator(this.weights, arch, side, tf.concat([image, data.warped], 3));
    try {
      const gVars = this.trainable('enc/', `dec${side}/`);
      const gCost = this.minimizeWithDecay(
        this.optimisers.G,
        () => {
          const z = encoder(this.weights, arch, data.warped);
          const out = decoder(this.weights, arch, side, z);
          const masked = composite(out.alpha, out.color, data.warped);
          captured.masked = tf.keep(masked);
          captured.color = tf.keep(out.color);
          const adv = tf.mul(
            w.wD,
            relativistic
              ? (() => {
                  const real = D(data.target);
                  return tf.add(relativisticGenerator(real, D(masked)), relativisticGenerator(real, D(out.color)));
                })()
              : tf.add(mse(D(masked), 1), mse(D(out.color), 1)),
          );
          let recon = reconstruction(out.color, data.target, data.eyes, w);
          for (const mid of out.intermediates)
            recon = tf.add(recon, l1(mid, tf.image.resizeBilinear(data.target, [mid.shape[1], mid.shape[2]])));
          const edge = edgeTerms(out.color, data.target, data.eyes, w);
          const mask = maskRegularisation(out.alpha, this.state.hinge, this.state.mMask, w);
          const tv = tf.mul(w.maskTV, totalVariation(out.alpha));
          const parts: Record<string, tf.Scalar> = {
            adv: adv as tf.Scalar,
            recon,
            edge,
            mask,
            tv: tv as tf.Scalar,
          };
          if (perceptual) {
            const fake = tf.add(tf.mul(lamPl, out.color), tf.mul(1 - lamPl, masked)) as T4;
            parts.pl = perceptualLoss(perceptual, fake, data.target, w.wPerceptual);
          }
          if (this.options.cycle) {
            const other: Side = side === 'A' ? 'B' : 'A';
            const there = decoder(this.weights, arch, other, z);
            const swapped = composite(there.alpha, there.color, data.warped);
            const back = decoder(this.weights, arch, side, encoder(this.weights, arch, swapped));
            parts.cycle = tf.mul(
              w.cycle,
              tf.add(l1(back.color, data.target), tf.mul(0.1, l1(back.alpha, out.alpha))),
            ) as tf.Scalar;
          }
          for (const [name, value] of Object.entries(parts)) terms[`G${side}_${name}`] = tf.keep(value);
          return sumOf(Object.values(parts));
        },
        gVars,
      );
      if (gCost) terms[`G${side}`] = gCost;
      const dVars = this.trainable(`dis${side}/`);
      const dCost = this.minimizeWithDecay(
        this.optimisers.D,
        () => {
          const maskedFake = captured.masked as T4;
          const colorFake = captured.color as T4;
          if (relativistic) {
            const real = D(data.target);
            return tf.add(
              relativisticDiscriminator(real, D(maskedFake)),
              relativisticDiscriminator(real, D(colorFake)),
            ) as tf.Scalar;
          }
          const real = tf.concat([data.target, data.warped], 3);
          const mixMasked = tf.add(tf.mul(lam, real), tf.mul(1 - lam, tf.concat([maskedFake, data.warped], 3)));
          const mixColor = tf.add(tf.mul(lam, real), tf.mul(1 - lam, tf.concat([colorFake, data.warped], 3)));
          const loss = tf.add(
            mse(discriminator(this.weights, arch, side, mixMasked as T4), lam),
            mse(discriminator(this.weights, arch, side, mixColor as T4), lam),
          );
          return loss as tf.Scalar;
        },
        dVars,
      );
      if (dCost) terms[`D${side}`] = dCost;
      const out: LossRecord = {};
      // Asynchronous reads: WebGPU in Node cannot read synchronously.
      for (const [name, t] of Object.entries(terms)) out[name] = ((await t.data())[0] as number) ?? NaN;
      return out;
    } finally {
      tf.dispose(
        [data.warped, data.target, data.eyes, captured.masked, captured.color, ...Object.values(terms)].filter(
          Boolean,
        ) as tf.Tensor[],
      );
    }
  }

  /**
   * One optimiser step with the L2 weight decay (Keras' kernel_regularizer) added to the gradients outside the
   * tape: as a loss term its squared kernels were kept for the backward pass. Each gradient is applied and
   * freed in turn, so the peak holds one set of gradients. Returns the total loss including the decay.
   */
  private minimizeWithDecay(optimiser: NamedAdam, loss: () => tf.Scalar, vars: Map<string, tf.Variable>): tf.Scalar {
    const factor = this.lossWeights.weightDecay;
    const { value, grads } = tf.variableGrads(loss, [...vars.values()]);
    const squares: tf.Scalar[] = [];
    for (const [key, variable] of vars) {
      const grad = grads[variable.name];
      if (!grad) continue;
      if (factor > 0 && key.endsWith('/kernel')) {
        squares.push(tf.tidy(() => tf.sum(tf.square(variable))));
        const decayed = tf.tidy(() => tf.add(grad, tf.mul(2 * factor, variable)));
        optimiser.apply(key, variable, decayed);
        decayed.dispose();
      } else optimiser.apply(key, variable, grad);
      grad.dispose();
    }
    tf.dispose(Object.values(grads));
    // The decay is measured before each update, as a loss term would have been.
    const total = tf.tidy(() => tf.add(value, tf.mul(factor, squares.length ? tf.addN(squares) : tf.scalar(0))));
    tf.dispose([value, ...squares]);
    return total as tf.Scalar;
  }

  /** Run the generator on aligned faces (NHWC -1..1): the swap, used by previews and conversion. */
  generate(side: Side, input: T4): { alpha: T4; color: T4; masked: T4 } {
    return tf.tidy(() => {
      const out = decoder(this.weights, this.options.arch, side, encoder(this.weights, this.options.arch, input));
      return { alpha: out.alpha, color: out.color, masked: composite(out.alpha, out.color, input) };
    });
  }

  /** The optimisers' state for a checkpoint (tensors owned by the optimisers: do not dispose). */
  optimizerWeights(): NamedTensor[] {
    return [...this.optimisers.G.state('adamG'), ...this.optimisers.D.state('adamD')];
  }

  /**
   * Restore the optimisers from a checkpoint. Returns a warning when the checkpoint holds optimiser state of the
   * older per-side layout (tfjs' positional Adams), which cannot be mapped: the moments then start afresh.
   */
  setOptimizerWeights(named: NamedTensor[]): string | null {
    const restored =
      this.optimisers.G.restore('adamG', named, this.weights.vars) +
      this.optimisers.D.restore('adamD', named, this.weights.vars);
    if (restored === 0 && named.some((t) => /^(opt|acc)G[AB]:/.test(t.name)))
      return 'the checkpoint was written by an older version: weights restored, optimiser moments start afresh';
    return null;
  }

  /** Continue exactly where a checkpoint stopped (its weights already include any decoder swap). */
  restoreState(iteration: number, rngState: number, dataRngState: number): void {
    this.iteration = iteration;
    this.rng.restore(rngState);
    this.dataRng.restore(dataRngState);
    this.applySchedule(iteration, false);
  }

  dispose(): void {
    this.weights.dispose();
    for (const optimiser of Object.values(this.optimisers)) optimiser.dispose();
  }
}

/** Relativistic-average LSGAN, the discriminator's side: real above the average fake by 1, fakes below real's. */
function relativisticDiscriminator(real: T4, fake: T4): tf.Scalar {
  return tf.add(
    tf.mean(tf.square(tf.sub(tf.sub(real, tf.mean(fake, 0, true)), 1))),
    tf.mean(tf.square(tf.add(tf.sub(fake, tf.mean(real, 0, true)), 1))),
  );
}

/** Relativistic-average LSGAN, the generator's side: the same targets swapped. */
function relativisticGenerator(real: T4, fake: T4): tf.Scalar {
  return tf.add(
    tf.mean(tf.square(tf.sub(tf.sub(fake, tf.mean(real, 0, true)), 1))),
    tf.mean(tf.square(tf.add(tf.sub(real, tf.mean(fake, 0, true)), 1))),
  );
}
