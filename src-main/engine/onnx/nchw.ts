/**
 * Layer helpers over OnnxGraph for NCHW feature maps whose spatial size is known when the graph is built (the batch
 * is a run-time dimension). They reproduce tfjs' semantics (NHWC kernels, 'same' padding with the odd pixel at the
 * end) so that nets written for tfjs can be rebuilt for onnxruntime. Pure.
 */
import { type OnnxGraph, hwioToOihw, samePadding } from './graph.js';

/** A feature map: its value name, channels and spatial size (the batch is dynamic). */
export interface Map4 {
  name: string;
  c: number;
  h: number;
  w: number;
}

export class NchwNet {
  constructor(readonly g: OnnxGraph) {}

  /** Conv2D with a tfjs HWIO kernel, stride and tfjs padding; optional bias; `groups` for depthwise. */
  conv(
    x: Map4,
    kernel: Float32Array,
    shape: readonly [number, number, number, number],
    options: { stride?: number; pad?: 'same' | 'valid'; bias?: Float32Array | null; depthwise?: boolean } = {},
  ): Map4 {
    const [kh, kw, ci, co0] = shape;
    const stride = options.stride ?? 1;
    const depthwise = options.depthwise ?? false;
    // A tfjs depthwise kernel is [kh, kw, C, multiplier]; ONNX wants [C * multiplier, 1, kh, kw].
    const co = depthwise ? ci * co0 : co0;
    const hwio = depthwise ? [kh, kw, 1, ci * co0] : [kh, kw, ci, co0];
    const wShape = depthwise ? [co, 1, kh, kw] : [co, ci, kh, kw];
    const [pt, pb] = options.pad === 'valid' ? [0, 0] : samePadding(x.h, kh, stride);
    const [pl, pr] = options.pad === 'valid' ? [0, 0] : samePadding(x.w, kw, stride);
    if (kernel.length !== kh * kw * ci * co0)
      throw new Error(`conv: ${kernel.length} kernel values for shape [${shape.join(', ')}]`);
    // Transposed when the graph is encoded, straight into its bytes.
    const inputs = [x.name, this.g.computedConstant(wShape, (into) => hwioToOihw(kernel, hwio, into), 'w')];
    if (options.bias) inputs.push(this.g.constant([co], options.bias, 'b'));
    const name = this.g.node('Conv', inputs, {
      kernel_shape: [kh, kw],
      strides: [stride, stride],
      pads: [pt, pl, pb, pr],
      group: depthwise ? ci : 1,
    });
    const h = Math.floor((x.h + pt + pb - kh) / stride) + 1;
    const w = Math.floor((x.w + pl + pr - kw) / stride) + 1;
    return { name, c: co, h, w };
  }

  unary(op: string, x: Map4, attributes: Record<string, number> = {}, floats: string[] = []): Map4 {
    return { ...x, name: this.g.node(op, [x.name], attributes, floats) };
  }

  relu(x: Map4): Map4 {
    return this.unary('Relu', x);
  }

  leaky(x: Map4, alpha: number): Map4 {
    return this.unary('LeakyRelu', x, { alpha }, ['alpha']);
  }

  add(a: Map4, b: Map4 | string): Map4 {
    return { ...a, name: this.g.node('Add', [a.name, typeof b === 'string' ? b : b.name]) };
  }

  mul(a: Map4, b: Map4 | string): Map4 {
    return { ...a, name: this.g.node('Mul', [a.name, typeof b === 'string' ? b : b.name]) };
  }

  /** A per-channel vector as a [1, C, 1, 1] constant. */
  perChannel(values: Float32Array): string {
    return this.g.constant([1, values.length, 1, 1], values, 'pc');
  }

  scalar(value: number): string {
    return this.g.constant([], [value], 's');
  }

  /** (x - mean) / (sd + eps) or / sqrt(var + eps), moments over `axes` per sample (population variance). */
  standardise(x: string, axes: number[], epsilon: number, onStd: boolean): string {
    const g = this.g;
    const mean = g.node('ReduceMean', [x], { axes, keepdims: 1 });
    const centred = g.node('Sub', [x, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred])], { axes, keepdims: 1 });
    const eps = this.scalar(epsilon);
    const scale = onStd
      ? g.node('Add', [g.node('Sqrt', [variance]), eps])
      : g.node('Sqrt', [g.node('Add', [variance, eps])]);
    return g.node('Div', [centred, scale]);
  }

  reshape(x: string, shape: number[]): string {
    return this.g.node('Reshape', [x, this.g.ints(shape, 'shape')]);
  }

  transpose(x: string, perm: number[]): string {
    return this.g.node('Transpose', [x], { perm });
  }

  /** NCHW -> NHWC, flattened per sample (the order tfjs' reshape of an NHWC map gives). */
  flattenNhwc(x: Map4): string {
    return this.reshape(this.transpose(x.name, [0, 2, 3, 1]), [0, -1]);
  }

  /** x [N, in] times a [in, units] kernel, plus bias when given. */
  dense(x: string, kernel: Float32Array, inUnits: number, units: number, bias: Float32Array | null): string {
    const y = this.g.node('MatMul', [x, this.g.constant([inUnits, units], kernel, 'k')]);
    return bias ? this.g.node('Add', [y, this.g.constant([units], bias, 'b')]) : y;
  }

  /** Split along an axis into pieces of the given sizes. */
  split(x: string, axis: number, sizes: number[]): string[] {
    return this.g.op('Split', [x, this.g.ints(sizes, 'split')], { axis }, sizes.length);
  }

  concat(values: string[], axis: number): string {
    return values.length === 1 ? (values[0] as string) : this.g.node('Concat', values, { axis });
  }
}
