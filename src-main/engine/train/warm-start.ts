/**
 * Warm start: a new run begins from a model trained before (another project's checkpoint or exported generator)
 * instead of from random weights. DeepFaceLab and faceswap users rarely train from zero: the shared encoder already
 * knows faces, and decoders adapt quickly. What is taken: the encoder, the generator (encoder and both decoders),
 * or everything including the discriminators (from a checkpoint). The optimiser and the schedule start afresh.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError, type WarmStartParts } from '../../../src-shared/contract/index.js';
import { decodeModelFile } from '../io/model-file.js';
import type { ArchConfig } from '../model/config.js';
import { GENERATOR_FILE, PROJECT_FILE } from '../project/store.js';
import type { Trainer } from './trainer.js';

export interface WarmStart {
  /** The model file the weights came from. */
  file: string;
  parts: WarmStartParts;
  /** The source's iteration (its checkpoint's, or the exported run's). */
  iteration: number;
  variables: number;
}

const PREFIXES: Record<WarmStartParts, readonly string[]> = {
  encoder: ['enc/'],
  generator: ['enc/', 'decA/', 'decB/'],
  all: ['enc/', 'decA/', 'decB/', 'disA/', 'disB/'],
};

/** The fields that fix the networks' shapes, in words, for an error that names both configurations. */
export function describeArch(arch: Partial<ArchConfig>): string {
  return [
    `${arch.resolution ?? '?'} px`,
    arch.capacity ?? '?',
    `norm ${arch.norm ?? '?'}`,
    arch.useSelfAttention ? 'self-attention' : 'no self-attention',
    `width ${arch.baseFilters ?? '?'}/${arch.discFilters ?? '?'}`,
    `revision ${arch.revision ?? 1}`,
  ].join(', ');
}

const SHAPE_KEYS: ReadonlyArray<keyof ArchConfig> = [
  'revision',
  'resolution',
  'capacity',
  'norm',
  'useSelfAttention',
  'baseFilters',
  'discFilters',
  'latent',
];

/**
 * The model file a warm start reads: a .fpck checkpoint or .fpm generator as given, or for a project folder the
 * newest checkpoint of its newest run (it holds the discriminators too), else its exported generator.
 */
export async function modelFileOf(from: string): Promise<string> {
  const target = path.resolve(from);
  const stat = await fs.stat(target).catch(() => null);
  if (!stat)
    throw new StudioError(ErrorCode.notFound, `${target} does not exist`, {
      file: target,
      fix: 'give a project folder, a checkpoint (.fpck) or an exported model (.fpm)',
    });
  if (stat.isFile()) return target;
  const isProject = await fs
    .access(path.join(target, PROJECT_FILE))
    .then(() => true)
    .catch(() => false);
  if (!isProject)
    throw new StudioError(ErrorCode.invalidParams, `${target} is not a FaceParts project`, {
      file: target,
      fix: 'give a project folder (one with project.json), a checkpoint (.fpck) or an exported model (.fpm)',
    });
  const runs = await fs.readdir(path.join(target, 'checkpoints')).catch(() => [] as string[]);
  const newestRun = runs
    .filter((r) => /^run-\d+$/.test(r))
    .sort((a, b) => Number(b.slice(4)) - Number(a.slice(4)))
    .map((r) => path.join(target, 'checkpoints', r));
  for (const dir of newestRun) {
    const files = (await fs.readdir(dir)).filter((f) => /^ckpt-\d+\.fpck$/.test(f)).sort();
    const newest = files[files.length - 1];
    if (newest) return path.join(dir, newest);
  }
  const generator = path.join(target, GENERATOR_FILE);
  if (await fs.stat(generator).catch(() => null)) return generator;
  throw new StudioError(ErrorCode.notFound, `the project ${target} has no trained model yet`, {
    file: target,
    fix: 'train that project first, or start from another one',
  });
}

/** Load `parts` of the model at `from` into a freshly built trainer; the architectures must match. */
export async function warmStart(trainer: Trainer, from: string, parts: WarmStartParts): Promise<WarmStart> {
  const file = await modelFileOf(from);
  const { header, tensor } = decodeModelFile(file, await fs.readFile(file));
  const mine = trainer.options.arch;
  const differs = SHAPE_KEYS.filter((k) => header.arch[k] !== mine[k]);
  if (differs.length > 0)
    throw new StudioError(
      ErrorCode.invalidParams,
      `the model ${file} has another shape (${describeArch(header.arch)}) than this run (${describeArch(mine)}): ${differs.join(', ')} differ`,
      {
        file,
        fix: 'start from a model with the same resolution, capacity, norm and self-attention, or change this run to match',
      },
    );
  if (parts === 'all' && header.kind !== 'training')
    throw new StudioError(
      ErrorCode.invalidParams,
      `the model ${file} is an exported generator: it has no discriminators`,
      {
        file,
        fix: 'start the encoder or the generator from it, or take everything from a checkpoint (.fpck)',
      },
    );
  let variables = 0;
  for (const [name, variable] of trainer.weights.vars) {
    if (!PREFIXES[parts].some((p) => name.startsWith(p))) continue;
    const values = tensor(`var:${name}`);
    if (!values || values.length !== variable.size)
      throw new StudioError(ErrorCode.projectInvalid, `the model ${file} lacks ${name}`, {
        file,
        fix: 'start from another model',
      });
    const loaded = tf.tensor(values, variable.shape);
    variable.assign(loaded);
    loaded.dispose();
    variables += 1;
  }
  return { file, parts, iteration: header.iteration, variables };
}
