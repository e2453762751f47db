import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../src-shared/math/geometry.js';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { modelPath } from '../../src-main/engine/io/models.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import {
  DESCRIPTOR_NODE,
  FACERES_FILE,
  IdentityNet,
  cosineDistance,
} from '../../src-main/engine/landmarks/identity-net.js';
import { readStill } from '../helpers/stills.js';

/** FaceRes as the tfjs graph model it is published as. */
async function tfjsFaceRes(): Promise<GraphModel> {
  const file = modelPath(FACERES_FILE);
  const json = JSON.parse(await fs.readFile(file, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const buffers = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFile(path.join(path.dirname(file), p)))),
  );
  const data = Buffer.concat(buffers);
  return loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    }),
  );
}

describe('FaceRes on onnxruntime', () => {
  let rgb: Uint8Array;
  let width: number;
  let height: number;
  let faces: Point[][];
  beforeAll(async () => {
    await selectBackend('wasm');
    ({ rgb, width, height } = await readStill('two_people.jpg'));
    const nets = await FaceNets.load();
    faces = await nets.landmarksOf(rgb, width, height, [
      { x: 237, y: 74, width: 150, height: 150 },
      { x: 782, y: 96, width: 159, height: 159 },
    ]);
  });

  it('gives the tfjs graph its descriptors (cosine distance below 1e-5), which tell the two people apart', async () => {
    const model = await tfjsFaceRes();
    const net = await IdentityNet.load();
    const ours: Float32Array[] = [];
    for (const landmarks of faces) {
      const crop = IdentityNet.crop(rgb, width, height, landmarks);
      const reference = tf.tidy(() => {
        const out = model.execute(tf.tensor4d(Float32Array.from(crop), [1, 224, 224, 3]), DESCRIPTOR_NODE) as tf.Tensor;
        return tf.div(out, tf.norm(out));
      });
      const expected = (await reference.data()) as Float32Array;
      reference.dispose();
      const got = await net.descriptor(rgb, width, height, landmarks);
      expect(cosineDistance(got, expected)).toBeLessThan(1e-5);
      ours.push(got);
    }
    // Obama and Biden: different people by the net's own threshold.
    expect(cosineDistance(ours[0] as Float32Array, ours[1] as Float32Array)).toBeGreaterThan(0.44);
    model.dispose();
  });
});
