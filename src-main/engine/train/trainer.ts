/**
 * The faceswap-GAN v2.2 training iteration on tfjs, in upstream's order: the discriminators' steps (A, B) on one
 * pair of batches, then the generators' steps (A, B) on the next pair, each with its own Adam (GA: encoder +
 * decoder A, GB: encoder + decoder B, DA, DB). Gradients and their application are apart, so the gradients of
 * one step can be computed by several workers on parts of the batch and summed before the update.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchConfig } from '../model/config.js';
import {
  buildNetworks,
  composite,
  decoder,
  discriminator,
  encoder,
  type DecoderOutput,
  type DecoderSide,
} from '../model/networks.js';
import { Weights } from '../model/weights.js';
import { drawIteration, type AugmentOptions, type Batch, type IterationBatches } from './batch.js';
import type { FaceSet } from './dataset.js';
import {
  DEFAULT_LOSS_WEIGHTS,
  mixupDiscriminator,
  relativisticDiscriminator,
  sumOf,
  type LossWeights,
} from './losses.js';
import { GENERATOR_TERMS, type GeneratorStep } from './loss-terms.js';
import type { AdversarialLoss } from '../../../src-shared/contract/index.js';
import type { NamedTensor } from '../io/model-file.js';
import { NamedAdam } from './adam.js';
import type { PerceptualNet } from './perceptual.js';
import type { PreparedBatches } from './loader.js';
import { Rng } from '../../../src-shared/math/rng.js';
import { eventsAt, scaledSchedule, scheduleAt, type ScheduleEvent, type ScheduleState } from './schedule.js';

type T4 = tf.Tensor4D;
export type { NamedTensor } from '../io/model-file.js';

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
  /** Start every variable at zero instead of drawing it (a replica whose weights are loaded next). */
  zeroInit?: boolean;
}

/**
 * Computes a step's gradients over a batch split between threads (data-parallel); see parallel.ts. The trainer
 * applies the summed gradients, then `publish` sends the step's updated variables to the other threads.
 */
export interface GradientPool {
  gradients(
    trainer: Trainer,
    kind: StepKind,
    side: DecoderSide,
    batch: Batch,
    draws: StepDraws,
  ): Promise<StepGradients>;
  publish(trainer: Trainer, names: readonly string[]): Promise<void>;
}

export type LossRecord = Record<string, number>;
export type StepKind = 'D' | 'G';

export type { IterationBatches } from './batch.js';

/** The random draws of one optimisation step, made by the trainer in a fixed order and shared by its workers. */
export interface StepDraws {
  /** mixup-LSGAN's lambda (discriminator steps). */
  lambda: number;
  /** The perceptual loss's mix of raw and masked output (generator steps, while the loss is on). */
  lambdaPerceptual: number;
}

export interface StepTensors {
  warped: T4;
  target: T4;
  eyes: T4;
}

export function batchTensors(batch: Batch): StepTensors {
  const { count, size } = batch;
  return {
    warped: tf.tensor4d(batch.warped, [count, size, size, 3]),
    target: tf.tensor4d(batch.target, [count, size, size, 3]),
    eyes: tf.tensor4d(batch.eyes, [count, size, size, 1]),
  };
}

/** Gradients of one step by variable name, and its loss terms (scalars, kept until the caller disposes them). */
export interface StepGradients {
  grads: Map<string, tf.Tensor>;
  terms: Record<string, tf.Scalar>;
}

const sideKey = (side: DecoderSide): 'a' | 'b' => (side === 'A' ? 'a' : 'b');

export class Trainer {
  readonly weights: Weights;
  /** Draws of the training step itself (mixup lambdas). */
  readonly rng: Rng;
  /** Draws of data augmentation, apart so batches can be prepared ahead without changing the step's draws. */
  readonly dataRng: Rng;
  iteration = 0;
  readonly optimisers: Record<'GA' | 'GB' | 'DA' | 'DB', NamedAdam>;
  private readonly schedule: ScheduleEvent[];
  private state: ScheduleState;
  readonly lossWeights: LossWeights;
  private pool: GradientPool | null = null;
  /** Set when variables changed outside a step (the decoder swap): the pool's threads need all of them again. */
  private republish = false;

