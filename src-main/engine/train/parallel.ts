/**
 * Data-parallel training on CPU threads. tfjs' wasm backend runs one thread under Node, so each step's batch is
 * split: this thread computes the gradients of its part while helper threads (worker_threads, each with its own
 * tfjs and a replica of the weights) compute theirs; the parts' gradients are summed in a fixed order (this
 * thread's, then helper 1's, ...), weighted by their share of the batch, so a run repeats exactly with the same
 * number of threads. Weights and optimiser state live in one place, the trainer on this thread: after each update
 * it publishes the step's variables to the helpers through shared memory.
 *
 * Every loss term is a mean over the batch, so the weighted sum is the full batch's gradient, with one exception
 * documented in the note: relativistic LSGAN's batch averages are taken over each thread's part.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { DecoderSide } from '../model/networks.js';
import type { Batch } from './batch.js';
import type { ScheduleState } from './schedule.js';
import type { GradientPool, StepDraws, StepGradients, StepKind, Trainer, TrainerOptions } from './trainer.js';

/** What a helper thread needs to build its replica. */
export interface HelperSetup {
  options: Omit<TrainerOptions, 'perceptual'>;
  /** Load face-api's recognition net for the perceptual loss in the helper too. */
  perceptual: boolean;
  backend: string;
  /** Every variable's name, shape and offset (floats) in `weights`. */
  layout: Array<{ name: string; shape: number[]; offset: number }>;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

export type HelperRequest =
  | { type: 'load'; names: string[] }
  | { type: 'grads'; kind: StepKind; side: DecoderSide; batch: Batch; draws: StepDraws; state: ScheduleState };

export type HelperReply =
  { type: 'ready' } | { type: 'grads'; terms: Record<string, number> } | { type: 'error'; message: string };

/**
 * How many threads share each batch: 'auto' is one per core on the CPU backends (their kernels run one thread
 * each under Node) and one on a GPU backend (a GPU is one device); never more than the batch has samples.
 */
export function threadsFor(choice: 'auto' | number, backend: string, batchSize: number): number {
  const cpu = backend === 'wasm' || backend === 'cpu';
  const wanted = choice === 'auto' ? (cpu ? availableParallelism() : 1) : choice;
  return Math.max(1, Math.min(wanted, batchSize));
}

/** Split `count` samples into `parts` contiguous ranges, the first parts one larger when it does not divide. */
export function splitBatch(count: number, parts: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(parts, count));
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < n; i += 1) {
    const size = Math.floor(count / n) + (i < count % n ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

/** Samples [from, to) of a batch (copies). */
export function sliceBatch(batch: Batch, from: number, to: number): Batch {
  const px = batch.size * batch.size;
  return {
    warped: batch.warped.slice(from * px * 3, to * px * 3),
    target: batch.target.slice(from * px * 3, to * px * 3),
    eyes: batch.eyes.slice(from * px, to * px),
    size: batch.size,
    count: to - from,
  };
}

/**
 * Copy a tensor's values into `target` at `offset`: straight from the wasm heap where the backend offers a view
 * of it (one copy; reading through data() makes a second, 0.7 s a step for the standard model's 65 M values).
 */
export async function copyOut(tensor: tf.Tensor, target: Float32Array, offset: number): Promise<void> {
  const backend = tf.backend() as unknown as {
    typedArrayFromHeap?: (info: { shape: number[]; dtype: string; dataId: object }) => Float32Array;
  };
  if (typeof backend.typedArrayFromHeap === 'function' && tensor.dtype === 'float32')
    target.set(backend.typedArrayFromHeap({ shape: tensor.shape, dtype: tensor.dtype, dataId: tensor.dataId }), offset);
  else target.set((await tensor.data()) as Float32Array, offset);
}

/** The compiled helper script (the built app always has it; runs from TypeScript sources do not). */
export const HELPER_SCRIPT = fileURLToPath(new URL('./parallel-worker.js', import.meta.url));

class Helper {
  private pending: { resolve: (reply: HelperReply) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(
    readonly worker: Worker,
    readonly grads: SharedArrayBuffer,
  ) {
    worker.on('message', (reply: HelperReply) => {
      const waiting = this.pending;
      this.pending = null;
      if (!waiting) return;
      if (reply.type === 'error') waiting.reject(new Error(`a training thread failed: ${reply.message}`));
      else waiting.resolve(reply);
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`a training thread exited (code ${code})`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.pending?.reject(this.failure);
    this.pending = null;
  }

  /** Post a request and wait for its reply (one at a time). */
  ask(request: HelperRequest | null, transfer: ArrayBuffer[] = []): Promise<HelperReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      if (request) this.worker.postMessage(request, transfer);
    });
  }

  post(request: HelperRequest): void {
    this.worker.postMessage(request);
  }
}

export class ThreadPool implements GradientPool {
  private constructor(
    private readonly helpers: Helper[],
    private readonly layout: Map<string, { shape: number[]; offset: number; size: number }>,
    private readonly weights: SharedArrayBuffer,
  ) {}

  /** Threads in the pool, this one included. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  /**
   * Start `threads - 1` helpers for `trainer` (each builds a zero replica, then `attachPool` publishes the
   * weights). Null when one thread is asked for or the helper script is missing.
   */
  static async start(
    trainer: Trainer,
    threads: number,
    options: { perceptual: boolean; backend: string; script?: string },
  ): Promise<ThreadPool | null> {
    const script = options.script ?? HELPER_SCRIPT;
    if (threads <= 1 || !existsSync(script)) return null;
    const layout = new Map<string, { shape: number[]; offset: number; size: number }>();
    let total = 0;
    for (const [name, v] of trainer.weights.vars) {
      layout.set(name, { shape: v.shape, offset: total, size: v.size });
      total += v.size;
    }
    // The largest step's variables: encoder + one decoder.
    const largest = Math.max(
      ...(['D', 'G'] as const).flatMap((kind) =>
        (['A', 'B'] as const).map((side) =>
          [...trainer.variablesOf(kind, side).values()].reduce((n, v) => n + v.size, 0),
        ),
      ),
    );
    const weights = new SharedArrayBuffer(total * 4);
    const { perceptual: _unused, ...plain } = trainer.options;
    void _unused;
    const helpers: Helper[] = [];
    try {
      for (let i = 1; i < threads; i += 1) {
        const grads = new SharedArrayBuffer(largest * 4);
        const setup: HelperSetup = {
          options: { ...plain, zeroInit: true },
          perceptual: options.perceptual,
          backend: options.backend,
          layout: [...layout].map(([name, l]) => ({ name, shape: l.shape, offset: l.offset })),
          weights,
          grads,
        };
        const helper = new Helper(new Worker(script, { workerData: setup }), grads);
        helpers.push(helper);
        await helper.ask(null);
      }
    } catch (error) {
      await Promise.all(helpers.map((h) => h.worker.terminate()));
      throw error;
    }
    return new ThreadPool(helpers, layout, weights);
  }

  async gradients(
    trainer: Trainer,
    kind: StepKind,
    side: DecoderSide,
    batch: Batch,
    draws: StepDraws,
  ): Promise<StepGradients> {
    const parts = splitBatch(batch.count, this.threads);
    const state = trainer.scheduleState;
    const replies = parts.slice(1).map(([from, to], i) => {
      const part = sliceBatch(batch, from, to);
      const helper = this.helpers[i] as Helper;
      return helper.ask({ type: 'grads', kind, side, batch: part, draws, state }, [
        part.warped.buffer as ArrayBuffer,
        part.target.buffer as ArrayBuffer,
        part.eyes.buffer as ArrayBuffer,
      ]);
    });
    const [from0, to0] = parts[0] as [number, number];
    // This thread's part, computed while the helpers compute theirs.
    const local = trainer.batchGradients(kind, side, sliceBatch(batch, from0, to0), draws);
    const answered = (await Promise.all(replies)) as Array<Extract<HelperReply, { type: 'grads' }>>;
    const share = parts.map(([from, to]) => (to - from) / batch.count);
    const grads = new Map<string, tf.Tensor>();
    let offset = 0;
    for (const [name, variable] of trainer.variablesOf(kind, side)) {
      const mine = local.grads.get(name);
      const size = variable.size;
      const at = offset;
      offset += size;
      if (!mine) continue;
      grads.set(
        name,
        tf.tidy(() => {
          let sum: tf.Tensor = tf.mul(mine, share[0] as number);
          this.helpers.forEach((helper, i) => {
            const theirs = tf.tensor(new Float32Array(helper.grads, at * 4, size), variable.shape);
            sum = tf.add(sum, tf.mul(theirs, share[i + 1] as number));
          });
          return sum;
        }),
      );
      mine.dispose();
    }
    const terms: Record<string, tf.Scalar> = {};
    for (const [name, value] of Object.entries(local.terms)) {
      const mine = (await value.data())[0] as number;
      const mean = answered.reduce(
        (sum, reply, i) => sum + (reply.terms[name] ?? 0) * (share[i + 1] as number),
        mine * (share[0] as number),
      );
      terms[name] = tf.scalar(mean);
      value.dispose();
    }
    return { grads, terms };
  }

  /** Copy variables into shared memory and tell every helper to load them (before its next request). */
  async publish(trainer: Trainer, names: readonly string[]): Promise<void> {
    const all = new Float32Array(this.weights);
    for (const name of names) {
      const variable = trainer.weights.vars.get(name);
      const slot = this.layout.get(name);
      if (!variable || !slot) continue;
      await copyOut(variable, all, slot.offset);
    }
    for (const helper of this.helpers) helper.post({ type: 'load', names: [...names] });
  }

  async close(): Promise<void> {
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}
