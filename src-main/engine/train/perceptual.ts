/**
 * The perceptual loss on a face-recognition network that ships with an npm package: face-api's 128-d
 * recognition ResNet (dlib's ResNet-34 design), rebuilt here from its weights as plain tfjs ops so that
 * gradients flow through it, with the feature maps of its four stages exposed. The original used VGGFace
 * ResNet-50; the idea is the same: compare what a face network sees in the fake and the real face.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FaceNets } from '../landmarks/face-nets.js';

type T4 = tf.Tensor4D;

interface ConvLayer {
  filters: T4;
  bias: tf.Tensor1D;
  scaleWeights: tf.Tensor1D;
  scaleBiases: tf.Tensor1D;
}
interface Residual {
  conv1: ConvLayer;
  conv2: ConvLayer;
}

/** face-api's layer layout (src/faceRecognitionNet/types.ts). */
interface FaceApiConv {
  conv: { filters: tf.Tensor; bias: tf.Tensor };
  scale: { weights: tf.Tensor; biases: tf.Tensor };
}
type FaceApiParams = Record<string, FaceApiConv | { conv1: FaceApiConv; conv2: FaceApiConv } | tf.Tensor>;

const STAGES = [
  ['conv32_1', 'conv32_2', 'conv32_3'],
  ['conv64_down', 'conv64_1', 'conv64_2', 'conv64_3'],
  ['conv128_down', 'conv128_1', 'conv128_2'],
  ['conv256_down', 'conv256_1', 'conv256_2'],
] as const;

/** The recognition net's input side and its mean colour (0..255). */
const INPUT = 150;
const MEAN_RGB = [122.782, 117.001, 104.298];

async function own(t: tf.Tensor): Promise<tf.Tensor> {
  // A copy on the engine's backend, independent of face-api's lifetime.
  return tf.tensor(await t.data(), t.shape, 'float32');
}

async function convLayer(p: FaceApiConv): Promise<ConvLayer> {
  return {
    filters: (await own(p.conv.filters)) as T4,
    bias: (await own(p.conv.bias)) as tf.Tensor1D,
    scaleWeights: (await own(p.scale.weights)) as tf.Tensor1D,
    scaleBiases: (await own(p.scale.biases)) as tf.Tensor1D,
  };
}

export class PerceptualNet {
  private constructor(
    private readonly first: ConvLayer,
    private readonly blocks: Map<string, Residual>,
    private readonly fc: tf.Tensor2D,
  ) {}

  static async fromFaceNets(nets: FaceNets): Promise<PerceptualNet> {
    const params = (await nets.recognitionParams()) as FaceApiParams | undefined;
    if (!params || !('conv32_down' in params)) throw new Error('the face recognition net has no weights loaded');
    const blocks = new Map<string, Residual>();
    for (const name of [...STAGES.flat(), 'conv256_down_out']) {
      const block = params[name] as { conv1: FaceApiConv; conv2: FaceApiConv };
      blocks.set(name, { conv1: await convLayer(block.conv1), conv2: await convLayer(block.conv2) });
    }
    const fc = (await own(params.fc as tf.Tensor)) as tf.Tensor2D;
    return new PerceptualNet(await convLayer(params.conv32_down as FaceApiConv), blocks, fc);
  }

  private static apply(x: T4, layer: ConvLayer, stride: 1 | 2, relu: boolean, pad: 'same' | 'valid' = 'same'): T4 {
    let out: T4 = tf.add(tf.conv2d(x, layer.filters, stride, pad), layer.bias);
    out = tf.add(tf.mul(out, layer.scaleWeights), layer.scaleBiases);
    return relu ? tf.relu(out) : out;
  }

  private block(x: T4, name: string): T4 {
    const p = this.blocks.get(name) as Residual;
    if (!name.includes('_down')) {
      const out = PerceptualNet.apply(PerceptualNet.apply(x, p.conv1, 1, true), p.conv2, 1, false);
      return tf.relu(tf.add(out, x)) as T4;
    }
    // Down: stride-2 valid conv; the shortcut is a 2x2 average pool, zero-padded in channels (and in size when odd).
    let out = PerceptualNet.apply(PerceptualNet.apply(x, p.conv1, 2, true, 'valid'), p.conv2, 1, false);
    let pooled = tf.avgPool(x, 2, 2, 'valid');
    if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
      out = tf.pad(out, [
        [0, 0],
        [0, pooled.shape[1] - out.shape[1]],
        [0, pooled.shape[2] - out.shape[2]],
        [0, 0],
      ]);
    }
    if (pooled.shape[3] !== out.shape[3])
      pooled = tf.pad(pooled, [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, out.shape[3] - pooled.shape[3]],
      ]);
    return tf.relu(tf.add(pooled, out)) as T4;
  }

  /** The 128-d identity descriptor, as face-api computes it (the check that this rebuild is the same network). */
  descriptor(faces: T4): tf.Tensor2D {
    const last = this.block(this.features(faces)[0] as T4, 'conv256_down_out');
    return tf.matMul(tf.mean(last, [1, 2]) as tf.Tensor2D, this.fc);
  }

  /** Feature maps after each of the four stages, deepest first, for faces in -1..1 (RGB, any size). */
  features(faces: T4): T4[] {
    const resized = tf.image.resizeBilinear(faces, [INPUT, INPUT], true);
    const bytes = tf.mul(tf.add(resized, 1), 127.5);
    let x = tf.div(tf.sub(bytes, tf.tensor1d(MEAN_RGB)), 255) as T4;
    x = PerceptualNet.apply(x, this.first, 2, true, 'valid');
    x = tf.maxPool(x, 3, 2, 'valid');
    const maps: T4[] = [];
    for (const stage of STAGES) {
      for (const name of stage) x = this.block(x, name);
      maps.push(x);
    }
    return maps.reverse();
  }

  dispose(): void {
    const layers = [this.first, ...[...this.blocks.values()].flatMap((b) => [b.conv1, b.conv2])];
    tf.dispose([...layers.flatMap((l) => [l.filters, l.bias, l.scaleWeights, l.scaleBiases]), this.fc]);
  }
}

/**
 * upstream's InstanceNormalization() on the feature maps (keras-contrib, default axis=None): each sample over
 * height, width and channels, epsilon 1e-3 on the standard deviation; fresh layers, so gamma 1 and beta 0.
 */
function instanceNorm(x: T4): T4 {
  const { mean, variance } = tf.moments(x, [1, 2, 3], true);
  return tf.div(tf.sub(x, mean), tf.add(tf.sqrt(variance), 1e-3));
}

/** Sum over the four depths of weight * MSE between instance-normalised features (weights deepest first). */
export function perceptualLoss(
  net: PerceptualNet,
  fake: T4,
  real: T4,
  weights: readonly [number, number, number, number],
): tf.Scalar {
  const a = net.features(fake);
  // The real face's features depend on no variable, so the tape leaves them out of the backward pass.
  const b = net.features(real);
  let total: tf.Scalar = tf.scalar(0);
  for (let i = 0; i < 4; i += 1) {
    const term = tf.mean(tf.square(tf.sub(instanceNorm(a[i] as T4), instanceNorm(b[i] as T4))));
    total = tf.add(total, tf.mul(weights[i] as number, term));
  }
  return total;
}
