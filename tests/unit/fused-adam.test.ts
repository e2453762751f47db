import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { FUSED_ADAM, registerFusedAdam } from '../../src-main/engine/backend/fused-adam.js';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { NamedAdam } from '../../src-main/engine/train/adam.js';
import { relativeError } from '../helpers/tensors.js';

/** Seeded values in [-scale/2, scale/2), so a failure can be reproduced. */
function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

/** Three Adam steps on a [37, 29] variable with seeded gradients; how far each step has moved the weights. */
function train(decay: number): Float32Array[] {
  const adam = new NamedAdam(1e-3);
  const start = values(37 * 29, 1);
  const variable = tf.variable(tf.tensor(start, [37, 29]));
  const after: Float32Array[] = [];
  for (let step = 0; step < 3; step += 1) {
    const grad = tf.tensor(values(37 * 29, 10 + step, 0.2), [37, 29]);
    adam.apply('w', variable, grad, decay);
    grad.dispose();
    const now = variable.dataSync() as Float32Array;
    after.push(now.map((w, i) => w - start[i]!));
  }
  adam.dispose();
  variable.dispose();
  return after;
}

describe.each(['wasm', 'cpu'] as const)('Adam as one fused pass on %s', (backend) => {
  afterAll(() => {
    registerFusedAdam(backend);
  });

  it('is the kernel the optimiser runs there', async () => {
    await selectBackend(backend);
    expect(tf.getKernel(FUSED_ADAM, backend)).toBeDefined();
  });

  it("takes Keras' first step: every weight moves by the learning rate against its gradient's sign", async () => {
    await selectBackend(backend);
    const g0 = values(37 * 29, 10, 0.2);
    const moved = train(0)[0]!;
    let checked = 0;
    for (let i = 0; i < g0.length; i += 1) {
      // m/(sqrt(v)+eps) is g/|g| at t=1 where |g| >> eps.
      if (Math.abs(g0[i]!) < 1e-2) continue;
      expect(-moved[i]! * Math.sign(g0[i]!)).toBeCloseTo(1e-3, 5);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(900);
  });

  it.each([0, 0.05])(
    'moves the weights as the elementwise kernels do, within 1e-4, over three steps (decay %s)',
    async (decay) => {
      await selectBackend(backend);
      const fused = train(decay);
      tf.unregisterKernel(FUSED_ADAM, backend);
      const plain = train(decay);
      registerFusedAdam(backend);
      // Weights near 0.5 move by ~1e-3: one float32 ulp of a weight is ~3e-5 of a step.
      for (let step = 0; step < 3; step += 1) expect(relativeError(fused[step]!, plain[step]!)).toBeLessThan(1e-4);
      // The decay moved the weights: the two settings differ by more than the tolerance.
      if (decay) {
        tf.unregisterKernel(FUSED_ADAM, backend);
        const undecayed = train(0);
        registerFusedAdam(backend);
        expect(relativeError(fused[2]!, undecayed[2]!)).toBeGreaterThan(1e-2);
      }
    },
  );
});