  constructor(readonly options: TrainerOptions) {
    this.rng = new Rng(options.seed);
    this.dataRng = new Rng(options.seed ^ 0xda7a);
    this.weights = new Weights(options.zeroInit ? null : new Rng(options.seed ^ 0x5eed));
    this.lossWeights = { ...DEFAULT_LOSS_WEIGHTS, ...options.weights };
    this.schedule = scaledSchedule(options.totalIterations);
    this.state = scheduleAt(this.schedule, 0);
    const g = 1e-4 * options.learningRateFactor;
    const d = 2e-4 * options.learningRateFactor;
    this.optimisers = {
      GA: new NamedAdam(g, 0.5, 0.999),
      GB: new NamedAdam(g, 0.5, 0.999),
      DA: new NamedAdam(d, 0.5, 0.999),
      DB: new NamedAdam(d, 0.5, 0.999),
    };
    buildNetworks(this.weights, options.arch, { discriminators: true });
  }

  get scheduleState(): ScheduleState {
    return { ...this.state };
  }

  /** A replica adopts the schedule state of the trainer it computes gradients for. */
  adoptScheduleState(state: ScheduleState): void {
    this.state = { ...state };
  }

  /** Split each step's batch between this thread and the pool's (null: this thread alone). */
  async attachPool(pool: GradientPool | null): Promise<void> {
    this.pool = pool;
    if (pool) await pool.publish(this, [...this.weights.vars.keys()]);
  }

  /** The variables a step trains, by their model names: encoder + one decoder, or one discriminator. */
  variablesOf(kind: StepKind, side: DecoderSide): Map<string, tf.Variable> {
    const prefixes = kind === 'G' ? ['enc/', `dec${side}/`] : [`dis${side}/`];
    return new Map([...this.weights.vars].filter(([name]) => prefixes.some((p) => name.startsWith(p))));
  }

  private applySchedule(iteration: number, fire = true): void {
    if (fire) for (const event of eventsAt(this.schedule, iteration)) if (event.swapDecoders) this.swapDecoders();
    this.state = scheduleAt(this.schedule, iteration);
    const factor = this.options.learningRateFactor * this.state.lrFactor;
    // In place, as the original should have: no graph rebuild.
    this.optimisers.GA.learningRate = this.optimisers.GB.learningRate = 1e-4 * factor;
    this.optimisers.DA.learningRate = this.optimisers.DB.learningRate = 2e-4 * factor;
  }

