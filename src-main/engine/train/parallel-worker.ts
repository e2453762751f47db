/** A data-parallel training thread: a replica of the weights that computes gradients for its part of a batch. */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend/select.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { copyOut, type HelperReply, type HelperRequest, type HelperSetup } from './parallel.js';
import { PerceptualNet } from './perceptual.js';
import { Trainer } from './trainer.js';

const setup = workerData as HelperSetup;
const port = parentPort;

async function main(): Promise<void> {
  if (!port) return;
  await selectBackend(setup.backend as Parameters<typeof selectBackend>[0]);
  const perceptual = setup.perceptual ? await PerceptualNet.fromFaceNets(await FaceNets.load()) : null;
  const trainer = new Trainer({ ...setup.options, perceptual });
  const layout = new Map(setup.layout.map((l) => [l.name, l]));
  const weights = new Float32Array(setup.weights);
  const grads = new Float32Array(setup.grads);
  const reply = (message: HelperReply): void => port.postMessage(message);

  port.on('message', (request: HelperRequest) => {
    void (async () => {
      try {
        if (request.type === 'load') {
          for (const name of request.names) {
            const variable = trainer.weights.vars.get(name);
            const slot = layout.get(name);
            if (!variable || !slot) continue;
            const values = tf.tensor(weights.subarray(slot.offset, slot.offset + variable.size), variable.shape);
            variable.assign(values);
            values.dispose();
          }
          return;
        }
        trainer.adoptScheduleState(request.state);
        const step = trainer.batchGradients(request.kind, request.side, request.batch, request.draws);
        let offset = 0;
        for (const [name, variable] of trainer.variablesOf(request.kind, request.side)) {
          const grad = step.grads.get(name);
          if (grad) await copyOut(grad, grads, offset);
          else grads.fill(0, offset, offset + variable.size);
          offset += variable.size;
        }
        const terms: Record<string, number> = {};
        for (const [name, value] of Object.entries(step.terms)) terms[name] = (await value.data())[0] as number;
        tf.dispose([...step.grads.values(), ...Object.values(step.terms)]);
        reply({ type: 'grads', terms });
      } catch (error) {
        reply({ type: 'error', message: (error as Error).message });
      }
    })();
  });
  reply({ type: 'ready' });
}

main().catch((error: unknown) => port?.postMessage({ type: 'error', message: (error as Error).message }));
