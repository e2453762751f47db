/**
 * face-api's 68-point landmark net and 128-d recognition net rebuilt as ONNX graphs from face-api's own weight
 * files, layer by layer as its tfjs code runs them (faceFeatureExtractor/denseBlock.ts, faceRecognitionNet/*), so
 * they run on onnxruntime's native kernels. tests/unit/face-api-onnx.test.ts checks they agree with face-api.
 * The graph builders are pure; loadFaceApiWeights reads the files.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OnnxGraph } from '../onnx/graph.js';
import { tfjsModelFiles, type GraphSource } from '../onnx/graph-cache.js';
import { NchwNet, type Map4 } from '../onnx/nchw.js';

const require = createRequire(import.meta.url);

export const LANDMARK_INPUT = 112;
export const DESCRIPTOR_INPUT = 150;
/** face-api subtracts this mean colour and divides by 255 before both nets. */
const MEAN_RGB = [122.782, 117.001, 104.298];

export interface NamedWeight {
  shape: number[];
  values: Float32Array;
}
export type WeightMap = Map<string, NamedWeight>;

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16'; scale: number; min: number };
}

/** The folder of face-api's weight files (unpacked beside app.asar in the packaged app). */
export function faceApiModelDir(): string {
  return path
    .join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model')
    .replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
}

/** One face-api model's graph as the graph cache knows it: its weight files and this builder. */
export async function faceApiGraph(name: string, model: string, dir = faceApiModelDir()): Promise<GraphSource> {
  return {
    name,
    files: await tfjsModelFiles(path.join(dir, `${model}-weights_manifest.json`)),
    builders: [new URL(import.meta.url)],
  };
}

/** One face-api model's weights, dequantised as tfjs does (value = q * scale + min, in float32). */
export async function loadFaceApiWeights(model: string, dir = faceApiModelDir()): Promise<WeightMap> {
  const manifest = JSON.parse(await fs.readFile(path.join(dir, `${model}-weights_manifest.json`), 'utf8')) as Array<{
    paths: string[];
    weights: ManifestEntry[];
  }>;
  const weights: WeightMap = new Map();
  for (const group of manifest) {
    const data = Buffer.concat(await Promise.all(group.paths.map((p) => fs.readFile(path.join(dir, p)))));
    let offset = 0;
    for (const entry of group.weights) {
      const size = entry.shape.reduce((a, b) => a * b, 1);
      const q = entry.quantization;
      const values = new Float32Array(size);
      if (q?.dtype === 'uint8') {
        for (let i = 0; i < size; i += 1) values[i] = (data[offset + i] as number) * q.scale + q.min;
        offset += size;
      } else if (q?.dtype === 'uint16') {
        for (let i = 0; i < size; i += 1) values[i] = data.readUInt16LE(offset + 2 * i) * q.scale + q.min;
        offset += 2 * size;
      } else {
        new Uint8Array(values.buffer).set(data.subarray(offset, offset + 4 * size));
        offset += 4 * size;
      }
      weights.set(entry.name, { shape: entry.shape, values });
    }
  }
  return weights;
}

function get(weights: WeightMap, name: string): NamedWeight {
  const w = weights.get(name);
  if (!w) throw new Error(`face-api weight ${name} is missing`);
  return w;
}

/** Input [N, size, size, 3] RGB 0..255 -> NCHW, mean colour off, / 255. */
function normalisedInput(net: NchwNet, size: number): Map4 {
  const g = net.g;
  const input = g.input('crops', ['N', size, size, 3]);
  const mean = g.constant([3], MEAN_RGB, 'mean');
  const scaled = g.node('Div', [g.node('Sub', [input, mean]), net.scalar(255)]);
  return { name: net.transpose(scaled, [0, 3, 1, 2]), c: 3, h: size, w: size };
}

function conv(net: NchwNet, weights: WeightMap, prefix: string, x: Map4, stride: number, pad: 'same' | 'valid'): Map4 {
  const f = get(weights, `${prefix}/filters`);
  return net.conv(x, f.values, f.shape as [number, number, number, number], {
    stride,
    pad,
    bias: get(weights, `${prefix}/bias`).values,
  });
}

function separable(net: NchwNet, weights: WeightMap, prefix: string, x: Map4, stride: number): Map4 {
  const dw = get(weights, `${prefix}/depthwise_filter`);
  const pw = get(weights, `${prefix}/pointwise_filter`);
  const d = net.conv(x, dw.values, dw.shape as [number, number, number, number], { stride, depthwise: true });
  return net.conv(d, pw.values, pw.shape as [number, number, number, number], {
    pad: 'valid',
    bias: get(weights, `${prefix}/bias`).values,
  });
}

/** denseBlock4 of face-api's FaceFeatureExtractor. */
function denseBlock4(net: NchwNet, weights: WeightMap, prefix: string, x: Map4, first: boolean): Map4 {
  const out1 = net.relu(
    first ? conv(net, weights, `${prefix}/conv0`, x, 2, 'same') : separable(net, weights, `${prefix}/conv0`, x, 2),
  );
  const out2 = separable(net, weights, `${prefix}/conv1`, out1, 1);
  const in3 = net.relu(net.add(out1, out2));
  const out3 = separable(net, weights, `${prefix}/conv2`, in3, 1);
  const in4 = net.relu(net.add(out1, net.add(out2, out3)));
  const out4 = separable(net, weights, `${prefix}/conv3`, in4, 1);
  return net.relu(net.add(out1, net.add(out2, net.add(out3, out4))));
}

