/**
 * How fast a training configuration runs here: a few iterations of the production path (the trainer, its CPU
 * threads and the threaded batch loader) on synthetic faces. The studio and the demo plan runs with it; the bench
 * reports it beside the PyTorch peer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TrainingSettings } from '../../../src-shared/contract/index.js';
import { selectBackend } from '../backend/select.js';
import { archFromSettings } from '../model/config.js';
import type { Sample } from './augment.js';
import { FaceSet } from './dataset.js';
import { startLoader } from './loader.js';
import { ThreadPool, threadsFor } from './parallel.js';
import { Trainer } from './trainer.js';
import { PerceptualNet } from './perceptual.js';
import { FaceNets } from '../landmarks/face-nets.js';

/** Iterations upstream asks for before a swap is good. */
export const GOOD_SWAP_ITERATIONS = 18_000;

/** Faces of the right size and layout (timing does not depend on their content). */
function syntheticFaces(seed: number): Sample[] {
  return Array.from({ length: 8 }, (_, k) => {
    const rgb = new Uint8Array(256 * 256 * 3);
    const eyes = new Uint8Array(256 * 256);
    for (let i = 0; i < rgb.length; i += 1) rgb[i] = (i * (7 + k + seed)) % 251;
    for (let y = 100; y < 118; y += 1) for (let x = 80; x < 176; x += 1) eyes[y * 256 + x] = 255;
    return { rgb, eyes };
  });
}

export interface SpeedMeasure {
  backend: string;
  threads: number;
  batch: number;
  msPerIteration: number;
  timedIterations: number;
  /** Each iteration trains both sides on a batch: 2 x batch faces. */
  samplesPerSecond: number;
  iterationsPerHour: number;
  hoursTo18k: number;
  loaderWaitMsPerIteration: number;
  kernelsPerIterationOneThread: number | null;
  /** Encoder + one decoder + one discriminator (the PyTorch peer's count). */
  params: number;
}

export async function measureTrainingSpeed(
  patch: Partial<TrainingSettings>,
  options: { warmup?: number; iterations?: number; countKernels?: boolean; perceptual?: boolean } = {},
): Promise<SpeedMeasure> {
  const settings = TrainingSettings.parse(patch);
  const report = await selectBackend(settings.backend);
  const backend = report.selected ?? 'cpu';
  const arch = archFromSettings(settings);
  const batch = settings.batchSize;
  // With the perceptual loss on (as for the 80 % of a run after the schedule turns it on), the run's slow part:
  // a schedule of two iterations has every event at iteration 1 or 2.
  const perceptual = options.perceptual ? await PerceptualNet.fromFaceNets(await FaceNets.load()) : null;
  const trainer = new Trainer({
    arch,
    batchSize: batch,
    totalIterations: perceptual ? 2 : 20_000,
    seed: 1,
    learningRateFactor: 1,
    perceptual,
  });
  const pool = await ThreadPool.start(trainer, threadsFor(settings.threads, backend, batch), {
    perceptual: Boolean(perceptual),
    backend,
  });
  await trainer.attachPool(pool);
  const faces = new FaceSet({ a: syntheticFaces(0), b: syntheticFaces(1) });
  const loader = startLoader(faces, { count: batch, size: arch.resolution }, trainer.dataRng.seedState);
  try {
    for (let i = 0; i < (options.warmup ?? 1); i += 1) await trainer.stepPrepared(await loader.next());
    let kernels: number | null = null;
    if (options.countKernels) {
      const prepared = await loader.next();
      kernels = (await tf.profile(() => trainer.stepPrepared(prepared))).kernels.length;
    }
    const iterations = Math.max(1, options.iterations ?? 2);
    let waited = 0;
    const t0 = performance.now();
    for (let i = 0; i < iterations; i += 1) {
      const w0 = performance.now();
      const prepared = await loader.next();
      waited += performance.now() - w0;
      await trainer.stepPrepared(prepared);
    }
    const ms = (performance.now() - t0) / iterations;
    return {
      backend,
      threads: pool?.threads ?? 1,
      batch,
      msPerIteration: Math.round(ms),
      timedIterations: iterations,
      samplesPerSecond: Math.round(((2 * batch) / (ms / 1000)) * 100) / 100,
      iterationsPerHour: Math.round(3_600_000 / ms),
      hoursTo18k: Math.round(((ms * GOOD_SWAP_ITERATIONS) / 3_600_000) * 10) / 10,
      loaderWaitMsPerIteration: Math.round(waited / iterations),
      kernelsPerIterationOneThread: kernels,
      params: trainer.weights.count('enc/') + trainer.weights.count('decA/') + trainer.weights.count('disA/'),
    };
  } finally {
    await loader.close();
    await pool?.close();
    trainer.dispose();
    perceptual?.dispose();
  }
}
