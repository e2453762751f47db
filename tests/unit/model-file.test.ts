import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { decodeModelFile, encodeModelFile, type NamedTensor } from '../../src-main/engine/io/model-file.js';

/** encodeModelFile reads a tensor's shape and data only. */
const named = (name: string, values: number[]): NamedTensor => ({
  name,
  tensor: { shape: [values.length], data: () => Promise.resolve(Float32Array.from(values)) } as unknown as tf.Tensor,
});

const fields = (meta: Record<string, unknown>) =>
  ({ kind: 'generator', iteration: 7, rngState: 1, dataRngState: 2, arch: {}, meta }) as unknown as Parameters<
    typeof encodeModelFile
  >[0];

describe('model files', () => {
  const tensors = [named('var:a', [1.5, -2, 3.25]), named('var:b', [0.125, 4, 5, 6, 7])];

  it('put the payload on a 4-byte boundary whatever the header, and read weights in place', async () => {
    // Headers of every length modulo 4.
    for (const note of ['', 'x', 'xy', 'xyz']) {
      const bytes = await encodeModelFile(fields({ note }), tensors);
      const { header, tensor } = decodeModelFile('/x/generator.fpm', bytes);
      expect(header.meta.note).toBe(note);
      expect((12 + bytes.readUInt32LE(8)) % 4).toBe(0);
      const a = tensor('var:a') as Float32Array;
      expect(Array.from(a)).toEqual([1.5, -2, 3.25]);
      expect(Array.from(tensor('var:b') as Float32Array)).toEqual([0.125, 4, 5, 6, 7]);
      // A view of the file's bytes, not a copy.
      expect(a.buffer).toBe(bytes.buffer);
      expect(tensor('var:missing')).toBeNull();
    }
  });

  it('read files written before the padding (payload off the boundary) through a copy', () => {
    const payload = Buffer.from(Float32Array.from([9, -8.5]).buffer);
    const header = Buffer.from(
      JSON.stringify({
        version: 1,
        kind: 'generator',
        sha256: createHash('sha256').update(payload).digest('hex'),
        tensors: [{ name: 'var:c', shape: [2], offset: 0, length: 8 }],
      }),
    );
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(1, 0);
    lengths.writeUInt32LE(header.length, 4);
    // An odd start, as an unpadded header of this length gives.
    const unaligned = Buffer.concat([Buffer.from('FPCK'), lengths, header, payload]);
    const shift = (12 + header.length) % 4 === 0 ? 1 : 0;
    const shifted = Buffer.alloc(unaligned.length + 1).subarray(shift, shift + unaligned.length);
    unaligned.copy(shifted);
    expect((shifted.byteOffset + 12 + header.length) % 4).not.toBe(0);
    const values = decodeModelFile('/x/old.fpm', shifted).tensor('var:c') as Float32Array;
    expect(Array.from(values)).toEqual([9, -8.5]);
    expect(values.buffer).not.toBe(shifted.buffer);
  });
});
