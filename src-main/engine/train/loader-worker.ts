/** The batch loader's thread: draws augmented batches with its own copy of the faces and the data RNG. */
import { parentPort, workerData } from 'node:worker_threads';
import { drawBatch } from './batch.js';
import type { LoaderRequest, LoaderSetup, PreparedBatches } from './loader.js';
import { Rng } from './rng.js';

const setup = workerData as LoaderSetup;
const rng = new Rng(setup.rngState);

parentPort?.on('message', (request: LoaderRequest) => {
  const a = drawBatch(setup.faces, 'a', request.count, request.size, rng, request);
  const b = drawBatch(setup.faces, 'b', request.count, request.size, rng, request);
  const prepared: PreparedBatches = { a, b, rngStateAfter: rng.seedState };
  // Transferred, not copied: the worker never touches a batch again.
  const buffers = [a, b].flatMap((batch) => [batch.warped.buffer, batch.target.buffer, batch.eyes.buffer]);
  parentPort?.postMessage(prepared, buffers as ArrayBuffer[]);
});
