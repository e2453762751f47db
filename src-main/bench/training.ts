/**
 * The training part of `faceparts bench`: the production path (trainer, CPU threads, threaded batch loader) at
 * 64 px, batch 8, with self-attention, beside the PyTorch peer (../shared/bench/peer_gan_step.py) measured in the
 * same run with the same thread count and the same architecture (equal parameter counts: upstream's per-channel
 * 'layernorm', which is what the peer's InstanceNorm2d(affine) computes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { NormType } from '../../src-shared/contract/index.js';
import { selectBackend } from '../engine/backend/select.js';
import { archFromSettings } from '../engine/model/config.js';
import type { Sample } from '../engine/train/augment.js';
import { FaceSet } from '../engine/train/dataset.js';
import { startLoader } from '../engine/train/loader.js';
import { ThreadPool, threadsFor } from '../engine/train/parallel.js';
import { Trainer } from '../engine/train/trainer.js';
import type { z } from 'zod';

type Json = Record<string, unknown>;

/** Iterations upstream asks for before a swap is good. */
export const GOOD_SWAP_ITERATIONS = 18_000;

function syntheticFaces(seed: number): Sample[] {
  return Array.from({ length: 8 }, (_, k) => {
    const rgb = new Uint8Array(256 * 256 * 3);
    const eyes = new Uint8Array(256 * 256);
    for (let i = 0; i < rgb.length; i += 1) rgb[i] = (i * (7 + k + seed)) % 251;
    for (let y = 100; y < 118; y += 1) for (let x = 80; x < 176; x += 1) eyes[y * 256 + x] = 255;
    return { rgb, eyes };
  });
}

export interface TrainPhaseOptions {
  capacity: 'lite' | 'standard';
  norm?: z.infer<typeof NormType>;
  threads?: number | 'auto';
  batch?: number;
  warmup?: number;
  iterations?: number;
  selfAttention?: boolean;
  modelWidth?: number;
  discriminatorWidth?: number;
  /** Count the kernels one iteration dispatches (on this thread; each helper thread dispatches as many). */
  countKernels?: boolean;
}

/** One phase (its own process): time `iterations` after `warmup` on the production training path. */
export async function trainPhase(o: TrainPhaseOptions): Promise<Json> {
  const report = await selectBackend('auto');
  const backend = report.selected ?? 'cpu';
  const batch = o.batch ?? 8;
  const arch = archFromSettings({
    resolution: 64,
    capacity: o.capacity,
    useSelfAttention: o.selfAttention !== false,
    norm: o.norm ?? 'layernorm',
    modelWidth: o.modelWidth,
    discriminatorWidth: o.discriminatorWidth,
  });
  const trainer = new Trainer({ arch, batchSize: batch, totalIterations: 20_000, seed: 1, learningRateFactor: 1 });
  const threads = threadsFor(o.threads ?? 'auto', backend, batch);
  const pool = await ThreadPool.start(trainer, threads, { perceptual: false, backend });
  await trainer.attachPool(pool);
  const faces = new FaceSet({ a: syntheticFaces(0), b: syntheticFaces(1) });
  const loader = startLoader(faces, { count: batch, size: 64 }, trainer.dataRng.seedState);
  try {
    let kernels: number | null = null;
    for (let i = 0; i < (o.warmup ?? 2); i += 1) await trainer.stepPrepared(await loader.next());
    if (o.countKernels) {
      const prepared = await loader.next();
      kernels = (await tf.profile(() => trainer.stepPrepared(prepared))).kernels.length;
    }
    const iterations = o.iterations ?? 5;
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
      norm: arch.norm,
      selfAttention: arch.useSelfAttention,
      msPerIteration: Math.round(ms),
      timedIterations: iterations,
      // Each iteration trains both sides' generators (and discriminators) on a batch: 2 x batch faces.
      samplesPerSecond: Math.round(((2 * batch) / (ms / 1000)) * 100) / 100,
      loaderWaitMsPerIteration: Math.round(waited / iterations),
      kernelsPerIterationOneThread: kernels,
      params: trainer.weights.count('enc/') + trainer.weights.count('decA/') + trainer.weights.count('disA/'),
      projectedHoursTo18k: Math.round(((ms * GOOD_SWAP_ITERATIONS) / 3_600_000) * 10) / 10,
    };
  } finally {
    await loader.close();
    await pool?.close();
    trainer.dispose();
  }
}

