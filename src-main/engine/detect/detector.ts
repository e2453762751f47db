import ort from 'onnxruntime-node';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { squareBox, type Box } from '../../../src-shared/math/geometry.js';
import { modelPath } from '../io/models.js';
import {
  INPUT_SIZE,
  coverageRegions,
  decodeBlazeface,
  regionToInput,
  suppressContained,
  toFrame,
  weightedNms,
  type Detection,
} from './blazeface-decode.js';

export const BLAZEFACE_FILE = 'blazeface/face_detection_back_256x256_barracuda.onnx';

export interface DetectOptions {
  threshold: number;
  /** Smallest face side (pixels) worth finding; decides the tiling. */
  minFaceSide: number;
  /** The original's auto-downscaling: one pass over the whole (downscaled) frame, no tiles. */
  autoDownscale?: boolean;
}

/** BlazeFace full-range on onnxruntime (CPU), run on whole frames, tiles, or regions around tracked faces. */
export class FaceDetector {
  private constructor(private readonly session: ort.InferenceSession) {}
  private readonly input = new Float32Array(INPUT_SIZE * INPUT_SIZE * 3);
  inferences = 0;

  static async load(): Promise<FaceDetector> {
    const file = modelPath(BLAZEFACE_FILE);
    try {
      const session = await ort.InferenceSession.create(file, {
        logSeverityLevel: 3,
        intraOpNumThreads: 1,
        executionProviders: ['cpu'],
      });
      return new FaceDetector(session);
    } catch (error) {
      throw new StudioError(ErrorCode.internal, `cannot load the face detector ${file}: ${(error as Error).message}`, {
        file,
        fix: 'reinstall FaceParts Studio (the model file may be damaged)',
      });
    }
  }

  /** Detections inside one square region, in frame pixels (not yet merged across regions). */
  async detectRegion(
    rgb: Uint8Array,
    width: number,
    height: number,
    region: Box,
    threshold: number,
  ): Promise<Detection[]> {
    regionToInput(rgb, width, height, region, INPUT_SIZE, this.input);
    const feeds = { 'input:0': new ort.Tensor('float32', this.input, [1, INPUT_SIZE, INPUT_SIZE, 3]) };
    const out = await this.session.run(feeds);
    this.inferences += 1;
    const s1 = out['Identity:0']?.data as Float32Array;
    const s2 = out['Identity_1:0']?.data as Float32Array;
    const b1 = out['Identity_2:0']?.data as Float32Array;
    const b2 = out['Identity_3:0']?.data as Float32Array;
    const scores = new Float32Array(s1.length + s2.length);
    scores.set(s1);
    scores.set(s2, s1.length);
    const boxes = new Float32Array(b1.length + b2.length);
    boxes.set(b1);
    boxes.set(b2, b1.length);
    return weightedNms(decodeBlazeface(scores, boxes, threshold)).map((d) => toFrame(d, region));
  }

  /** Every face in a frame: the whole frame plus tiles, merged. */
  async detectFrame(rgb: Uint8Array, width: number, height: number, options: DetectOptions): Promise<Detection[]> {
    const all: Detection[] = [];
    const regions = coverageRegions(width, height, options.minFaceSide);
    for (const region of options.autoDownscale ? regions.slice(0, 1) : regions) {
      all.push(...(await this.detectRegion(rgb, width, height, region, options.threshold)));
    }
    return mergeDetections(all, options.minFaceSide);
  }

  /** Faces near known boxes: one inference per box on a region about three times its size. */
  async detectAround(
    rgb: Uint8Array,
    width: number,
    height: number,
    boxes: readonly Box[],
    options: DetectOptions,
  ): Promise<Detection[]> {
    const all: Detection[] = [];
    for (const box of boxes) {
      const region = squareBox(box, 3);
      if (region.width < 64) region.width = region.height = 64;
      all.push(...(await this.detectRegion(rgb, width, height, region, options.threshold)));
    }
    return mergeDetections(all, options.minFaceSide);
  }
}

/** Merge detections from overlapping regions and drop faces below the minimum size. */
export function mergeDetections(detections: readonly Detection[], minFaceSide: number): Detection[] {
  return suppressContained(weightedNms(detections, 0.3)).filter(
    (d) => Math.max(d.box.width, d.box.height) >= minFaceSide * 0.5,
  );
}
