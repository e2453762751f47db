/**
 * A minimal ONNX model writer: nodes, float/int64 initialisers, inputs and outputs, encoded as the protobuf that
 * onnxruntime reads. The studio builds its own nets (generator, landmark and recognition nets) from their weights
 * with it, so that they run on onnxruntime's native kernels instead of tfjs' wasm backend. Pure: bytes in memory.
 */

/** Float32 data written when the model is encoded (a kernel transposed straight into the model's bytes). */
interface DeferredFloats {
  length: number;
  fill(into: Float32Array): void;
}

/** Protobuf wire writer (varints, length-delimited fields, fixed32 floats). */
class Writer {
  private readonly parts: Array<Uint8Array | DeferredFloats> = [];
  length = 0;

  private push(bytes: Uint8Array | DeferredFloats): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  int(field: number, value: number | bigint): this {
    this.varint(field << 3);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: string | Uint8Array): this {
    const data = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    this.varint((field << 3) | 2);
    this.varint(data.length);
    this.push(data);
    return this;
  }

  /** A length-delimited field of `count` floats that `fill` writes when the model is encoded. */
  deferredFloats(field: number, count: number, fill: (into: Float32Array) => void): this {
    this.varint((field << 3) | 2);
    this.varint(count * 4);
    this.push({ length: count * 4, fill });
    return this;
  }

  message(field: number, inner: Writer): this {
    this.varint((field << 3) | 2);
    this.varint(inner.length);
    for (const part of inner.parts) this.push(part);
    return this;
  }

  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    const data = new Uint8Array(4);
    new DataView(data.buffer).setFloat32(0, value, true);
    this.push(data);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    // Deferred floats go through one scratch array (their offsets in `out` need not be 4-byte aligned), so a
    // generator's transposed kernels are not ~40 MB of fresh arrays besides the model's bytes.
    const most = this.parts.reduce((m, p) => (p instanceof Uint8Array ? m : Math.max(m, p.length)), 0);
    const scratch = new Float32Array(most / 4);
    let offset = 0;
    for (const part of this.parts) {
      if (part instanceof Uint8Array) out.set(part, offset);
      else {
        const floats = scratch.subarray(0, part.length / 4);
        part.fill(floats);
        out.set(new Uint8Array(floats.buffer, 0, part.length), offset);
      }
      offset += part.length;
    }
    return out;
  }
}

export type AttributeValue = number | string | number[] | { floats: number[] };
/** A dimension: a size, or a name for a size given at run time (the batch). */
export type Dim = number | string;

const FLOAT = 1;
const INT64 = 7;

function attribute(name: string, value: AttributeValue, integer: boolean): Writer {
  const w = new Writer().bytes(1, name);
  if (typeof value === 'string') return w.bytes(4, value).int(20, 3);
  if (typeof value === 'number') return integer ? w.int(3, value).int(20, 2) : w.float(2, value).int(20, 1);
  if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    return w.int(20, 7);
  }
  for (const v of value.floats) w.float(7, v);
  return w.int(20, 6);
}

/** A float32 TensorProto's dims, type and name; its raw data (field 9) follows. */
function floatTensorHead(dims: readonly number[], name: string): Writer {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  return w.int(2, FLOAT).bytes(8, name);
}

function valueInfo(name: string, dims: readonly Dim[], elemType = FLOAT): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, typeof d === 'string' ? new Writer().bytes(2, d) : new Writer().int(1, d));
  const tensorType = new Writer().int(1, elemType).message(2, shape);
  return new Writer().bytes(1, name).message(2, new Writer().message(1, tensorType));
}

/**
 * An ONNX graph under construction. Every op returns the name of its (first) output; names are generated unless
 * given. Attributes: numbers are integers unless listed in `floatAttributes`.
 */
export class OnnxGraph {
  private readonly nodes: Writer[] = [];
  private readonly initialisers: Writer[] = [];
  private readonly inputs: Writer[] = [];
  private readonly outputs: Writer[] = [];
  private counter = 0;
  /** Operator domains beyond the standard one that the nodes use (onnxruntime's contrib ops: com.microsoft). */
  private readonly domains = new Set<string>();

