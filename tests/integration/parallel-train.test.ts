/** Data-parallel training: the batch split across threads gives the one-thread run's result, and resumes exactly. */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { archFromSettings } from '../../src-main/engine/model/config.js';
import type { Sample } from '../../src-main/engine/train/augment.js';
import { drawIteration } from '../../src-main/engine/train/batch.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../../src-main/engine/train/checkpoint.js';
import { ThreadPool, splitBatch } from '../../src-main/engine/train/parallel.js';
import { Rng } from '../../src-shared/math/rng.js';
import { Trainer, type IterationBatches, type LossRecord } from '../../src-main/engine/train/trainer.js';
import { REPO, scratch } from '../helpers/paths.js';

// The compiled helper script (npm test builds first): a worker thread cannot run the TypeScript source.
const SCRIPT = path.join(REPO, 'dist/src-main/engine/train/parallel-worker.js');

const arch = archFromSettings({
  resolution: 64,
  capacity: 'lite',
  useSelfAttention: true,
  norm: 'instancenorm',
  modelWidth: 4,
  discriminatorWidth: 4,
});

/** Faces with structure (a bright disc, dark eyes) so the losses have something to learn. */
function faces(seed: number): Sample[] {
  const rng = new Rng(seed);
  return Array.from({ length: 4 }, () => {
    const tone = rng.uniform(120, 200);
    const rgb = new Uint8Array(256 * 256 * 3);
    const eyes = new Uint8Array(256 * 256);
    for (let y = 0; y < 256; y += 1)
      for (let x = 0; x < 256; x += 1) {
        const i = (y * 256 + x) * 3;
        const inside = Math.hypot(x - 128, y - 130) < 80;
        const eye = y > 100 && y < 116 && ((x > 86 && x < 116) || (x > 140 && x < 170));
        const v = eye ? 30 : inside ? tone : 50 + ((x + y) % 40);
        rgb[i] = v;
        rgb[i + 1] = v * 0.8;
        rgb[i + 2] = v * 0.7;
        if (eye) eyes[y * 256 + x] = 255;
      }
    return { rgb, eyes };
  });
}

const set = { a: faces(1), b: faces(2) };
const iterations = (count: number, seed: number): IterationBatches[] => {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => drawIteration(set, { count: 4, size: 64 }, rng));
};

async function trainerWith(threads: number): Promise<{ trainer: Trainer; pool: ThreadPool | null }> {
  const trainer = new Trainer({ arch, batchSize: 4, totalIterations: 100, seed: 9, learningRateFactor: 1 });
  const pool = await ThreadPool.start(trainer, threads, { perceptual: false, backend: 'wasm', script: SCRIPT });
  await trainer.attachPool(pool);
  return { trainer, pool };
}

const weightsOf = (trainer: Trainer): Float32Array[] =>
  [...trainer.weights.vars.values()].map((v) => Float32Array.from(v.dataSync()));

describe('data-parallel training over threads', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('splits a batch into contiguous parts, larger first', () => {
    expect(splitBatch(8, 2)).toEqual([
      [0, 4],
      [4, 8],
    ]);
    expect(splitBatch(7, 3)).toEqual([
      [0, 3],
      [3, 5],
      [5, 7],
    ]);
    expect(splitBatch(2, 4)).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  it('two threads give the one-thread losses and weights within float tolerance', async () => {
    const batches = iterations(3, 5);
    const one = await trainerWith(1);
    const two = await trainerWith(2);
    try {
      expect(one.pool).toBeNull();
      expect(two.pool?.threads).toBe(2);
      for (const batch of batches) {
        const a = await one.trainer.stepBatches(batch);
        const b = await two.trainer.stepBatches(batch);
        for (const key of ['GA', 'GB', 'DA', 'DB', 'GA_recon', 'GB_edge', 'GA_adv']) {
          const x = a[key] as number;
          const y = b[key] as number;
          expect(Math.abs(x - y), `${key}: ${x} vs ${y}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(x)));
        }
      }
      const wa = weightsOf(one.trainer);
      const wb = weightsOf(two.trainer);
      let worst = 0;
      wa.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (wb[i]?.[j] as number))))));
      expect(worst).toBeLessThan(1e-4);
      // And they did train: the weights moved from where they started.
      const fresh = new Trainer({ arch, batchSize: 4, totalIterations: 100, seed: 9, learningRateFactor: 1 });
      const start = weightsOf(fresh);
      fresh.dispose();
      let moved = 0;
      wa.forEach((w, i) => w.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - (start[i]?.[j] as number))))));
      // Adam moves a weight by about the learning rate (1e-4) an update: three updates, about 3e-4.
      expect(moved).toBeGreaterThan(2e-4);
    } finally {
      for (const t of [one, two]) {
        await t.pool?.close();
        t.trainer.dispose();
      }
    }
  });

  it('resumes bit-exactly with the same number of threads', async () => {
    const batches = iterations(4, 6);
    const dir = mkdtempSync(path.join(scratch('parallel'), 'ckpt-'));
    const straight = await trainerWith(2);
    const first = await trainerWith(2);
    let expected: LossRecord = {};
    let resumed: LossRecord = {};
    let second: Awaited<ReturnType<typeof trainerWith>> | null = null;
    try {
      for (const batch of batches) expected = await straight.trainer.stepBatches(batch);
      for (const batch of batches.slice(0, 2)) await first.trainer.stepBatches(batch);
      await saveCheckpoint(dir, first.trainer, {}, 2);
      second = await trainerWith(2);
      expect(await loadLatestCheckpoint(dir, second.trainer, () => undefined)).not.toBeNull();
      await second.trainer.attachPool(second.pool);
      for (const batch of batches.slice(2)) resumed = await second.trainer.stepBatches(batch);
      expect(resumed).toEqual(expected);
      const a = weightsOf(straight.trainer);
      const b = weightsOf(second.trainer);
      a.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from((b[i] as Float32Array).buffer))).toBe(true));
    } finally {
      for (const t of [straight, first, second]) {
        await t?.pool?.close();
        t?.trainer.dispose();
      }
    }
    expect(tf.memory().numTensors).toBeLessThan(50);
  });
});
