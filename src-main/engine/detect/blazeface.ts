/** MediaPipe's full-range BlazeFace (256 px) on onnxruntime's CPU kernels: the studio's default face detector. */
import ort from 'onnxruntime-node';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import type { Box } from '../../../src-shared/math/geometry.js';
import { modelPath } from '../io/models.js';
import { INPUT_SIZE, decodeBlazeface, regionToInput, toFrame, weightedNms } from './blazeface-decode.js';
import type { Detection, Detector, Frame } from './types.js';

export const BLAZEFACE_FILE = 'blazeface/face_detection_back_256x256_barracuda.onnx';

class BlazeFace implements Detector {
  readonly name = 'blazeface';
  readonly inputSize = INPUT_SIZE;
  /** Faces down to about 24 px of its 256 px input. */
  readonly minFaceInput = 24;
  private readonly input = new Float32Array(INPUT_SIZE * INPUT_SIZE * 3);

  constructor(private readonly session: ort.InferenceSession) {}

  // The model file fixes its batch at 1 (its reshapes are constant), so regions run one after another.
  async detect(frame: Frame, regions: readonly Box[], threshold: number): Promise<Detection[][]> {
    const out: Detection[][] = [];
    for (const region of regions) {
      regionToInput(frame.rgb, frame.width, frame.height, region, INPUT_SIZE, this.input);
      const feeds = { 'input:0': new ort.Tensor('float32', this.input, [1, INPUT_SIZE, INPUT_SIZE, 3]) };
      const result = await this.session.run(feeds);
      const s1 = result['Identity:0']?.data as Float32Array;
      const s2 = result['Identity_1:0']?.data as Float32Array;
      const b1 = result['Identity_2:0']?.data as Float32Array;
      const b2 = result['Identity_3:0']?.data as Float32Array;
      const scores = new Float32Array(s1.length + s2.length);
      scores.set(s1);
      scores.set(s2, s1.length);
      const boxes = new Float32Array(b1.length + b2.length);
      boxes.set(b1);
      boxes.set(b2, b1.length);
      out.push(weightedNms(decodeBlazeface(scores, boxes, threshold)).map((d) => toFrame(d, region)));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export async function loadBlazeFace(): Promise<Detector> {
  const file = modelPath(BLAZEFACE_FILE);
  try {
    const session = await ort.InferenceSession.create(file, {
      logSeverityLevel: 3,
      intraOpNumThreads: 1,
      executionProviders: ['cpu'],
    });
    return new BlazeFace(session);
  } catch (error) {
    throw new StudioError(ErrorCode.internal, `cannot load the face detector ${file}: ${(error as Error).message}`, {
      file,
      fix: 'reinstall FaceParts Studio (the model file may be damaged)',
    });
  }
}
