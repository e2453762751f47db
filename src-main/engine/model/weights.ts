import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../train/rng.js';

export type Init = 'he' | 'icnr' | 'zeros' | 'ones';

/**
 * Named trainable variables, created on first use in a deterministic order from a seeded RNG,
 * so the same seed builds the same network on every backend.
 */
let instances = 0;

export class Weights {
  readonly vars = new Map<string, tf.Variable>();
  /** tfjs registers variables by global name; a per-instance scope lets several models live in one process. */
  private readonly scope = `w${(instances += 1)}`;

  constructor(private readonly rng: Rng) {}

  get(name: string, shape: number[], init: Init): tf.Variable {
    const existing = this.vars.get(name);
    if (existing) return existing;
    const variable = tf.tidy(() => tf.variable(this.initial(shape, init), true, `${this.scope}/${name}`));
    this.vars.set(name, variable);
    return variable;
  }

  private initial(shape: number[], init: Init): tf.Tensor {
    if (init === 'zeros') return tf.zeros(shape);
    if (init === 'ones') return tf.ones(shape);
    const fanIn =
      shape.length === 4 ? (shape[0] as number) * (shape[1] as number) * (shape[2] as number) : (shape[0] as number);
    const std = Math.sqrt(2 / fanIn);
    if (init === 'icnr') {
      // ICNR: every sub-pixel position of a pixel-shuffle conv starts with the same kernel (no checkerboard).
      const [kh, kw, ci, co] = shape as [number, number, number, number];
      const sub = co / 4;
      const base = new Float32Array(kh * kw * ci * sub).map(() => this.rng.normal() * std);
      const values = new Float32Array(kh * kw * ci * co);
      for (let p = 0; p < kh * kw * ci; p += 1) {
        for (let s = 0; s < 4; s += 1)
          for (let c = 0; c < sub; c += 1) values[p * co + s * sub + c] = base[p * sub + c] as number;
      }
      return tf.tensor(values, shape);
    }
    return tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => this.rng.normal() * std),
      shape,
    );
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