/** The PyTorch peer, same thread count and batch, 5 timed iterations after 2 warm-ups (or why it did not run). */
export function runPeer(repo: string, capacity: 'lite' | 'standard', threads: number, quick: boolean): Json {
  const script = [
    path.resolve(repo, '../shared/bench/peer_gan_step.py'),
    path.join(repo, 'bench/peer_gan_step.py'),
  ].find((p) => existsSync(p));
  if (!script) return { available: false, reason: 'peer_gan_step.py not found' };
  // The python3 first on PATH may be a private one; Debian's python3-torch lives beside /usr/bin/python3.
  const python = ['python3', '/usr/bin/python3'].find((candidate) => {
    try {
      execFileSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python)
    return {
      available: false,
      reason: 'python3 with torch is not installed (Debian: python3-torch libopenblas0-pthread)',
    };
  if (quick) return { available: true, skipped: 'quick mode' };
  try {
    const args = [script, '--res', '64', '--batch', '8', '--iters', '5', '--warmup', '2', '--threads', String(threads)];
    if (capacity === 'lite') args.push('--lite');
    const out = execFileSync(python, args, { timeout: 1_800_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      .split('\n')
      .pop();
    return { available: true, ...(JSON.parse(out ?? '{}') as Json) };
  } catch (error) {
    return { available: false, reason: String((error as Error).message).slice(0, 200) };
  }
}

const ratio = (a: unknown, b: unknown): number | null =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 1000) / 1000 : null;

/**
 * The training figures: per capacity, ours like-for-like with the peer on all threads (the main figure), ours with
 * upstream's default norm, and one thread (its peak memory is the reference for the threads' memory).
 */
export async function trainingReport(
  runPhase: (name: string, options: Json) => Promise<Json>,
  repo: string,
  quick: boolean,
  progress: (message: string) => void,
): Promise<Json> {
  const out: Json = {};
  for (const capacity of ['lite', 'standard'] as const) {
    const tiny = quick
      ? { modelWidth: 8, discriminatorWidth: 8, selfAttention: false, batch: 2, warmup: 1, iterations: 1 }
      : {};
    progress(`training ${capacity}: the production path on all threads`);
    const ours = await runPhase('train', { capacity, ...tiny, countKernels: !quick });
    progress(`training ${capacity}: one thread`);
    const single = await runPhase('train', { capacity, ...tiny, threads: 1, iterations: quick ? 1 : 2 });
    progress(`training ${capacity}: upstream's default norm (instancenorm)`);
    const upstreamNorm = quick
      ? { skipped: 'quick mode' }
      : await runPhase('train', { capacity, norm: 'instancenorm' });
    progress(`training ${capacity}: the PyTorch peer`);
    const peer = runPeer(repo, capacity, typeof ours.threads === 'number' ? ours.threads : 1, quick);
    out[capacity] = {
      ...ours,
      peer,
      ratioToPeer: ratio(ours.msPerIteration, peer.ms_per_iter),
      target: 'ratioToPeer <= 0.8',
      paramsEqualToPeer: typeof peer.params_enc_dec_disc === 'number' ? ours.params === peer.params_enc_dec_disc : null,
      oneThread: {
        msPerIteration: single.msPerIteration,
        peakRssMB: single.peakRssMB,
        speedUpOfThreads: ratio(single.msPerIteration, ours.msPerIteration),
        peakMemoryRatio: ratio(ours.peakRssMB, single.peakRssMB),
        target: 'peakMemoryRatio <= 2',
      },
      upstreamDefaultNorm: upstreamNorm,
    };
  }
  return out;
}
