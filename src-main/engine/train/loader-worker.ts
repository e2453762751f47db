/** The batch loader's thread: draws augmented batches with its own copy of the faces and the data RNG. */
import { parentPort, workerData } from 'node:worker_threads';
import { drawIteration } from './batch.js';
import type { LoaderRequest, LoaderSetup, PreparedBatches } from './loader.js';
import { Rng } from '../../../src-shared/math/rng.js';

const setup = workerData as LoaderSetup;
const rng = new Rng(setup.rngState);

parentPort?.on('message', (request: LoaderRequest) => {
  const batches = drawIteration(setup.faces, request, rng);
  const prepared: PreparedBatches = { batches, rngStateAfter: rng.seedState };
  // Transferred, not copied: the worker never touches a batch again.
  const buffers = [batches.d.a, batches.d.b, batches.g.a, batches.g.b].flatMap((batch) => [
    batch.warped.buffer,
    batch.target.buffer,
    batch.eyes.buffer,
  ]);
  parentPort?.postMessage(prepared, buffers as ArrayBuffer[]);
});
