import ort from 'onnxruntime-node';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import {
  applyAffine,
  boxOfPoints,
  invertAffine,
  squareBox,
  type Affine,
  type Box,
  type Point,
} from '../../../src-shared/math/geometry.js';
import { meanDistanceIod } from '../../../src-shared/math/face.js';
import { warpAffine } from '../../../src-shared/math/raster.js';
import { cachedSession } from '../onnx/graph-cache.js';
import { ONE_THREAD_CPU } from '../onnx/session-options.js';
import {
  DESCRIPTOR_INPUT,
  LANDMARK_INPUT,
  faceApiGraph,
  faceApiModelDir,
  landmarkModel,
  loadFaceApiWeights,
  recognitionModel,
} from './face-api-onnx.js';

/** The first landmark pass looks at the detector's box widened by this; the second at the first fit's points. */
const FIRST_PASS_SCALE = 1.15;
export const SECOND_PASS_SCALE = 1.25;
/**
 * The fast path's tolerance: when the region its single pass fits differs from the region it looked at by more than
 * this share of the region's side (centre or size), the pass is not trusted (see FaceNets.refine).
 */
const REFINE_TOLERANCE = 0.03;
/**
 * And when its points lie farther than this (mean, in inter-ocular distances) from the predicted ones: the face
 * turned or changed expression since the last frame, and one pass then lands a mean ~4 % from the full fit on the
 * sample clip instead of ~1.8 % (tests/integration/landmarks-fast-path.test.ts).
 */
const REFINE_POINT_TOLERANCE = 0.08;

interface FaceApi {
  nets: { faceRecognitionNet: { loadFromDisk(dir: string): Promise<void>; params: unknown } };
}

let loading: Promise<FaceNets> | null = null;
let faceApi: Promise<FaceApi> | null = null;

/**
 * A landmark fit: the points, and the landmark passes it took: 1 the fast path, 2 the full fit (or a carried face's
 * second look), 3 a fast path that missed and took the full fit.
 */
export interface LandmarkFit {
  points: Point[];
  passes: number;
}

/**
 * face-api's (MIT) 68-point landmark net and 128-d recognition net, rebuilt for onnxruntime from the weights of the
 * @vladmandic/face-api package (face-api-onnx.ts); several faces run as one batch.
 */
export class FaceNets {
  private recognition: Promise<ort.InferenceSession> | null = null;
  landmarkRuns = 0;
  descriptorRuns = 0;

  private constructor(private readonly landmarkNet: ort.InferenceSession) {}

  static load(): Promise<FaceNets> {
    loading ??= (async () => {
      try {
        const session = await cachedSession(
          await faceApiGraph('face-landmarks', 'face_landmark_68_model'),
          async () => landmarkModel(await loadFaceApiWeights('face_landmark_68_model')),
          ONE_THREAD_CPU,
        );
        return new FaceNets(session);
      } catch (error) {
        loading = null;
        throw new StudioError(
          ErrorCode.internal,
          `cannot load the face landmark/recognition models: ${(error as Error).message}`,
          { fix: 'reinstall FaceParts Studio (@vladmandic/face-api models are missing)' },
        );
      }
    })();
    return loading;
  }

  /** The recognition net loads when first needed (or asked for ahead): only new faces need it. */
  recognitionSession(): Promise<ort.InferenceSession> {
    this.recognition ??= faceApiGraph('face-recognition', 'face_recognition_model').then((source) =>
      cachedSession(
        source,
        async () => recognitionModel(await loadFaceApiWeights('face_recognition_model')),
        ONE_THREAD_CPU,
      ),
    );
    return this.recognition;
  }

  /**
   * The recognition net's weights as face-api's tree of tfjs tensors (NetParams), for networks built on them, such
   * as the training's perceptual loss. Owned by face-api: copy what you keep.
   */
  async recognitionParams(): Promise<unknown> {
    faceApi ??= (async () => {
      // tfjs is loaded only here (training): finding faces runs on onnxruntime alone.
      const { selectBackend } = await import('../backend/select.js');
      await selectBackend('auto');
      const api = (await import('@vladmandic/face-api/dist/face-api.node-wasm.js')) as unknown as FaceApi;
      await api.nets.faceRecognitionNet.loadFromDisk(faceApiModelDir());
      return api;
    })().catch((error: unknown) => {
      faceApi = null;
      throw error;
    });
    return (await faceApi).nets.faceRecognitionNet.params;
  }

  /** 68 landmarks of the face in a box, in frame pixels: once on the box, then again on the landmarks' own box. */
  async landmarks(rgb: Uint8Array, width: number, height: number, box: Box): Promise<Point[]> {
    return ((await this.landmarksOf(rgb, width, height, [box]))[0] as Point[]) ?? [];
  }

  /** The two-pass fit of several faces of one frame (one batch a pass). */
  async landmarksOf(rgb: Uint8Array, width: number, height: number, boxes: readonly Box[]): Promise<Point[][]> {
    if (boxes.length === 0) return [];
    const first = await this.inRegions(
      rgb,
      width,
      height,
      boxes.map((b) => squareBox(b, FIRST_PASS_SCALE)),
    );
    return this.inRegions(
      rgb,
      width,
      height,
      first.map((p) => squareBox(boxOfPoints(p), SECOND_PASS_SCALE)),
    );
  }

