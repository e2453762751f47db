/**
 * Checkpoints: every variable, the optimisers' state, the iteration and the RNG state in one file, written
 * atomically; the newest few are kept and a damaged one falls back to the one before.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  decodeModelFile,
  encodeModelFile,
  type CheckpointHeader,
  type ModelFileFields,
  type NamedTensor,
} from '../io/model-file.js';
import type { Trainer } from './trainer.js';

export type { CheckpointHeader } from '../io/model-file.js';

function fieldsOf(kind: ModelFileFields['kind'], trainer: Trainer, meta: Record<string, unknown>): ModelFileFields {
  return {
    kind,
    iteration: trainer.iteration,
    rngState: trainer.rng.seedState,
    dataRngState: trainer.dataRng.seedState,
    arch: trainer.options.arch,
    meta,
  };
}

const fileName = (iteration: number): string => `ckpt-${String(iteration).padStart(8, '0')}.fpck`;

/** Save a resumable training checkpoint into `dir`, keeping the newest `keep`. */
export async function saveCheckpoint(
  dir: string,
  trainer: Trainer,
  meta: Record<string, unknown>,
  keep: number,
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const named: NamedTensor[] = [
    ...[...trainer.weights.vars.entries()].map(([name, tensor]) => ({ name: `var:${name}`, tensor })),
    ...trainer.optimizerWeights(),
  ];
  const file = path.join(dir, fileName(trainer.iteration));
  await writeFileAtomic(file, await encodeModelFile(fieldsOf('training', trainer, meta), named));
  const all = (await fs.readdir(dir)).filter((f) => /^ckpt-\d+\.fpck$/.test(f)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await fs.rm(path.join(dir, old), { force: true });
  return file;
}

/** Load the newest checkpoint that verifies into the trainer; returns it, or null when there is none. */
export async function loadLatestCheckpoint(
  dir: string,
  trainer: Trainer,
  warn: (message: string) => void,
): Promise<CheckpointHeader | null> {
  let files: string[];
  try {
    files = (await fs.readdir(dir))
      .filter((f) => /^ckpt-\d+\.fpck$/.test(f))
      .sort()
      .reverse();
  } catch {
    return null;
  }
  for (const name of files) {
    const file = path.join(dir, name);
    try {
      const { header, tensor } = decodeModelFile(file, await fs.readFile(file));
      if (JSON.stringify(header.arch) !== JSON.stringify(trainer.options.arch)) {
        throw new StudioError(ErrorCode.projectInvalid, `checkpoint ${file} is for another model shape`, { file });
      }
      for (const [varName, variable] of trainer.weights.vars) {
        const values = tensor(`var:${varName}`);
        if (!values || values.length !== variable.size)
          throw new StudioError(ErrorCode.projectInvalid, `checkpoint ${file} lacks ${varName}`, { file });
        const loaded = tf.tensor(values, variable.shape);
        variable.assign(loaded);
        loaded.dispose();
      }
      const optimiser = header.tensors
        .filter((t) => /^(adam|opt|acc)/.test(t.name))
        .map((t) => ({ name: t.name, tensor: tf.tensor(tensor(t.name) as Float32Array, t.shape) }));
      const legacy = trainer.setOptimizerWeights(optimiser);
      if (legacy) warn(`${file}: ${legacy}`);
      tf.dispose(optimiser.map((o) => o.tensor));
      trainer.restoreState(header.iteration, header.rngState, header.dataRngState);
      return header;
    } catch (error) {
      warn(`${(error as Error).message}; trying the previous checkpoint`);
    }
  }
  return null;
}

/** The trained generator alone (encoder + both decoders), for conversion. */
export async function exportGenerator(file: string, trainer: Trainer, meta: Record<string, unknown>): Promise<void> {
  const named = [...trainer.weights.vars.entries()]
    .filter(([name]) => /^(enc|decA|decB)\//.test(name))
    .map(([name, tensor]) => ({ name: `var:${name}`, tensor }));
  await writeFileAtomic(file, await encodeModelFile(fieldsOf('generator', trainer, meta), named));
}
