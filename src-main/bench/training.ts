/**
 * The training part of `faceparts bench`: the production path (trainer, CPU threads, threaded batch loader) at
 * 64 px, batch 8, with self-attention, beside the PyTorch peer (../shared/bench/peer_gan_step.py) measured in the
 * same run with the same thread count and the same architecture (equal parameter counts: upstream's per-channel
 * 'layernorm', which is what the peer's InstanceNorm2d(affine) computes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { NormType, TrainingSettings } from '../../src-shared/contract/index.js';
import { measureTrainingSpeed } from '../engine/train/estimate.js';

type Json = Record<string, unknown>;

export interface TrainPhaseOptions {
  capacity: TrainingSettings['capacity'];
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

/** One phase (its own process): the production training path at 64 px, timed after its warm-up. */
export async function trainPhase(o: TrainPhaseOptions): Promise<Json> {
  const speed = await measureTrainingSpeed(
    {
      resolution: 64,
      capacity: o.capacity,
      norm: o.norm ?? 'layernorm',
      threads: o.threads ?? 'auto',
      batchSize: o.batch ?? 8,
      useSelfAttention: o.selfAttention !== false,
      ...(o.modelWidth ? { modelWidth: o.modelWidth } : {}),
      ...(o.discriminatorWidth ? { discriminatorWidth: o.discriminatorWidth } : {}),
    },
    { warmup: o.warmup ?? 2, iterations: o.iterations ?? 5, countKernels: o.countKernels === true },
  );
  return { ...speed, norm: o.norm ?? 'layernorm', selfAttention: o.selfAttention !== false };
}

/** The PyTorch peer, same thread count and batch, 5 timed iterations after 2 warm-ups (or why it did not run). */
export function runPeer(repo: string, capacity: TrainingSettings['capacity'], threads: number, quick: boolean): Json {
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