  /** Decoders A and B trade weights, and their Adam moments go with them (upstream reloads the swapped files). */
  private swapDecoders(): void {
    for (const [name, a] of this.weights.vars) {
      if (!name.startsWith('decA/')) continue;
      const otherName = name.replace(/^decA\//, 'decB/');
      const b = this.weights.vars.get(otherName);
      if (!b) continue;
      const copy = tf.clone(a);
      a.assign(b);
      b.assign(copy);
      copy.dispose();
      this.optimisers.GA.exchange(name, this.optimisers.GB, otherName);
    }
    this.republish = true;
  }

  /** One iteration from the faces (drawn on this thread): used by tests and tools. */
  step(faces: FaceSet, augment: AugmentOptions = {}): Promise<LossRecord> {
    const { batchSize, arch } = this.options;
    return this.stepBatches(
      drawIteration(faces.faces, { count: batchSize, size: arch.resolution, ...augment }, this.dataRng),
    );
  }

  /** One iteration on batches a loader prepared; the data RNG takes the state after them (for checkpoints). */
  async stepPrepared(prepared: PreparedBatches): Promise<LossRecord> {
    const losses = await this.stepBatches(prepared.batches);
    this.dataRng.restore(prepared.rngStateAfter);
    return losses;
  }

  /** Advance to the next iteration (schedule events fire); returns the draws of its four steps in order. */
  beginIteration(): Record<'DA' | 'DB' | 'GA' | 'GB', StepDraws> {
    this.iteration += 1;
    this.applySchedule(this.iteration);
    const perceptual = this.perceptualOn;
    // Fixed order: D A, D B (mixup lambdas), then G A, G B (perceptual mixes while that loss is on).
    const lambda = (): number => (this.options.adversarial === 'ralsgan' ? 0 : this.rng.beta(0.2, 0.2));
    const DA = { lambda: lambda(), lambdaPerceptual: 0 };
    const DB = { lambda: lambda(), lambdaPerceptual: 0 };
    const GA = { lambda: 0, lambdaPerceptual: perceptual ? this.rng.beta(0.2, 0.2) : 0 };
    const GB = { lambda: 0, lambdaPerceptual: perceptual ? this.rng.beta(0.2, 0.2) : 0 };
    return { DA, DB, GA, GB };
  }

  private get perceptualOn(): boolean {
    return this.state.perceptual && Boolean(this.options.perceptual);
  }

  /** One iteration on prepared batches (the data RNG has already drawn them). */
  async stepBatches(batches: IterationBatches): Promise<LossRecord> {
    const draws = this.beginIteration();
    if (this.pool && this.republish) await this.pool.publish(this, [...this.weights.vars.keys()]);
    this.republish = false;
    const losses: LossRecord = {};
    for (const kind of ['D', 'G'] as const)
      for (const side of ['A', 'B'] as const) {
        const batch = (kind === 'D' ? batches.d : batches.g)[sideKey(side)];
        const step = this.pool
          ? await this.pool.gradients(this, kind, side, batch, draws[`${kind}${side}`])
          : this.batchGradients(kind, side, batch, draws[`${kind}${side}`]);
        Object.assign(losses, await this.applyStep(kind, side, step));
        if (this.pool) await this.pool.publish(this, [...this.variablesOf(kind, side).keys()]);
      }
    return losses;
  }

  /** The gradients of one step on a batch held in arrays (this thread's part, when a pool splits it). */
  batchGradients(kind: StepKind, side: DecoderSide, batch: Batch, draws: StepDraws): StepGradients {
    const data = batchTensors(batch);
    try {
      return this.gradients(kind, side, data, draws);
    } finally {
      tf.dispose([data.warped, data.target, data.eyes]);
    }
  }

  /** The gradients of one step for one batch (or a worker's part of it), without touching any variable. */
  gradients(kind: StepKind, side: DecoderSide, data: StepTensors, draws: StepDraws): StepGradients {
    const vars = this.variablesOf(kind, side);
    const terms: Record<string, tf.Scalar> = {};
    // The discriminator learns from the current generator's fakes, made before the tape so none of the generator's
    // activations are kept for a backward pass that never reaches them.
    const fakes = kind === 'D' ? this.fakes(side, data.warped) : null;
    try {
      const loss = fakes
        ? () => this.discriminatorLoss(side, data, fakes, draws)
        : () => this.generatorLoss(side, data, draws, terms);
      const { value, grads } = tf.variableGrads(loss, [...vars.values()]);
      terms[`${kind}${side}`] = value;
      const byName = new Map<string, tf.Tensor>();
      for (const [name, variable] of vars) {
        const grad = grads[variable.name];
        if (grad) byName.set(name, grad);
      }
      return { grads: byName, terms };
    } finally {
      if (fakes) tf.dispose([fakes.masked, fakes.color]);
    }
  }

  private fakes(side: DecoderSide, warped: T4): { masked: T4; color: T4 } {
    return tf.tidy(() => {
      const out = decoder(this.weights, this.options.arch, side, encoder(this.weights, this.options.arch, warped));
      return { masked: composite(out.alpha, out.color, warped), color: out.color };
    });
  }

  /**
   * Apply summed gradients with the step's Adam, adding upstream's L2 weight decay (kernel_regularizer, 1e-4 *
   * sum of squared kernels) to the gradients of the variables that declare it, outside the tape (as a loss term its
   * squared kernels were kept for the backward pass). Reads the loss terms, then frees gradients and terms.
   */
  async applyStep(kind: StepKind, side: DecoderSide, step: StepGradients): Promise<LossRecord> {
    const optimiser = this.optimisers[`${kind}${side}`];
    const factor = this.lossWeights.weightDecay;
    const vars = this.variablesOf(kind, side);
    const squares: tf.Scalar[] = [];
    for (const [name, variable] of vars) {
      const grad = step.grads.get(name);
      if (!grad) continue;
      if (factor > 0 && this.weights.decayed.has(name)) {
        squares.push(tf.tidy(() => tf.sum(tf.square(variable))));
        const decayed = tf.tidy(() => tf.add(grad, tf.mul(2 * factor, variable)));
        optimiser.apply(name, variable, decayed);
        decayed.dispose();
      } else optimiser.apply(name, variable, grad);
    }
    tf.dispose([...step.grads.values()]);
    const total = `${kind}${side}`;
    // The decay is measured before each update, as a loss term would have been.
    const decay = tf.tidy(() => tf.mul(factor, squares.length ? sumOf(squares) : tf.scalar(0)));
    const out: LossRecord = {};
    // Asynchronous reads: WebGPU in Node cannot read synchronously.
    for (const [name, t] of Object.entries(step.terms)) out[name] = ((await t.data())[0] as number) ?? NaN;
    out[total] = (out[total] ?? 0) + (((await decay.data())[0] as number) ?? 0);
    tf.dispose([decay, ...squares, ...Object.values(step.terms)]);
    return out;
  }

  private discriminatorOf(side: DecoderSide, warped: T4): (image: T4) => T4 {
    return (image) => discriminator(this.weights, this.options.arch, side, tf.concat([image, warped], 3));
  }

  /** The discriminator's loss: mixup-LSGAN (the default) or upstream's relativistic-average LSGAN. */
  private discriminatorLoss(
    side: DecoderSide,
    data: StepTensors,
    fake: { masked: T4; color: T4 },
    draws: StepDraws,
  ): tf.Scalar {
    const D = this.discriminatorOf(side, data.warped);
    if (this.options.adversarial === 'ralsgan')
      return relativisticDiscriminator(D(data.target), D(fake.masked), D(fake.color));
    const pair = (image: T4): T4 => tf.concat([image, data.warped], 3);
    const raw = (x: T4): T4 => discriminator(this.weights, this.options.arch, side, x);
    return mixupDiscriminator(raw, pair(data.target), [pair(fake.masked), pair(fake.color)], draws.lambda);
  }

  private generatorLoss(
    side: DecoderSide,
    data: StepTensors,
    draws: StepDraws,
    terms: Record<string, tf.Scalar>,
  ): tf.Scalar {
    const { arch } = this.options;
    const generate = (which: DecoderSide, input: T4): DecoderOutput =>
      decoder(this.weights, arch, which, encoder(this.weights, arch, input));
    const out = generate(side, data.warped);
    const step: GeneratorStep = {
      side,
      ...data,
      out,
      masked: composite(out.alpha, out.color, data.warped),
      weights: this.lossWeights,
      schedule: this.state,
      adversarial: this.options.adversarial ?? 'mixup-lsgan',
      lambdaPerceptual: draws.lambdaPerceptual,
      perceptual: this.options.perceptual ?? null,
      cycle: Boolean(this.options.cycle),
      discriminate: this.discriminatorOf(side, data.warped),
      generate,
    };
    const parts = GENERATOR_TERMS.filter((term) => term.active(step)).map((term) => {
      const value = term.value(step);
      terms[`G${side}_${term.name}`] = tf.keep(value);
      return value;
    });
    return sumOf(parts);
  }

  /** Run the generator on aligned faces (NHWC -1..1): the swap, used by previews and conversion. */
  generate(side: DecoderSide, input: T4): { alpha: T4; color: T4; masked: T4 } {
    return tf.tidy(() => {
      const out = decoder(this.weights, this.options.arch, side, encoder(this.weights, this.options.arch, input));
      return { alpha: out.alpha, color: out.color, masked: composite(out.alpha, out.color, input) };
    });
  }

  /** The optimisers' state for a checkpoint (tensors owned by the optimisers: do not dispose). */
  optimizerWeights(): NamedTensor[] {
    return Object.entries(this.optimisers).flatMap(([key, adam]) => adam.state(`adam${key}`));
  }

  /** Restore the optimisers from a checkpoint. Returns a warning when a checkpoint holds no optimiser state. */
  setOptimizerWeights(named: NamedTensor[]): string | null {
    let restored = 0;
    for (const [key, adam] of Object.entries(this.optimisers))
      restored += adam.restore(`adam${key}`, named, this.variablesOf(key[0] as StepKind, key[1] as DecoderSide));
    return restored === 0
      ? 'the checkpoint holds no optimiser state: weights restored, Adam moments start afresh'
      : null;
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
