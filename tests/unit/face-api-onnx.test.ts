import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignmentTransform } from '../../src-shared/math/face.js';
import type { Affine, Point } from '../../src-shared/math/geometry.js';
import { warpAffine } from '../../src-shared/math/raster.js';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import {
  DESCRIPTOR_INPUT,
  LANDMARK_INPUT,
  landmarkModel,
  loadFaceApiWeights,
  recognitionModel,
} from '../../src-main/engine/landmarks/face-api-onnx.js';
import { readStill } from '../helpers/stills.js';

const require = createRequire(import.meta.url);

interface FaceApi {
  nets: {
    faceLandmark68Net: {
      loadFromDisk(dir: string): Promise<void>;
      detectLandmarks(input: tf.Tensor3D): Promise<{ positions: Array<{ x: number; y: number }> }>;
    };
    faceRecognitionNet: {
      loadFromDisk(dir: string): Promise<void>;
      computeFaceDescriptor(input: tf.Tensor3D): Promise<Float32Array>;
    };
  };
}

describe("face-api's nets on onnxruntime agree with face-api on tfjs", () => {
  let api: FaceApi;
  let rgb: Uint8Array;
  let width: number;
  let height: number;
  beforeAll(async () => {
    await selectBackend('wasm');
    api = (await import('@vladmandic/face-api/dist/face-api.node-wasm.js')) as unknown as FaceApi;
    const dir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    await api.nets.faceLandmark68Net.loadFromDisk(dir);
    await api.nets.faceRecognitionNet.loadFromDisk(dir);
    ({ rgb, width, height } = await readStill('two_people.jpg'));
  });

  const crop = (toCrop: Affine, size: number): Uint8Array => warpAffine(rgb, width, height, 3, toCrop, size, size);

  it('landmarks: the same 68 points within a hundredth of a crop pixel, on both faces, as a batch', async () => {
    const session = await ort.InferenceSession.create(
      landmarkModel(await loadFaceApiWeights('face_landmark_68_model')),
    );
    const regions = [
      { x: 227, y: 64, size: 170 },
      { x: 772, y: 86, size: 180 },
    ];
    const crops = regions.map((r) => {
      const s = LANDMARK_INPUT / r.size;
      return crop([s, 0, -r.x * s, 0, s, -r.y * s], LANDMARK_INPUT);
    });
    const batch = new Float32Array(2 * LANDMARK_INPUT * LANDMARK_INPUT * 3);
    crops.forEach((c, i) => batch.set(c, i * c.length));
    const out = await session.run({ crops: new ort.Tensor('float32', batch, [2, LANDMARK_INPUT, LANDMARK_INPUT, 3]) });
    const values = out.landmarks?.data as Float32Array;
    for (let i = 0; i < 2; i += 1) {
      const input = tf.tensor3d(crops[i] as Uint8Array, [LANDMARK_INPUT, LANDMARK_INPUT, 3], 'int32');
      const expected = (await api.nets.faceLandmark68Net.detectLandmarks(input)).positions;
      input.dispose();
      let worst = 0;
      expected.forEach((p, k) => {
        const x = (values[i * 136 + 2 * k] as number) * LANDMARK_INPUT;
        const y = (values[i * 136 + 2 * k + 1] as number) * LANDMARK_INPUT;
        worst = Math.max(worst, Math.hypot(x - p.x, y - p.y));
      });
      expect(worst).toBeLessThan(0.01);
    }
    await session.release();
  });

  it('descriptors: the same 128-d identity (distance below 1e-4; face-api calls 0.6 the same person)', async () => {
    const session = await ort.InferenceSession.create(
      recognitionModel(await loadFaceApiWeights('face_recognition_model')),
    );
    // Landmarks of the left face from face-api, then its aligned crop, as the studio computes descriptors.
    const s = LANDMARK_INPUT / 170;
    const toCrop: Affine = [s, 0, -227 * s, 0, s, -64 * s];
    const input = tf.tensor3d(crop(toCrop, LANDMARK_INPUT), [LANDMARK_INPUT, LANDMARK_INPUT, 3], 'int32');
    const points = (await api.nets.faceLandmark68Net.detectLandmarks(input)).positions;
    input.dispose();
    const landmarks: Point[] = points.map((p) => [p.x / s + 227, p.y / s + 64]);
    const aligned = crop(alignmentTransform(landmarks, DESCRIPTOR_INPUT), DESCRIPTOR_INPUT);
    const face = tf.tensor3d(aligned, [DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3], 'int32');
    const expected = await api.nets.faceRecognitionNet.computeFaceDescriptor(face);
    face.dispose();
    const out = await session.run({
      crops: new ort.Tensor('float32', Float32Array.from(aligned), [1, DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3]),
    });
    const got = out.descriptors?.data as Float32Array;
    let d = 0;
    for (let i = 0; i < 128; i += 1) d += ((got[i] as number) - (expected[i] as number)) ** 2;
    expect(Math.sqrt(d)).toBeLessThan(1e-4);
    await session.release();
  });
});