  private fresh(hint: string): string {
    this.counter += 1;
    return `${hint}_${this.counter}`;
  }

  input(name: string, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  output(name: string, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 constant (weights), stored as raw little-endian data. */
  constant(dims: readonly number[], values: Float32Array | readonly number[], hint = 'const'): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`constant ${hint}: ${data.length} values for shape [${dims.join(', ')}]`);
    const name = this.fresh(hint);
    this.initialisers.push(
      floatTensorHead(dims, name).bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    );
    return name;
  }

  /**
   * A float32 constant whose values `fill` writes when the graph is encoded (into an array of `dims`' size): for
   * values computed from others, such as a transposed kernel, without an array of their own.
   */
  computedConstant(dims: readonly number[], fill: (into: Float32Array) => void, hint = 'const'): string {
    const name = this.fresh(hint);
    const size = dims.reduce((a, b) => a * b, 1);
    this.initialisers.push(floatTensorHead(dims, name).deferredFloats(9, size, fill));
    return name;
  }

  /** An int64 constant (shapes, axes, pads, split sizes). */
  ints(values: readonly number[], hint = 'ints'): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initialisers.push(
      new Writer().int(1, values.length).int(2, INT64).bytes(8, name).bytes(9, new Uint8Array(data.buffer)),
    );
    return name;
  }

  /** One node; returns its outputs' names (`outputs` of them). */
  op(
    type: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputs = 1,
    floatAttributes: readonly string[] = [],
    domain = '',
  ): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(type.toLowerCase()));
    const w = new Writer();
    for (const i of inputs) w.bytes(1, i);
    for (const o of names) w.bytes(2, o);
    w.bytes(3, `${names[0]}_node`).bytes(4, type);
    for (const [key, value] of Object.entries(attributes))
      w.message(5, attribute(key, value, !floatAttributes.includes(key)));
    if (domain) {
      w.bytes(7, domain);
      this.domains.add(domain);
    }
    this.nodes.push(w);
    return names;
  }

  /** A single-output node. */
  node(
    type: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    floatAttributes: readonly string[] = [],
  ): string {
    return this.op(type, inputs, attributes, 1, floatAttributes)[0] as string;
  }

  /** Rename a value into a graph output (an Identity node). */
  name(value: string, as: string): string {
    const w = new Writer().bytes(1, value).bytes(2, as).bytes(3, `${as}_node`).bytes(4, 'Identity');
    this.nodes.push(w);
    return as;
  }

  /** The model: IR version 8, the default opset 17. */
  encode(producer = 'faceparts-studio'): Uint8Array {
    const graph = new Writer();
    for (const n of this.nodes) graph.message(1, n);
    graph.bytes(2, 'main');
    for (const t of this.initialisers) graph.message(5, t);
    for (const i of this.inputs) graph.message(11, i);
    for (const o of this.outputs) graph.message(12, o);
    const model = new Writer().int(1, 8).bytes(2, producer);
    model.message(8, new Writer().bytes(1, '').int(2, 17));
    for (const domain of this.domains) model.message(8, new Writer().bytes(1, domain).int(2, 1));
    model.message(7, graph);
    return model.finish();
  }
}

/** TF 'same' padding for one spatial axis: [begin, end] (the odd pixel goes at the end, as TensorFlow does). */
export function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** HWIO (tfjs conv kernel) -> OIHW (ONNX Conv weight), into `out` when given. */
export function hwioToOihw(
  values: Float32Array,
  shape: readonly number[],
  out: Float32Array = new Float32Array(values.length),
): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  for (let y = 0; y < kh; y += 1)
    for (let x = 0; x < kw; x += 1)
      for (let i = 0; i < ci; i += 1)
        for (let o = 0; o < co; o += 1)
          out[((o * ci + i) * kh + y) * kw + x] = values[((y * kw + x) * ci + i) * co + o] as number;
  return out;
}
