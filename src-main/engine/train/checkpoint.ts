/**
 * Checkpoints: every variable, the optimisers' state, the iteration and the RNG state in one file, written
 * atomically; the newest few are kept and a damaged one falls back to the one before.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ArchConfig } from '../model/config.js';
import type { NamedTensor, Trainer } from './trainer.js';

const MAGIC = Buffer.from('FPCK');
const VERSION = 1;

export interface CheckpointHeader {
  version: number;
  kind: 'training' | 'generator';
  iteration: number;
  rngState: number;
  dataRngState: number;
  arch: ArchConfig;
  meta: Record<string, unknown>;
  sha256: string;
  tensors: Array<{ name: string; shape: number[]; offset: number; length: number }>;
}

async function encode(
  kind: CheckpointHeader['kind'],
  trainer: Trainer,
  meta: Record<string, unknown>,
  named: NamedTensor[],
): Promise<Buffer> {
  const parts: Buffer[] = [];
  const tensors: CheckpointHeader['tensors'] = [];
  let offset = 0;
  for (const { name, tensor } of named) {
    const data = Buffer.from(((await tensor.data()) as Float32Array).buffer.slice(0));
    tensors.push({ name, shape: tensor.shape, offset, length: data.length });
    parts.push(data);
    offset += data.length;
  }
  const payload = Buffer.concat(parts);
  const header: CheckpointHeader = {
    version: VERSION,
    kind,
    iteration: trainer.iteration,
    rngState: trainer.rng.seedState,
    dataRngState: trainer.dataRng.seedState,
    arch: trainer.options.arch,
    meta,
    sha256: createHash('sha256').update(payload).digest('hex'),
    tensors,
  };
  const json = Buffer.from(JSON.stringify(header));
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32LE(VERSION, 0);
  lengths.writeUInt32LE(json.length, 4);
  return Buffer.concat([MAGIC, lengths, json, payload]);
}

export function decode(
  file: string,
  bytes: Buffer,
): { header: CheckpointHeader; tensor: (name: string) => Float32Array | null } {
  const fail = (why: string): never => {
    throw new StudioError(ErrorCode.projectInvalid, `checkpoint ${file} is damaged: ${why}`, {
      file,
      fix: 'training falls back to the previous checkpoint; delete this file if it persists',
    });
  };
  if (bytes.length < 12 || !bytes.subarray(0, 4).equals(MAGIC)) fail('not a FaceParts checkpoint');
  const version = bytes.readUInt32LE(4);
  if (version > VERSION) {
    throw new StudioError(ErrorCode.projectTooNew, `checkpoint ${file} was written by a newer FaceParts Studio`, {
      file,
      fix: 'update FaceParts Studio',
    });
  }
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) fail('truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString('utf8')) as CheckpointHeader;
  } catch {
    return fail('unreadable header');
  }
  const payload = bytes.subarray(12 + headerLength);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256)
    fail('checksum mismatch (truncated or corrupted)');
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return {
    header,
    tensor: (name) => {
      const t = byName.get(name);
      if (!t) return null;
      const copy = Buffer.from(payload.subarray(t.offset, t.offset + t.length));
      return new Float32Array(copy.buffer, copy.byteOffset, t.length / 4);
    },
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
  await writeFileAtomic(file, await encode('training', trainer, meta, named));
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
      const { header, tensor } = decode(file, await fs.readFile(file));
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
  await writeFileAtomic(file, await encode('generator', trainer, meta, named));
}
