import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import {
  applyAffine,
  boxOfPoints,
  invertAffine,
  squareBox,
  type Affine,
  type Box,
  type Point,
} from '../../../src-shared/math/geometry.js';
import { warpAffine } from '../../../src-shared/math/raster.js';
import { selectBackend } from '../backend/select.js';

const require = createRequire(import.meta.url);

/** Side of the crop fed to the landmark net (its native input). */
const LANDMARK_INPUT = 112;
/** Side of the aligned crop fed to the recognition net. */
const DESCRIPTOR_INPUT = 150;

interface FaceApi {
  nets: {
    faceLandmark68Net: {
      loadFromDisk(dir: string): Promise<void>;
      detectLandmarks(input: tf.Tensor3D | tf.Tensor3D[]): Promise<unknown>;
    };
    faceRecognitionNet: {
      loadFromDisk(dir: string): Promise<void>;
      params: unknown;
      computeFaceDescriptor(input: tf.Tensor3D | tf.Tensor3D[]): Promise<Float32Array | Float32Array[]>;
    };
  };
}

let loading: Promise<FaceNets> | null = null;

/**
 * The face-api (MIT) 68-point landmark net and 128-d recognition net on the engine's tfjs backend,
 * with weights from the @vladmandic/face-api package.
 */
export class FaceNets {
  private constructor(private readonly api: FaceApi) {}
  landmarkRuns = 0;
  descriptorRuns = 0;

  static load(): Promise<FaceNets> {
    loading ??= (async () => {
      await selectBackend('auto');
      let api: FaceApi;
      let modelDir: string;
      try {
        api = (await import('@vladmandic/face-api/dist/face-api.node-wasm.js')) as unknown as FaceApi;
        modelDir = path
          .join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model')
          .replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
        await api.nets.faceLandmark68Net.loadFromDisk(modelDir);
        await api.nets.faceRecognitionNet.loadFromDisk(modelDir);
      } catch (error) {
        loading = null;
        throw new StudioError(
          ErrorCode.internal,
          `cannot load the face landmark/recognition models: ${(error as Error).message}`,
          {
            fix: 'reinstall FaceParts Studio (@vladmandic/face-api models are missing)',
          },
        );
      }
      return new FaceNets(api);
    })();
    return loading;
  }

  /**
   * The recognition net's weights as a tree of tensors (face-api's NetParams), for networks built on them, such as
   * the training's perceptual loss. Owned by face-api: copy what you keep.
   */
  recognitionParams(): unknown {
    return this.api.nets.faceRecognitionNet.params;
  }

  /** 68 landmarks of the face in a box, in frame pixels: once on the box, then again on the landmarks' own box. */
  async landmarks(rgb: Uint8Array, width: number, height: number, box: Box): Promise<Point[]> {
    const first = await this.landmarksIn(rgb, width, height, squareBox(box, 1.15));
    const points = await this.landmarksIn(rgb, width, height, squareBox(boxOfPoints(first), 1.25));
    return points;
  }

  private async landmarksIn(rgb: Uint8Array, width: number, height: number, region: Box): Promise<Point[]> {
    const scale = LANDMARK_INPUT / region.width;
    const toCrop: Affine = [scale, 0, -region.x * scale, 0, scale, -region.y * scale];
    const crop = warpAffine(rgb, width, height, 3, toCrop, LANDMARK_INPUT, LANDMARK_INPUT);
    const input = tf.tensor3d(crop, [LANDMARK_INPUT, LANDMARK_INPUT, 3], 'int32');
    try {
      const result = (await this.api.nets.faceLandmark68Net.detectLandmarks(input)) as {
        positions: Array<{ x: number; y: number }>;
      };
      this.landmarkRuns += 1;
      const back = invertAffine(toCrop);
      return result.positions.map((p) => applyAffine(back, [p.x, p.y]));
    } finally {
      input.dispose();
    }
  }

  /** The 128-d identity descriptor of a face, from its aligned crop (alignment maps frame -> crop of `cropSize`). */
  async descriptor(
    rgb: Uint8Array,
    width: number,
    height: number,
    alignment: Affine,
    cropSize: number,
  ): Promise<Float32Array> {
    const s = DESCRIPTOR_INPUT / cropSize;
    const toInput: Affine = [
      alignment[0] * s,
      alignment[1] * s,
      alignment[2] * s,
      alignment[3] * s,
      alignment[4] * s,
      alignment[5] * s,
    ];
    const crop = warpAffine(rgb, width, height, 3, toInput, DESCRIPTOR_INPUT, DESCRIPTOR_INPUT);
    const input = tf.tensor3d(crop, [DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3], 'int32');
    try {
      const out = await this.api.nets.faceRecognitionNet.computeFaceDescriptor(input);
      this.descriptorRuns += 1;
      return out as Float32Array;
    } finally {
      input.dispose();
    }
  }
}
