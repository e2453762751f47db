/**
 * Batches for training, prepared one iteration ahead on a worker thread so augmentation (~0.3 s a side for a
 * batch of 8 on a 2-core machine) overlaps the step instead of adding to it. Deterministic: the worker owns the
 * data RNG, and each prepared pair carries the RNG state after it, which the trainer adopts when it consumes
 * the pair, so a checkpoint resumes the same sequence of batches.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { drawIteration, type IterationBatches } from './batch.js';
import type { FaceSet } from './dataset.js';
import { Rng } from '../../../src-shared/math/rng.js';

export interface LoaderSetup {
  faces: FaceSet['faces'];
  rngState: number;
}
export interface LoaderRequest {
  count: number;
  size: number;
  motionBlur?: boolean;
}
export interface PreparedBatches {
  /** The discriminators' pair, then the generators' pair, drawn in that order. */
  batches: IterationBatches;
  /** The data RNG's state after drawing this pair: the trainer's dataRng state once it is consumed. */
  rngStateAfter: number;
}

export interface BatchLoader {
  /** The next pair (prepared ahead when a worker runs it); asks for the one after at once. */
  next(): Promise<PreparedBatches>;
  readonly threaded: boolean;
  close(): Promise<void>;
}

/** Same draws on the calling thread: for runs from TypeScript sources (tests), where no compiled worker exists. */
class InlineLoader implements BatchLoader {
  readonly threaded = false;
  private readonly rng: Rng;
  constructor(
    private readonly faces: FaceSet,
    private readonly request: LoaderRequest,
    rngState: number,
  ) {
    this.rng = new Rng(rngState);
  }
  next(): Promise<PreparedBatches> {
    const batches = drawIteration(this.faces.faces, this.request, this.rng);
    return Promise.resolve({ batches, rngStateAfter: this.rng.seedState });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class WorkerLoader implements BatchLoader {
  readonly threaded = true;
  private pending: Promise<PreparedBatches>;
  private failure: Error | null = null;

  constructor(
    private readonly worker: Worker,
    private readonly request: LoaderRequest,
  ) {
    worker.on('error', (error) => {
      this.failure = error;
    });
    this.pending = this.ask();
  }

  private ask(): Promise<PreparedBatches> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const onMessage = (prepared: PreparedBatches): void => {
        this.worker.off('error', onError);
        resolve(prepared);
      };
      const onError = (error: Error): void => {
        this.worker.off('message', onMessage);
        reject(new Error(`the batch loader thread failed: ${error.message}`));
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
      this.worker.postMessage(this.request);
    });
  }

  async next(): Promise<PreparedBatches> {
    const ready = await this.pending;
    this.pending = this.ask();
    return ready;
  }

  async close(): Promise<void> {
    // The request in flight is dropped: its RNG state was never adopted, so nothing is lost by discarding it.
    this.pending.catch(() => undefined);
    await this.worker.terminate();
  }
}

/**
 * A loader for `faces` starting at the data RNG state `rngState`: a worker thread when the compiled worker
 * exists (always in the built app; `workerFile` lets tests run from sources name it).
 */
export function startLoader(
  faces: FaceSet,
  request: LoaderRequest,
  rngState: number,
  workerFile = fileURLToPath(new URL('./loader-worker.js', import.meta.url)),
): BatchLoader {
  if (!existsSync(workerFile)) return new InlineLoader(faces, request, rngState);
  const setup: LoaderSetup = { faces: faces.faces, rngState };
  return new WorkerLoader(new Worker(workerFile, { workerData: setup }), request);
}
