import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../../src-shared/math/rng.js';

/**
 * Keras' initialisers as upstream uses them: 'he' is he_normal (truncated at two standard deviations, scaled so
 * the kept draws have variance 2 / fan_in), 'glorot' is glorot_uniform (Keras' default, used by upstream's convs
 * without an explicit initialiser and its Dense layers), 'icnr' is upstream's ICNR (normal, sd 0.02, the same
 * kernel at every sub-pixel of a pixel shuffle).
 */
export type Init = 'he' | 'glorot' | 'icnr' | 'zeros' | 'ones';

export interface VariableOptions {
  /** Upstream's kernel_regularizer (L2 weight decay): only where upstream declares one. */
  decay?: boolean;
}

/** Keras' correction so that a normal truncated at 2 sd keeps the intended variance. */
const TRUNCATED_SD = 0.87962566103423978;

function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 4) {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    return { fanIn: kh * kw * ci, fanOut: kh * kw * co };
  }
  return { fanIn: shape[0] as number, fanOut: (shape[1] as number | undefined) ?? (shape[0] as number) };
}

/**
 * Named trainable variables, created on first use in a deterministic order from a seeded RNG,
 * so the same seed builds the same network on every backend.
 */
let instances = 0;

export class Weights {
  readonly vars = new Map<string, tf.Variable>();
  /** Names of the variables that carry upstream's L2 weight decay. */
  readonly decayed = new Set<string>();
  /** tfjs registers variables by global name; a per-instance scope lets several models live in one process. */
  private readonly scope = `w${(instances += 1)}`;

  /** `rng` null: every variable starts at zero (for counting parameters and loading saved values). */
  constructor(private readonly rng: Rng | null) {}

  get(name: string, shape: number[], init: Init, options: VariableOptions = {}): tf.Variable {
    const existing = this.vars.get(name);
    if (existing) return existing;
    const variable = tf.tidy(() => tf.variable(this.initial(shape, init), true, `${this.scope}/${name}`));
    this.vars.set(name, variable);
    if (options.decay) this.decayed.add(name);
    return variable;
  }

  private initial(shape: number[], init: Init): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (init === 'ones') return tf.ones(shape);
    const rng = this.rng;
    if (init === 'zeros' || !rng) return tf.zeros(shape);
    const { fanIn, fanOut } = fans(shape);
    if (init === 'glorot') {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return tf.tensor(
        Float32Array.from({ length: size }, () => rng.uniform(-limit, limit)),
        shape,
      );
    }
    if (init === 'icnr') {
      // One kernel for the four sub-pixel positions of a pixel shuffle: channel (dy * 2 + dx) * sub + c.
      const [kh, kw, ci, co] = shape as [number, number, number, number];
      const sub = co / 4;
      const base = Float32Array.from({ length: kh * kw * ci * sub }, () => rng.normal() * 0.02);
      const values = new Float32Array(size);
      for (let p = 0; p < kh * kw * ci; p += 1)
        for (let s = 0; s < 4; s += 1)
          for (let c = 0; c < sub; c += 1) values[p * co + s * sub + c] = base[p * sub + c] as number;
      return tf.tensor(values, shape);
    }
    const sd = Math.sqrt(2 / fanIn) / TRUNCATED_SD;
    const truncated = (): number => {
      for (;;) {
        const z = rng.normal();
        if (Math.abs(z) <= 2) return z * sd;
      }
    };
    return tf.tensor(Float32Array.from({ length: size }, truncated), shape);
  }

  list(prefix: string): tf.Variable[] {
    return [...this.vars.entries()].filter(([name]) => name.startsWith(prefix)).map(([, v]) => v);
  }

  count(prefix = ''): number {
    return this.list(prefix).reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