/** The landmark net: `crops` [N, 112, 112, 3] (0..255) -> `landmarks` [N, 136], x/y interleaved, 0..1 of the crop. */
export function landmarkModel(weights: WeightMap): Uint8Array {
  const net = new NchwNet(new OnnxGraph());
  const g = net.g;
  let y = normalisedInput(net, LANDMARK_INPUT);
  y = denseBlock4(net, weights, 'dense0', y, true);
  y = denseBlock4(net, weights, 'dense1', y, false);
  y = denseBlock4(net, weights, 'dense2', y, false);
  y = denseBlock4(net, weights, 'dense3', y, false);
  const pooled = g.node('AveragePool', [y.name], { kernel_shape: [7, 7], strides: [2, 2] });
  const ph = Math.floor((y.h - 7) / 2) + 1;
  const flat = net.flattenNhwc({ name: pooled, c: y.c, h: ph, w: ph });
  const fcw = get(weights, 'fc/weights');
  const out = net.dense(
    flat,
    fcw.values,
    fcw.shape[0] as number,
    fcw.shape[1] as number,
    get(weights, 'fc/bias').values,
  );
  g.name(out, 'landmarks');
  g.output('landmarks', ['N', 136]);
  return g.encode();
}

/** faceRecognitionNet's conv layer: conv + bias, then the scale layer (x * weights + biases), ReLU when asked. */
function recognitionConv(
  net: NchwNet,
  weights: WeightMap,
  prefix: string,
  x: Map4,
  stride: number,
  relu: boolean,
  pad: 'same' | 'valid',
): Map4 {
  const y = conv(net, weights, `${prefix}/conv`, x, stride, pad);
  const scaled = net.add(
    net.mul(y, net.perChannel(get(weights, `${prefix}/scale/weights`).values)),
    net.perChannel(get(weights, `${prefix}/scale/biases`).values),
  );
  return relu ? net.relu(scaled) : scaled;
}

function residual(net: NchwNet, weights: WeightMap, prefix: string, x: Map4): Map4 {
  const a = recognitionConv(net, weights, `${prefix}/conv1`, x, 1, true, 'same');
  const b = recognitionConv(net, weights, `${prefix}/conv2`, a, 1, false, 'same');
  return net.relu(net.add(b, x));
}

function residualDown(net: NchwNet, weights: WeightMap, prefix: string, x: Map4): Map4 {
  const g = net.g;
  const a = recognitionConv(net, weights, `${prefix}/conv1`, x, 2, true, 'valid');
  let out = recognitionConv(net, weights, `${prefix}/conv2`, a, 1, false, 'same');
  const pooled: Map4 = {
    name: g.node('AveragePool', [x.name], { kernel_shape: [2, 2], strides: [2, 2] }),
    c: x.c,
    h: Math.floor(x.h / 2),
    w: Math.floor(x.w / 2),
  };
  // face-api appends a zero row and column when the strided conv comes out one pixel smaller than the pool.
  if (pooled.h !== out.h || pooled.w !== out.w) {
    const pads = g.ints([0, 0, 0, 0, 0, 0, pooled.h - out.h, pooled.w - out.w], 'pads');
    out = { ...out, name: g.node('Pad', [out.name, pads], { mode: 'constant' }), h: pooled.h, w: pooled.w };
  }
  // ... and zero channels to the pooled input when the block widens.
  const widened =
    pooled.c === out.c
      ? pooled
      : {
          ...pooled,
          name: g.node('Pad', [pooled.name, g.ints([0, 0, 0, 0, 0, out.c - pooled.c, 0, 0], 'pads')], {
            mode: 'constant',
          }),
          c: out.c,
        };
  return net.relu(net.add(widened, out));
}

/** The recognition net: `crops` [N, 150, 150, 3] (0..255, aligned) -> `descriptors` [N, 128]. */
export function recognitionModel(weights: WeightMap): Uint8Array {
  const net = new NchwNet(new OnnxGraph());
  const g = net.g;
  let y = normalisedInput(net, DESCRIPTOR_INPUT);
  y = recognitionConv(net, weights, 'conv32_down', y, 2, true, 'valid');
  y = {
    name: g.node('MaxPool', [y.name], { kernel_shape: [3, 3], strides: [2, 2] }),
    c: y.c,
    h: Math.floor((y.h - 3) / 2) + 1,
    w: Math.floor((y.w - 3) / 2) + 1,
  };
  for (const block of ['conv32_1', 'conv32_2', 'conv32_3']) y = residual(net, weights, block, y);
  y = residualDown(net, weights, 'conv64_down', y);
  for (const block of ['conv64_1', 'conv64_2', 'conv64_3']) y = residual(net, weights, block, y);
  y = residualDown(net, weights, 'conv128_down', y);
  for (const block of ['conv128_1', 'conv128_2']) y = residual(net, weights, block, y);
  y = residualDown(net, weights, 'conv256_down', y);
  for (const block of ['conv256_1', 'conv256_2']) y = residual(net, weights, block, y);
  y = residualDown(net, weights, 'conv256_down_out', y);
  const mean = g.node('ReduceMean', [y.name], { axes: [2, 3], keepdims: 0 });
  const fc = get(weights, 'fc');
  const out = net.dense(mean, fc.values, fc.shape[0] as number, fc.shape[1] as number, null);
  g.name(out, 'descriptors');
  g.output('descriptors', ['N', 128]);
  return g.encode();
}
