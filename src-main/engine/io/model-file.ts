/**
 * The model file format (checkpoints and exported generators): named float32 tensors behind a checksummed JSON
 * header. Below both model/ (which loads generators) and train/ (which writes checkpoints).
 */
import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import type { ArchConfig } from '../model/config.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

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

/** What a model file records besides its tensors. */
export type ModelFileFields = Pick<
  CheckpointHeader,
  'kind' | 'iteration' | 'rngState' | 'dataRngState' | 'arch' | 'meta'
>;

/** The file's bytes: magic, version, header length, the JSON header (with the payload's checksum), the payload. */
export async function encodeModelFile(fields: ModelFileFields, named: NamedTensor[]): Promise<Buffer> {
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
    ...fields,
    sha256: createHash('sha256').update(payload).digest('hex'),
    tensors,
  };
  // Spaces after the JSON put the payload at a multiple of 4 bytes, so a reader can view its floats in place.
  const text = JSON.stringify(header);
  const json = Buffer.from(text.padEnd(text.length + ((4 - ((12 + text.length) % 4)) % 4), ' '));
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32LE(VERSION, 0);
  lengths.writeUInt32LE(json.length, 4);
  return Buffer.concat([MAGIC, lengths, json, payload]);
}

export function decodeModelFile(
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
    // A view into the file's bytes where they are aligned (files written since the header is padded: no 42 MB of
    // fresh copies for a generator), else a copy. Readers do not write into it.
    tensor: (name) => {
      const t = byName.get(name);
      if (!t) return null;
      const start = payload.byteOffset + t.offset;
      if (start % 4 === 0) return new Float32Array(payload.buffer, start, t.length / 4);
      const copy = Buffer.from(payload.subarray(t.offset, t.offset + t.length));
      return new Float32Array(copy.buffer, copy.byteOffset, t.length / 4);
    },
  };
}
