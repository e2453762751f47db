/**
 * The independent identity net (HSE FaceRes, a tfjs graph model: a MobileNet of convolutions, batch-norm scales,
 * ReLU6 clips and a global mean) translated op by op into an ONNX graph, up to its 1024-d description, so that it
 * runs on onnxruntime (about 6x faster than tfjs' wasm backend). tests/unit/faceres-onnx.test.ts checks it against
 * the tfjs graph. The translation is pure; loadGraphModel reads the files.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OnnxGraph } from '../onnx/graph.js';
import { NchwNet, type Map4 } from '../onnx/nchw.js';

/** This module, for the graph cache (onnx/graph-cache.ts): a change here builds the graph again. */
export const FACERES_BUILDER = new URL(import.meta.url);

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { s?: string; b?: boolean; list?: { i?: string[] } }>;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'float16' | 'uint8' | 'uint16'; scale?: number; min?: number };
}

export interface TfjsGraph {
  nodes: GraphNode[];
  weights: Map<string, { shape: number[]; values: Float32Array | Int32Array }>;
}

/** IEEE half -> float (exact: every half is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Every half's float, made once: a table lookup is ~10x cheaper than decoding each of FaceRes' 3.5 M halves. */
let halfTable: Float32Array | null = null;
const halfFloats = (): Float32Array => {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h += 1) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
};

/** A tfjs graph model's nodes and weights (dequantised as tfjs does). */
export async function loadTfjsGraph(file: string): Promise<TfjsGraph> {
  const json = JSON.parse(await fs.readFile(file, 'utf8')) as {
    modelTopology: { node: GraphNode[] };
    weightsManifest: Array<{ paths: string[]; weights: ManifestEntry[] }>;
  };
  const weights: TfjsGraph['weights'] = new Map();
  for (const group of json.weightsManifest) {
    const data = Buffer.concat(
      await Promise.all(group.paths.map((p) => fs.readFile(path.join(path.dirname(file), p)))),
    );
    let offset = 0;
    for (const entry of group.weights) {
      const size = entry.shape.reduce((a, b) => a * b, 1);
      const q = entry.quantization;
      let values: Float32Array | Int32Array;
      if (entry.dtype === 'int32') {
        values = new Int32Array(size);
        for (let i = 0; i < size; i += 1) values[i] = data.readInt32LE(offset + 4 * i);
        offset += 4 * size;
      } else if (q?.dtype === 'float16') {
        values = new Float32Array(size);
        const halves = halfFloats();
        for (let i = 0; i < size; i += 1) values[i] = halves[data.readUInt16LE(offset + 2 * i)] as number;
        offset += 2 * size;
      } else if (q?.dtype === 'uint8' || q?.dtype === 'uint16') {
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        values = new Float32Array(size);
        for (let i = 0; i < size; i += 1) {
          const v = bytes === 1 ? (data[offset + i] as number) : data.readUInt16LE(offset + 2 * i);
          values[i] = v * (q.scale ?? 1) + (q.min ?? 0);
        }
        offset += bytes * size;
      } else {
        values = new Float32Array(size);
        new Uint8Array(values.buffer).set(data.subarray(offset, offset + 4 * size));
        offset += 4 * size;
      }
      weights.set(entry.name, { shape: entry.shape, values });
    }
  }
  return { nodes: json.modelTopology.node, weights };
}

const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

/**
 * The graph from its input (NHWC, [N, size, size, 3]) to `outputNode`, as an ONNX model with input `faces` and
 * output `features` ([N, C]). Only the ops a MobileNet graph uses are known; another op is an error naming it.
 */
export function graphToOnnx(graph: TfjsGraph, outputNode: string, size: number): Uint8Array {
  const net = new NchwNet(new OnnxGraph());
  const g = net.g;
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const maps = new Map<string, Map4 | string>();
  const constant = (name: string): { shape: number[]; values: Float32Array | Int32Array } => {
    const w = graph.weights.get(name);
    if (!w) throw new Error(`FaceRes: constant ${name} has no weights`);
    return w;
  };
  const attrString = (node: GraphNode, key: string): string =>
    Buffer.from(node.attr?.[key]?.s ?? '', 'base64').toString('utf8');
  const strides = (node: GraphNode): number => Number(node.attr?.strides?.list?.i?.[1] ?? 1);
  const value = (name: string): Map4 | string => {
    const known = maps.get(name);
    if (known !== undefined) return known;
    const node = byName.get(name.split(':')[0] as string);
    if (!node) throw new Error(`FaceRes: no node ${name}`);
    const out = translate(node);
    maps.set(name, out);
    return out;
  };
  const map = (name: string): Map4 => {
    const v = value(name);
    if (typeof v === 'string') throw new Error(`FaceRes: ${name} is not a feature map`);
    return v;
  };
  /** A constant operand of an elementwise op, broadcast along NCHW channels. */
  const operand = (name: string, channels: number): string => {
    const c = constant(name);
    const values = Float32Array.from(c.values);
    if (values.length === 1) return net.scalar(values[0] as number);
    if (values.length !== channels) throw new Error(`FaceRes: ${name} has ${values.length} values, not ${channels}`);
    return net.perChannel(values);
  };
  const translate = (node: GraphNode): Map4 | string => {
    const inputs = node.input ?? [];
    switch (node.op) {
      case 'Placeholder': {
        const input = g.input('faces', ['N', size, size, 3]);
        return { name: net.transpose(input, [0, 3, 1, 2]), c: 3, h: size, w: size };
      }
      case 'Conv2D':
      case 'DepthwiseConv2dNative': {
        const x = map(inputs[0] as string);
        const w = constant(inputs[1] as string);
        const pad = attrString(node, 'padding') === 'VALID' ? 'valid' : 'same';
        return net.conv(x, Float32Array.from(w.values), w.shape as [number, number, number, number], {
          stride: strides(node),
          pad,
          depthwise: node.op === 'DepthwiseConv2dNative',
        });
      }
      case 'Add':
      case 'Mul':
      case 'Minimum':
      case 'Maximum': {
        const op = { Add: 'Add', Mul: 'Mul', Minimum: 'Min', Maximum: 'Max' }[node.op] as string;
        const a = map(inputs[0] as string);
        const bName = inputs[1] as string;
        const b = graph.weights.has(bName) ? operand(bName, a.c) : map(bName).name;
        return { ...a, name: g.node(op, [a.name, b]) };
      }
      case 'Relu':
        return net.relu(map(inputs[0] as string));
      case 'Mean': {
        const x = map(inputs[0] as string);
        const axes = Array.from(constant(inputs[1] as string).values, (a) => NHWC_TO_NCHW_AXIS[a] as number);
        const keep = node.attr?.keep_dims?.b === true;
        return g.node('ReduceMean', [x.name], { axes, keepdims: keep ? 1 : 0 });
      }
      default:
        throw new Error(`FaceRes: the op ${node.op} (${node.name}) has no ONNX translation`);
    }
  };
  const out = value(outputNode);
  if (typeof out !== 'string') throw new Error(`FaceRes: ${outputNode} should reduce to a vector`);
  g.name(out, 'features');
  g.output('features', ['N', 'C']);
  return g.encode();
}
