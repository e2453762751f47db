/**
 * Keras' Adam keyed by variable name, with a step count per variable. tfjs' AdamOptimizer keys its moments by
 * position in the list it is given; by name, a checkpoint restores each moment to its variable whatever the
 * order, and the decoder swap of the schedule can move moments with the weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../io/model-file.js';

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
  /** The step count as a tensor, refreshed when the state is saved. */
  stepTensor: tf.Variable;
}

export class NamedAdam {
  private readonly slots = new Map<string, Slot>();

  constructor(
    public learningRate: number,
    readonly beta1 = 0.5,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
  ) {}

  private slot(key: string, variable: tf.Variable): Slot {
    let slot = this.slots.get(key);
    if (!slot) {
      const zeros = (): tf.Variable => {
        const z = tf.zerosLike(variable);
        const v = tf.variable(z, false);
        z.dispose();
        return v;
      };
      slot = { m: zeros(), v: zeros(), step: 0, stepTensor: tf.tidy(() => tf.variable(tf.scalar(0), false)) };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /**
   * One update of the variable saved under `key` (the model's own name for it: tfjs' variable names carry a
   * per-instance scope, so they differ between the run that saved and the run that resumes). Small tidies
   * keep the peak near four copies of the variable.
   */
  apply(key: string, variable: tf.Variable, grad: tf.Tensor): void {
    const slot = this.slot(key, variable);
    slot.step += 1;
    const { beta1, beta2 } = this;
    const m = tf.tidy(() => tf.add(tf.mul(slot.m, beta1), tf.mul(grad, 1 - beta1)));
    slot.m.assign(m);
    m.dispose();
    const v = tf.tidy(() => tf.add(tf.mul(slot.v, beta2), tf.mul(tf.square(grad), 1 - beta2)));
    slot.v.assign(v);
    v.dispose();
    // Keras: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); p -= lr_t * m / (sqrt(v) + epsilon).
    const rate = (this.learningRate * Math.sqrt(1 - beta2 ** slot.step)) / (1 - beta1 ** slot.step);
    const denominator = tf.tidy(() => tf.add(tf.sqrt(slot.v), this.epsilon));
    const updated = tf.tidy(() => tf.sub(variable, tf.mul(tf.div(slot.m, denominator), rate)));
    denominator.dispose();
    variable.assign(updated);
    updated.dispose();
  }

  /** Swap the state of `key` here with the state of `otherKey` in `other` (the schedule's decoder swap). */
  exchange(key: string, other: NamedAdam, otherKey: string): void {
    const mine = this.slots.get(key);
    const theirs = other.slots.get(otherKey);
    this.slots.delete(key);
    other.slots.delete(otherKey);
    if (theirs) this.slots.set(key, theirs);
    if (mine) other.slots.set(otherKey, mine);
  }

  get variableCount(): number {
    return this.slots.size;
  }

  /** The state, for checkpoints: each variable's moments and step count under `prefix`. */
  state(prefix: string): NamedTensor[] {
    const out: NamedTensor[] = [];
    for (const [name, slot] of this.slots) {
      out.push({ name: `${prefix}:m:${name}`, tensor: slot.m });
      out.push({ name: `${prefix}:v:${name}`, tensor: slot.v });
      tf.tidy(() => slot.stepTensor.assign(tf.scalar(slot.step)));
      out.push({ name: `${prefix}:step:${name}`, tensor: slot.stepTensor });
    }
    return out;
  }

  /** Restore what `state` saved; `variables` gives the shapes. Returns how many variables were restored. */
  restore(prefix: string, named: NamedTensor[], variables: Map<string, tf.Variable>): number {
    const byName = new Map(named.map((t) => [t.name, t.tensor]));
    let restored = 0;
    for (const [name, variable] of variables) {
      const m = byName.get(`${prefix}:m:${name}`);
      const v = byName.get(`${prefix}:v:${name}`);
      const step = byName.get(`${prefix}:step:${name}`);
      if (!m || !v || !step) continue;
      const slot = this.slot(name, variable);
      tf.tidy(() => {
        slot.m.assign(tf.reshape(m, variable.shape));
        slot.v.assign(tf.reshape(v, variable.shape));
      });
      slot.step = step.dataSync()[0] as number;
      restored += 1;
    }
    return restored;
  }

  dispose(): void {
    for (const slot of this.slots.values()) tf.dispose([slot.m, slot.v, slot.stepTensor]);
    this.slots.clear();
  }
}
