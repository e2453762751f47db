/** Warm start: a run that begins from an earlier model reaches the earlier run's loss in a few iterations. */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { archFromSettings } from '../../src-main/engine/model/config.js';
import type { Sample } from '../../src-main/engine/train/augment.js';
import { drawIteration } from '../../src-main/engine/train/batch.js';
import { exportGenerator, saveCheckpoint } from '../../src-main/engine/train/checkpoint.js';
import { Trainer } from '../../src-main/engine/train/trainer.js';
import { warmStart } from '../../src-main/engine/train/warm-start.js';
import { Rng } from '../../src-shared/math/rng.js';
import { scratch } from '../helpers/paths.js';

const settings = {
  resolution: 64 as const,
  capacity: 'lite' as const,
  useSelfAttention: false,
  norm: 'instancenorm' as const,
  modelWidth: 8,
  discriminatorWidth: 8,
};

/** Faces with structure: a lit disc, dark eyes, a mouth; each face a little different. */
function faces(seed: number): Sample[] {
  const rng = new Rng(seed);
  return Array.from({ length: 6 }, () => {
    const tone = rng.uniform(130, 210);
    const shift = rng.uniform(-6, 6);
    const rgb = new Uint8Array(256 * 256 * 3);
    const eyes = new Uint8Array(256 * 256);
    for (let y = 0; y < 256; y += 1)
      for (let x = 0; x < 256; x += 1) {
        const i = (y * 256 + x) * 3;
        const eye = y > 100 && y < 116 && ((x > 86 + shift && x < 116 + shift) || (x > 140 + shift && x < 170 + shift));
        const mouth = y > 160 && y < 172 && x > 104 && x < 152;
        const v = eye || mouth ? 35 : Math.hypot(x - 128, y - 130) < 82 ? tone : 60;
        rgb[i] = v;
        rgb[i + 1] = v * 0.82;
        rgb[i + 2] = v * 0.7;
        if (eye) eyes[y * 256 + x] = 255;
      }
    return { rgb, eyes };
  });
}

const set = { a: faces(1), b: faces(2) };

function trainer(seed: number, overrides: Partial<typeof settings> = {}): Trainer {
  return new Trainer({
    arch: archFromSettings({ ...settings, ...overrides }),
    batchSize: 4,
    totalIterations: 1000,
    seed,
    learningRateFactor: 1,
  });
}

/** Mean reconstruction loss of both sides over a window of iterations. */
async function recon(t: Trainer, iterations: number, rng: Rng): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < iterations; i += 1) {
    const losses = await t.stepBatches(drawIteration(set, { count: 4, size: 64 }, rng));
    out.push(((losses.GA_recon as number) + (losses.GB_recon as number)) / 2);
  }
  return out;
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

describe('warm start', () => {
  let checkpoint: string;
  let generator: string;
  let reached: number;

  beforeAll(async () => {
    await selectBackend('wasm');
    const earlier = trainer(3);
    const history = await recon(earlier, 60, new Rng(30));
    reached = mean(history.slice(-5));
    const dir = scratch('warm-start');
    checkpoint = await saveCheckpoint(path.join(dir, 'checkpoints'), earlier, {}, 1);
    generator = path.join(dir, 'generator.fpm');
    await exportGenerator(generator, earlier, {});
    earlier.dispose();
  }, 600_000);

  it("reaches the earlier run's reconstruction loss in a few iterations, where a cold start needs many", async () => {
    const firstBelow = (values: number[]): number => {
      for (let i = 2; i < values.length; i += 1) if (mean(values.slice(i - 2, i + 1)) <= reached) return i + 1;
      return Infinity;
    };
    const warm = trainer(4);
    const started = await warmStart(warm, generator, 'generator');
    expect(started).toMatchObject({ parts: 'generator', iteration: 60 });
    const warmRun = await recon(warm, 12, new Rng(40));
    const cold = trainer(4);
    const coldRun = await recon(cold, 45, new Rng(40));
    warm.dispose();
    cold.dispose();
    const warmNeeded = firstBelow(warmRun);
    const coldNeeded = firstBelow(coldRun);
    console.log(
      `warm start: reconstruction ${reached.toFixed(3)} reached after ${warmNeeded} iterations (cold: ${coldNeeded})`,
    );
    expect(warmNeeded).toBeLessThanOrEqual(6);
    expect(coldNeeded).toBeGreaterThan(3 * warmNeeded);
  });

  it('takes only the parts asked for: the encoder alone leaves the decoders as they were', async () => {
    const t = trainer(5);
    const before = Float32Array.from(t.weights.vars.get('decA/alpha/kernel')?.dataSync() as Float32Array);
    const started = await warmStart(t, checkpoint, 'encoder');
    expect(Array.from(t.weights.vars.get('decA/alpha/kernel')?.dataSync() as Float32Array)).toEqual(Array.from(before));
    expect(started.variables).toBe([...t.weights.vars.keys()].filter((n) => n.startsWith('enc/')).length);
    // Everything, discriminators included, from a checkpoint.
    const all = await warmStart(t, checkpoint, 'all');
    expect(all.variables).toBe(t.weights.vars.size);
    t.dispose();
  });

  it('refuses a model of another shape, naming both, and discriminators from a generator export', async () => {
    const other = trainer(6, { modelWidth: 16 });
    await expect(warmStart(other, checkpoint, 'generator')).rejects.toThrow(
      /has another shape \(64 px, lite, norm instancenorm, no self-attention, width 8\/8.*than this run \(64 px, lite, norm instancenorm, no self-attention, width 16\/8.*baseFilters differ/,
    );
    other.dispose();
    const same = trainer(6);
    await expect(warmStart(same, generator, 'all')).rejects.toThrow(/exported generator: it has no discriminators/);
    await expect(warmStart(same, path.join(path.dirname(generator), 'nothing.fpm'), 'generator')).rejects.toThrow(
      /does not exist/,
    );
    same.dispose();
  });
});