  /**
   * The fast path for a face followed from the previous frame: one pass on the region its predicted points give
   * (the previous frame's fit, moved as the face moved). Where that fit lands farther than REFINE_TOLERANCE from the
   * region it looked at, or its points farther than REFINE_POINT_TOLERANCE from the predicted ones, the one pass is
   * not trusted: with the face's detection box (`detected`) the face gets the full two passes from that box, exactly
   * what a new face gets (3 passes in all); without one (a face carried without detection) a second pass on the
   * fitted region. tests/integration/landmarks-fast-path.test.ts holds both to the two-pass fit.
   */
  async refine(
    rgb: Uint8Array,
    width: number,
    height: number,
    predicted: ReadonlyArray<readonly Point[]>,
    detected?: readonly Box[],
  ): Promise<LandmarkFit[]> {
    if (predicted.length === 0) return [];
    const regions = predicted.map((p) => squareBox(boxOfPoints(p as Point[]), SECOND_PASS_SCALE));
    const fits = await this.inRegions(rgb, width, height, regions);
    const again: number[] = [];
    fits.forEach((points, i) => {
      const used = regions[i] as Box;
      const fitted = squareBox(boxOfPoints(points), SECOND_PASS_SCALE);
      const side = used.width;
      const moved = Math.hypot(
        fitted.x + fitted.width / 2 - (used.x + side / 2),
        fitted.y + fitted.height / 2 - (used.y + side / 2),
      );
      const missed =
        moved > REFINE_TOLERANCE * side ||
        Math.abs(fitted.width / side - 1) > REFINE_TOLERANCE ||
        meanDistanceIod(points, predicted[i] as Point[]) > REFINE_POINT_TOLERANCE;
      if (missed) again.push(i);
    });
    const result: LandmarkFit[] = fits.map((points) => ({ points, passes: 1 }));
    if (again.length === 0) return result;
    if (detected) {
      const full = await this.landmarksOf(
        rgb,
        width,
        height,
        again.map((i) => detected[i] as Box),
      );
      again.forEach((i, k) => (result[i] = { points: full[k] as Point[], passes: 3 }));
      return result;
    }
    const second = await this.inRegions(
      rgb,
      width,
      height,
      again.map((i) => squareBox(boxOfPoints(fits[i] as Point[]), SECOND_PASS_SCALE)),
    );
    again.forEach((i, k) => (result[i] = { points: second[k] as Point[], passes: 2 }));
    return result;
  }

  /** One landmark pass over square regions (one batch), in frame pixels. */
  async inRegions(rgb: Uint8Array, width: number, height: number, regions: readonly Box[]): Promise<Point[][]> {
    const size = LANDMARK_INPUT * LANDMARK_INPUT * 3;
    const batch = new Float32Array(regions.length * size);
    const toCrops = regions.map((region, i) => {
      const scale = LANDMARK_INPUT / region.width;
      const toCrop: Affine = [scale, 0, -region.x * scale, 0, scale, -region.y * scale];
      batch.set(warpAffine(rgb, width, height, 3, toCrop, LANDMARK_INPUT, LANDMARK_INPUT), i * size);
      return toCrop;
    });
    const out = await this.landmarkNet.run({
      crops: new ort.Tensor('float32', batch, [regions.length, LANDMARK_INPUT, LANDMARK_INPUT, 3]),
    });
    this.landmarkRuns += regions.length;
    const values = out.landmarks?.data as Float32Array;
    return toCrops.map((toCrop, i) => {
      const back = invertAffine(toCrop);
      return Array.from({ length: 68 }, (_, k): Point =>
        applyAffine(back, [
          (values[i * 136 + 2 * k] as number) * LANDMARK_INPUT,
          (values[i * 136 + 2 * k + 1] as number) * LANDMARK_INPUT,
        ]),
      );
    });
  }

  /** The 128-d identity descriptor of a face, from its aligned crop (alignment maps frame -> crop of `cropSize`). */
  async descriptor(
    rgb: Uint8Array,
    width: number,
    height: number,
    alignment: Affine,
    cropSize: number,
  ): Promise<Float32Array> {
    return (await this.descriptors(rgb, width, height, [alignment], cropSize))[0] as Float32Array;
  }

  /** Descriptors of several faces of one frame (one batch). */
  async descriptors(
    rgb: Uint8Array,
    width: number,
    height: number,
    alignments: readonly Affine[],
    cropSize: number,
  ): Promise<Float32Array[]> {
    if (alignments.length === 0) return [];
    const s = DESCRIPTOR_INPUT / cropSize;
    const size = DESCRIPTOR_INPUT * DESCRIPTOR_INPUT * 3;
    const batch = new Float32Array(alignments.length * size);
    alignments.forEach((a, i) => {
      const toInput: Affine = [a[0] * s, a[1] * s, a[2] * s, a[3] * s, a[4] * s, a[5] * s];
      batch.set(warpAffine(rgb, width, height, 3, toInput, DESCRIPTOR_INPUT, DESCRIPTOR_INPUT), i * size);
    });
    const session = await this.recognitionSession();
    const out = await session.run({
      crops: new ort.Tensor('float32', batch, [alignments.length, DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3]),
    });
    this.descriptorRuns += alignments.length;
    const values = out.descriptors?.data as Float32Array;
    return alignments.map((_, i) => values.slice(i * 128, (i + 1) * 128));
  }
}
