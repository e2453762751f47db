/**
 * Kernels the tfjs wasm backend lacks, or has only as slow loops, built from the kernels it runs on XNNPACK.
 * Without Conv2DBackpropFilter no convolution can be trained on wasm; this computes it as a dilated
 * convolution of the input with the output gradient (the standard identity). wasm's own Conv2DBackpropInput
 * is a plain nested loop (7 of a 10 s lite step); it is replaced by a forward convolution of the
 * zero-stuffed output gradient with the flipped filter. Transposes of large matrices are copied in JS, eight rows
 * at a time, instead of through wasm's generic N-d loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

type KernelFn = (args: {
  inputs: Record<string, TensorInfo>;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}) => TensorInfo | TensorInfo[];

function kernel(name: string, backendName: string): KernelFn {
  const config = tf.getKernel(name, backendName);
  if (!config) throw new Error(`the ${backendName} backend has no ${name} kernel`);
  return config.kernelFunc as KernelFn;
}

export function registerWasmTrainingKernels(): void {
  registerConvFilterGradient('wasm');
  registerConvInputGradient('wasm');
  registerPlainMatMul('wasm');
  registerBlockedTranspose('wasm');
  registerProductConvolution('wasm');
}

/** What a JS kernel needs of the wasm backend: tensors allocated on, and viewed in, its heap. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Below this many values a transpose is left to the backend's own kernel (its per-call cost is lower). */
const BLOCKED_TRANSPOSE_MIN = 64 * 64;
/**
 * out[b][j][i] = x[b][i][j] for `batch` matrices of rows x cols, eight rows at a time: each column's eight values
 * are written side by side (32 bytes), so the strided side of the copy touches whole half cache lines. In V8 this
 * unrolled form runs a 4096 x 4096 map in ~21 ms, against ~47 ms for 8 x 8 tiles and 171 ms for wasm's kernel.
 */
export function transposeBlocked(x: Float32Array, out: Float32Array, batch: number, rows: number, cols: number): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b += 1) {
    const base = b * size;
    let i = 0;
    for (; i + 8 <= rows; i += 8) {
      const f0 = base + i * cols;
      const f1 = f0 + cols;
      const f2 = f1 + cols;
      const f3 = f2 + cols;
      const f4 = f3 + cols;
      const f5 = f4 + cols;
      const f6 = f5 + cols;
      const f7 = f6 + cols;
      for (let j = 0; j < cols; j += 1) {
        const t = base + j * rows + i;
        out[t] = x[f0 + j] as number;
        out[t + 1] = x[f1 + j] as number;
        out[t + 2] = x[f2 + j] as number;
        out[t + 3] = x[f3 + j] as number;
        out[t + 4] = x[f4 + j] as number;
        out[t + 5] = x[f5 + j] as number;
        out[t + 6] = x[f6 + j] as number;
        out[t + 7] = x[f7 + j] as number;
      }
    }
    for (; i < rows; i += 1)
      for (let j = 0; j < cols; j += 1) out[base + j * rows + i] = x[base + i * cols + j] as number;
  }
}

/**
 * wasm's Transpose walks every element through a generic N-d index (171 ms for a 4096 x 4096 map, 4x a tiled
 * copy): swaps of the last two axes of large float32 tensors are done here, tile by tile, on the backend's heap.
 * Self-attention's backward transposes its N x N maps this way instead of rebuilding them (layers.ts).
 */
export function registerBlockedTranspose(backendName: string): boolean {
  const original = kernel('Transpose', backendName);
  return replaceKernel('Transpose', backendName, (args) => {
    const { inputs, attrs } = args;
    const x = inputs.x as TensorInfo;
    const perm = (attrs as unknown as { perm: number[] }).perm;
    const rank = x.shape.length;
    const swapsLastTwo =
      rank >= 2 &&
      perm.length === rank &&
      perm[rank - 1] === rank - 2 &&
      perm[rank - 2] === rank - 1 &&
      perm.slice(0, -2).every((p, i) => p === i);
    const rows = x.shape[rank - 2] ?? 0;
    const cols = x.shape[rank - 1] ?? 0;
    if (!swapsLastTwo || x.dtype !== 'float32' || rows * cols < BLOCKED_TRANSPOSE_MIN) return original(args);
    const backend = args.backend as unknown as HeapBackend;
    const batch = x.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    return transposedOnHeap(backend, x, [batch, rows, cols], [...x.shape.slice(0, -2), cols, rows]);
  });
}

/** A new heap tensor of `shape` holding x's values read as `batch` [rows, cols] matrices, each transposed. */
function transposedOnHeap(
  heap: HeapBackend,
  x: TensorInfo,
  [batch, rows, cols]: [number, number, number],
  shape: number[],
): TensorInfo {
  // Allocate first: growing the heap detaches views taken before.
  const out = heap.makeOutput(shape, 'float32');
  transposeBlocked(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out), batch, rows, cols);
  return out;
}

/**
 * wasm's BatchMatMul reaches XNNPACK only for one untransposed 2-D product; batched or transposed operands
 * take a scalar loop 10-40x slower (self-attention's products: 34 of a 63 s step). This wraps the kernel so
 * every product is made of untransposed 2-D ones: operands transposed explicitly, batches one at a time.
 */
export function registerPlainMatMul(backendName: string): boolean {
  const matMul = kernel('BatchMatMul', backendName);
  const transpose = kernel('Transpose', backendName);
  const reshape = kernel('Reshape', backendName);
  const slice = kernel('Slice', backendName);
  const concat = kernel('Concat', backendName);
  return replaceKernel('BatchMatMul', backendName, ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const rankA = a.shape.length;
    const rankB = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const plain = (x: TensorInfo, y: TensorInfo): TensorInfo =>
      matMul({ inputs: { a: x, b: y }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
    if (batchA === 1 && batchB === 1 && !transposeA && !transposeB && rankA === 2 && rankB === 2) return plain(a, b);
    return withTemporaries(backend, (keep) => {
      // Rank-3 operands [batch, rows, cols], transposed in memory where asked.
      const asPlain3d = (x: TensorInfo, batch: number, transposed: boolean): TensorInfo => {
        const rows = x.shape[x.shape.length - 2]!;
        const cols = x.shape[x.shape.length - 1]!;
        const x3 = keep(reshape({ inputs: { x }, backend, attrs: { shape: [batch, rows, cols] } }) as TensorInfo);
        return transposed
          ? keep(transpose({ inputs: { x: x3 }, backend, attrs: { perm: [0, 2, 1] } }) as TensorInfo)
          : x3;
      };
      const outerShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (batchA === 1 && batchB === 1 && transposeB && !transposeA && 4 * a.shape[rankA - 2]! <= b.shape[rankB - 2]!) {
        // a . b^T with a few rows against a large b (a dense layer's input gradient, [8, 1024] . [16384, 1024]^T)
        // as (b . a^T)^T: XNNPACK packs its right operand on every call, so a^T, not a copy of all of b.
        const [m, k] = a.shape.slice(-2) as [number, number];
        const n = b.shape[rankB - 2]!;
        const a2 = keep(reshape({ inputs: { x: a }, backend, attrs: { shape: [m, k] } }) as TensorInfo);
        const aT = keep(transpose({ inputs: { x: a2 }, backend, attrs: { perm: [1, 0] } }) as TensorInfo);
        const b2 = keep(reshape({ inputs: { x: b }, backend, attrs: { shape: [n, k] } }) as TensorInfo);
        const productT = keep(plain(b2, aT));
        const product = keep(transpose({ inputs: { x: productT }, backend, attrs: { perm: [1, 0] } }) as TensorInfo);
        return reshape({ inputs: { x: product }, backend, attrs: { shape: [...outerShape, m, n] } }) as TensorInfo;
      }
      const a3 = asPlain3d(a, batchA, transposeA);
      const b3 = asPlain3d(b, batchB, transposeB);
      const [, m, k] = a3.shape as [number, number, number];
      const n = b3.shape[2]!;
      const batch = Math.max(batchA, batchB);
      let product: TensorInfo;
      if (batchB === 1) {
        // One product for the whole batch: [batch*m, k] x [k, n].
        const a2 = keep(reshape({ inputs: { x: a3 }, backend, attrs: { shape: [batchA * m, k] } }) as TensorInfo);
        const b2 = keep(reshape({ inputs: { x: b3 }, backend, attrs: { shape: [k, n] } }) as TensorInfo);
        product = keep(plain(a2, b2));
      } else {
        const parts: TensorInfo[] = [];
        for (let i = 0; i < batch; i += 1) {
          const ai = keep(
            slice({
              inputs: { x: a3 },
              backend,
              attrs: { begin: [batchA === 1 ? 0 : i, 0, 0], size: [1, m, k] },
            }) as TensorInfo,
          );
          const bi = keep(
            slice({ inputs: { x: b3 }, backend, attrs: { begin: [i, 0, 0], size: [1, k, n] } }) as TensorInfo,
          );
          const a2 = keep(reshape({ inputs: { x: ai }, backend, attrs: { shape: [m, k] } }) as TensorInfo);
          const b2 = keep(reshape({ inputs: { x: bi }, backend, attrs: { shape: [k, n] } }) as TensorInfo);
          parts.push(keep(plain(a2, b2)));
        }
        product =
          parts.length === 1
            ? parts[0]!
            : keep(
                concat({
                  inputs: parts as unknown as Record<string, TensorInfo>,
                  backend,
                  attrs: { axis: 0 },
                }) as TensorInfo,
              );
      }
      return reshape({ inputs: { x: product }, backend, attrs: { shape: [...outerShape, m, n] } }) as TensorInfo;
    });
  });
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** A convolution's geometry (NHWC, no dilation), as the forward pass and both gradients need it. */
interface ConvGeometry {
  b: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  ci: number;
  co: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

/** The geometry tfjs gives a convolution of an input of `inputShape` (its output size and padding included). */
function convGeometry(
  inputShape: readonly number[],
  filterShape: [number, number, number, number],
  attrs: ConvAttrs,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    b: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ho: info.outHeight,
    wo: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    ci: info.inChannels,
    co: info.outChannels,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/** Run a kernel's body with a `keep` that marks temporaries; they are disposed when it returns (its result is not). */
function withTemporaries(
  backend: KernelBackend,
  body: (keep: (t: TensorInfo) => TensorInfo) => TensorInfo,
): TensorInfo {
  const temps: TensorInfo[] = [];
  try {
    return body((t) => {
      temps.push(t);
      return t;
    });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** A stride-1 'valid' NHWC convolution through a backend's Conv2D kernel. */
function validConvolution(
  conv2d: KernelFn,
  x: TensorInfo,
  filter: TensorInfo,
  backend: KernelBackend,
  dilations: [number, number] = [1, 1],
): TensorInfo {
  const attrs = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations, dimRoundingMode: undefined };
  return conv2d({ inputs: { x, filter }, backend, attrs: attrs as unknown as NamedAttrMap }) as TensorInfo;
}

/**
 * An NHWC tensor with `before` and `after` rows and columns of zeros added around it, or cut away where an amount
 * is negative: [rows, columns] each. Returns x itself when nothing changes; what it makes is kept.
 */
function reframe(
  x: TensorInfo,
  before: readonly [number, number],
  after: readonly [number, number],
  k: { padV2: KernelFn; slice: KernelFn },
  backend: KernelBackend,
  keep: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  let out = x;
  if ([...before, ...after].some((v) => v > 0))
    out = keep(
      k.padV2({
        inputs: { x: out },
        backend,
        attrs: {
          paddings: [
            [0, 0],
            [Math.max(0, before[0]), Math.max(0, after[0])],
            [Math.max(0, before[1]), Math.max(0, after[1])],
            [0, 0],
          ],
          constantValue: 0,
        },
      }) as TensorInfo,
    );
  if ([...before, ...after].some((v) => v < 0)) {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    out = keep(
      k.slice({
        inputs: { x: out },
        backend,
        attrs: {
          begin: [0, Math.max(0, -before[0]), Math.max(0, -before[1]), 0],
          size: [b, h + before[0] + after[0], w + before[1] + after[1], c],
        },
      }) as TensorInfo,
    );
  }
  return out;
}

/**
 * The filter of an input gradient, computed on the host in one pass: the taps w[ry::step, rx::step], flipped in
 * both spatial axes, with input and output channels swapped ([kh, kw, ci, co] -> [ky, kx, co, ci]). The backend's
 * generic Reverse and StridedSlice kernels take 20-25 ms each on a 3x3x256x256 filter (wasm); this takes ~2 ms.
 */
function flippedSubFilter(
  backend: KernelBackend,
  filter: TensorInfo,
  shape: [number, number, number, number],
  ry: number,
  rx: number,
  step: number,
): TensorInfo {
  const [kh, kw, ci, co] = shape;
  const w = backend.readSync(filter.dataId) as Float32Array;
  const ky = Math.ceil((kh - ry) / step);
  const kx = Math.ceil((kw - rx) / step);
  const out = new Float32Array(ky * kx * co * ci);
  for (let my = 0; my < ky; my += 1) {
    const sy = step * (ky - 1 - my) + ry;
    for (let mx = 0; mx < kx; mx += 1) {
      const sx = step * (kx - 1 - mx) + rx;
      const from = (sy * kw + sx) * ci * co;
      const to = (my * kx + mx) * co * ci;
      transposeBlocked(w.subarray(from, from + ci * co), out.subarray(to, to + co * ci), 1, ci, co);
    }
  }
  // The backends that take this path (wasm here) make a tensor from host values with makeOutput.
  const maker = backend as unknown as {
    makeOutput: (shape: number[], dtype: 'float32', offset?: number, values?: Float32Array) => TensorInfo;
  };
  return maker.makeOutput([ky, kx, co, ci], 'float32', undefined, out);
}

/**
 * Whether a convolution and its gradients go through one matrix product each instead of a convolution: when the
 * output has no more positions (batch x rows x columns) than channels, as the 4x4 and 8x8 layers of the encoder
 * and the decoders do. The convolution forms hand XNNPACK a new filter-sized operand whenever the weights change,
 * and it repacks it whatever the batch (~1 s for a 3x3x1024x2048 input gradient at batch 4 or 8); the product
 * forms pack only the small operand, and their patch matrices are never larger than the filter.
 */
export function convolutionAsProduct(g: Pick<ConvGeometry, 'b' | 'ho' | 'wo' | 'co'>): boolean {
  return g.b * g.ho * g.wo <= g.co;
}

/** visit(p, tap, where the input patch starts) for each output position p = (b, oy, ox) and tap inside the input. */
function forEachTap(g: ConvGeometry, visit: (p: number, tap: number, inputAt: number) => void): void {
  for (let b = 0; b < g.b; b += 1)
    for (let oy = 0; oy < g.ho; oy += 1)
      for (let ox = 0; ox < g.wo; ox += 1) {
        const p = (b * g.ho + oy) * g.wo + ox;
        for (let ky = 0; ky < g.kh; ky += 1) {
          const y = oy * g.sh - g.top + ky;
          if (y < 0 || y >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx += 1) {
            const x = ox * g.sw - g.left + kx;
            if (x < 0 || x >= g.w) continue;
            visit(p, ky * g.kw + kx, ((b * g.h + y) * g.w + x) * g.ci);
          }
        }
      }
}

interface ProductKernels {
  matMul: KernelFn;
  transpose: KernelFn;
  reshape: KernelFn;
}

/**
 * dx by the product colsT[kh*kw*ci, P] = W[kh*kw*ci, co] . dy^T[co, P] (P output positions; XNNPACK packs only
 * dy^T), then every tap's column added back at the input position it came from (col2im).
 */
function productInputGradient(
  inputs: { dy: TensorInfo; filter: TensorInfo },
  g: ConvGeometry,
  k: ProductKernels,
  backend: KernelBackend,
  keep: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  const positions = g.b * g.ho * g.wo;
  const rows = g.kh * g.kw * g.ci;
  const dy2 = keep(k.reshape({ inputs: { x: inputs.dy }, backend, attrs: { shape: [positions, g.co] } }) as TensorInfo);
  const dyT = keep(k.transpose({ inputs: { x: dy2 }, backend, attrs: { perm: [1, 0] } }) as TensorInfo);
  const w2 = keep(k.reshape({ inputs: { x: inputs.filter }, backend, attrs: { shape: [rows, g.co] } }) as TensorInfo);
  const colsT = keep(
    k.matMul({ inputs: { a: w2, b: dyT }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo,
  );
  const heap = backend as unknown as HeapBackend;
  // Allocate first: growing the heap detaches views taken before.
  const out = heap.makeOutput([g.b, g.h, g.w, g.ci], 'float32');
  // Position-major, so each tap's ci values are contiguous on both sides of the sum.
  const cols = new Float32Array(rows * positions);
  transposeBlocked(heap.typedArrayFromHeap(colsT), cols, 1, rows, positions);
  const dx = heap.typedArrayFromHeap(out);
  dx.fill(0);
  const ci = g.ci;
  forEachTap(g, (p, tap, inputAt) => {
    const from = p * rows + tap * ci;
    for (let i = 0; i < ci; i += 1) dx[inputAt + i] = (dx[inputAt + i] as number) + (cols[from + i] as number);
  });
  return out;
}

/**
 * dW[kh*kw*ci, co] by the product colsX^T[kh*kw*ci, P] . dy[P, co], the input's patches gathered (im2col) and
 * transposed here; XNNPACK packs only dy. The result is already in the filter's layout.
 */
function productFilterGradient(
  inputs: { x: TensorInfo; dy: TensorInfo },
  g: ConvGeometry,
  k: Omit<ProductKernels, 'transpose'>,
  backend: KernelBackend,
  keep: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  const positions = g.b * g.ho * g.wo;
  const colsXT = keep(patchesTransposed(inputs.x, g, backend as unknown as HeapBackend));
  const dy2 = keep(k.reshape({ inputs: { x: inputs.dy }, backend, attrs: { shape: [positions, g.co] } }) as TensorInfo);
  const dw = keep(
    k.matMul({ inputs: { a: colsXT, b: dy2 }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo,
  );
  return k.reshape({ inputs: { x: dw }, backend, attrs: { shape: [g.kh, g.kw, g.ci, g.co] } }) as TensorInfo;
}

/** The input's patches as a [kh*kw*ci, P] matrix on the heap (im2col, transposed); zeros where a tap is outside. */
function patchesTransposed(x: TensorInfo, g: ConvGeometry, heap: HeapBackend): TensorInfo {
  const positions = g.b * g.ho * g.wo;
  const rows = g.kh * g.kw * g.ci;
  // Allocate first: growing the heap detaches views taken before.
  const out = heap.makeOutput([rows, positions], 'float32');
  const patches = new Float32Array(positions * rows);
  const values = heap.typedArrayFromHeap(x);
  const ci = g.ci;
  forEachTap(g, (p, tap, inputAt) => patches.set(values.subarray(inputAt, inputAt + ci), p * rows + tap * ci));
  transposeBlocked(patches, heap.typedArrayFromHeap(out), 1, positions, rows);
  return out;
}

/**
 * The forward convolution by the product out^T[co, P] = W^T[co, kh*kw*ci] . patches^T[kh*kw*ci, P]: the filter
 * is transposed here (~20 ms for 3x3x1024x2048) and XNNPACK packs only the patches, where its convolution packs
 * the filter again whenever the weights changed (~400 ms for that filter: twice an iteration on every thread).
 */
function productConvolution(
  inputs: { x: TensorInfo; filter: TensorInfo },
  g: ConvGeometry,
  matMul: KernelFn,
  backend: KernelBackend,
  keep: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  const heap = backend as unknown as HeapBackend;
  const positions = g.b * g.ho * g.wo;
  const rows = g.kh * g.kw * g.ci;
  const patchesT = keep(patchesTransposed(inputs.x, g, heap));
  const filterT = keep(transposedOnHeap(heap, inputs.filter, [1, rows, g.co], [g.co, rows]));
  const outT = keep(
    matMul({
      inputs: { a: filterT, b: patchesT },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo,
  );
  return transposedOnHeap(heap, outT, [1, g.co, positions], [g.b, g.ho, g.wo, g.co]);
}

/** Route the backend's forward convolutions with few output positions for their channels through one product. */
export function registerProductConvolution(backendName: string): boolean {
  const conv2d = kernel('Conv2D', backendName);
  const matMul = kernel('BatchMatMul', backendName);
  const padV2 = kernel('PadV2', backendName);
  const slice = kernel('Slice', backendName);
  const kernelFunc: KernelFn = (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { dilations: [number, number] | number };
    const dilated = Array.isArray(attrs.dilations) ? attrs.dilations.some((d) => d !== 1) : attrs.dilations !== 1;
    if (attrs.dataFormat !== 'NHWC' || dilated || x.dtype !== 'float32') return conv2d(args);
    const backend = args.backend as KernelBackend;
    const g = convGeometry(x.shape, filter.shape as [number, number, number, number], attrs);
    if (typeof attrs.pad === 'number' || Array.isArray(attrs.pad)) {
      // With numeric padding tfjs sizes the output with the filter's height in both axes (3x5 filter: columns
      // too many), and wasm's own Conv2D then writes past its output. As the cpu backend does: pad the input
      // so a 'valid' convolution covers that output (zeros beyond), and keep exactly that output.
      const bottom = Math.max(0, (g.ho - 1) * g.sh + g.kh - g.h - g.top);
      const right = Math.max(0, (g.wo - 1) * g.sw + g.kw - g.w - g.left);
      return withTemporaries(backend, (keep) => {
        const padded = reframe(x, [g.top, g.left], [bottom, right], { padV2, slice }, backend, keep);
        const full = kernelFunc({
          ...args,
          inputs: { x: padded, filter },
          attrs: { ...args.attrs, pad: 'valid' },
        }) as TensorInfo;
        if (full.shape[1] === g.ho && full.shape[2] === g.wo) return full;
        return slice({
          inputs: { x: keep(full) },
          backend,
          attrs: { begin: [0, 0, 0, 0], size: [g.b, g.ho, g.wo, g.co] },
        }) as TensorInfo;
      });
    }
    if (!convolutionAsProduct(g)) return conv2d(args);
    return withTemporaries(backend, (keep) => productConvolution({ x, filter }, g, matMul, backend, keep));
  };
  return replaceKernel('Conv2D', backendName, kernelFunc);
}

/** The kernels this module has replaced ("name/backend"), so a kernel is not replaced twice. */
const REPLACED = new Set<string>();

/**
 * Put `kernelFunc` in the place of a backend's kernel, once: false when it was already replaced (a replacement
 * built again would wrap the first replacement instead of the original kernel; it is dropped).
 */
function replaceKernel(kernelName: string, backendName: string, kernelFunc: KernelFn): boolean {
  const key = `${kernelName}/${backendName}`;
  if (REPLACED.has(key)) return false;
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as tf.KernelFunc });
  REPLACED.add(key);
  return true;
}

/**
 * Replace a backend's Conv2DBackpropInput with one on its Conv2D kernel:
 * dx = conv2d(pad(stuff(dy, stride)), flip(filter) with in/out channels swapped), stride 1, 'valid'.
 */
export function registerConvInputGradient(backendName: string): boolean {
  const conv2d = kernel('Conv2D', backendName);
  const padV2 = kernel('PadV2', backendName);
  const reshape = kernel('Reshape', backendName);
  const slice = kernel('Slice', backendName);
  const concat = kernel('Concat', backendName);
  const matMul = kernel('BatchMatMul', backendName);
  const transpose = kernel('Transpose', backendName);
  return replaceKernel('Conv2DBackpropInput', backendName, ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const convAttrs = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    if (convAttrs.dataFormat === 'NCHW') throw new Error(`Conv2DBackpropInput on ${backendName} supports NHWC only`);
    const filterShape = filter.shape as [number, number, number, number];
    const g = convGeometry(convAttrs.inputShape, filterShape, convAttrs);
    const { b, h, w, ho, wo, kh, kw, ci, co, sh, sw } = g;
    return withTemporaries(backend, (keep) => {
      if (convolutionAsProduct(g))
        return productInputGradient({ dy, filter }, g, { matMul, transpose, reshape }, backend, keep);
      if (sh === 2 && sw === 2 && kh >= 2 && kw >= 2)
        return subPixelInputGradient({ dy, filter }, g, { conv2d, padV2, reshape, slice, concat }, backend, keep);
      // Put stride-1 zeros between the gradient's rows and columns (a 6-D pad, then a reshape).
      let stuffed = dy;
      if (sh > 1 || sw > 1) {
        const six = keep(
          reshape({ inputs: { x: dy }, backend, attrs: { shape: [b, ho, 1, wo, 1, co] } }) as TensorInfo,
        );
        const padded = keep(
          padV2({
            inputs: { x: six },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [0, 0],
                [0, sh - 1],
                [0, 0],
                [0, sw - 1],
                [0, 0],
              ],
              constantValue: 0,
            },
          }) as TensorInfo,
        );
        stuffed = keep(
          reshape({ inputs: { x: padded }, backend, attrs: { shape: [b, ho * sh, wo * sw, co] } }) as TensorInfo,
        );
      }
      // dx[i] = sum_k stuffed[i + top - k] w[k]: a correlation with the flipped filter over the stuffed
      // gradient padded by kh-1-top before and enough after to give h rows (negative amounts are cut).
      const before = [kh - 1 - g.top, kw - 1 - g.left] as const;
      const after = [h + kh - 1 - before[0] - ho * sh, w + kw - 1 - before[1] - wo * sw] as const;
      const framed = reframe(stuffed, before, after, { padV2, slice }, backend, keep);
      const swapped = keep(flippedSubFilter(backend, filter, filterShape, 0, 0, 1));
      const dx = validConvolution(conv2d, framed, swapped, backend);
      if (dx.shape[3] !== ci) throw new Error('Conv2DBackpropInput: channel mismatch');
      return dx;
    });
  });
}

interface SubPixelKernels {
  conv2d: KernelFn;
  padV2: KernelFn;
  reshape: KernelFn;
  slice: KernelFn;
  concat: KernelFn;
}

/**
 * The input gradient of a stride-2 convolution without the zero-stuffed gradient (three quarters of whose
 * products are with zeros): for each parity (ry, rx) of the input position plus the padding, dx there is a
 * stride-1 correlation of dy with the flipped sub-filter w[ry::2, rx::2]. In 1-D: i + top = 2q + r gives
 * dx[i] = sum_m dy[q - m] w[2m + r]. The four results cover the same q range and interleave as
 * i = 2q + r - top, which a reshape does; the rows and columns outside 0..h-1 are cut.
 */
function subPixelInputGradient(
  inputs: { dy: TensorInfo; filter: TensorInfo },
  g: ConvGeometry,
  k: SubPixelKernels,
  backend: KernelBackend,
  keep: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  const { dy, filter } = inputs;
  // The q range that covers i = 0..h-1 for both parities: 2q + r - top in [0, h).
  const range = (size: number, pad: number): [number, number] => {
    const from = Math.floor(pad / 2);
    return [from, Math.floor((size - 1 + pad) / 2) - from + 1];
  };
  const [qy0, qh] = range(g.h, g.top);
  const [qx0, qw] = range(g.w, g.left);
  const rows: TensorInfo[] = [];
  for (let ry = 0; ry < 2; ry += 1) {
    const cols: TensorInfo[] = [];
    for (let rx = 0; rx < 2; rx += 1) {
      const ky = Math.ceil((g.kh - ry) / 2);
      const kx = Math.ceil((g.kw - rx) / 2);
      // w[ry::2, rx::2], flipped, input and output channels swapped: a filter for dy's channels.
      const swapped = keep(flippedSubFilter(backend, filter, [g.kh, g.kw, g.ci, g.co], ry, rx, 2));
      // dy rows q - (ky - 1) .. q for q in [qy0, qy0 + qh): pad (or cut) dy to exactly that window.
      const framed = reframe(dy, [ky - 1 - qy0, kx - 1 - qx0], [qy0 + qh - g.ho, qx0 + qw - g.wo], k, backend, keep);
      const part = keep(validConvolution(k.conv2d, framed, swapped, backend));
      // [b, qh, qw, ci] -> [b, qh, qw, 1, ci]: the column parity becomes an axis for the interleave.
      cols.push(
        keep(k.reshape({ inputs: { x: part }, backend, attrs: { shape: [g.b, qh, qw, 1, g.ci] } }) as TensorInfo),
      );
    }
    // [b, qh, qw, 2, ci] -> [b, qh, 1, qw * 2, ci]: the row parity becomes an axis too.
    const both = keep(
      k.concat({ inputs: cols as unknown as Record<string, TensorInfo>, backend, attrs: { axis: 3 } }) as TensorInfo,
    );
    rows.push(
      keep(k.reshape({ inputs: { x: both }, backend, attrs: { shape: [g.b, qh, 1, qw * 2, g.ci] } }) as TensorInfo),
    );
  }
  const all = keep(
    k.concat({ inputs: rows as unknown as Record<string, TensorInfo>, backend, attrs: { axis: 2 } }) as TensorInfo,
  );
  const grid = keep(
    k.reshape({ inputs: { x: all }, backend, attrs: { shape: [g.b, qh * 2, qw * 2, g.ci] } }) as TensorInfo,
  );
  // Row 2q + r of the grid is input row 2(q + qy0) + r - top.
  return k.slice({
    inputs: { x: grid },
    backend,
    attrs: { begin: [0, g.top - 2 * qy0, g.left - 2 * qx0, 0], size: [g.b, g.h, g.w, g.ci] },
  }) as TensorInfo;
}

/** Give a backend without Conv2DBackpropFilter (wasm; possibly others) one built from its own kernels. */
export function registerConvFilterGradient(backendName: string): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', backendName)) return false;
  const conv2d = kernel('Conv2D', backendName);
  const transpose = kernel('Transpose', backendName);
  const padV2 = kernel('PadV2', backendName);
  const slice = kernel('Slice', backendName);
  const matMul = kernel('BatchMatMul', backendName);
  const reshape = kernel('Reshape', backendName);

  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as KernelBackend;
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const convAttrs = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
      if (convAttrs.dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter on ${backendName} supports NHWC only`);
      const g = convGeometry(x.shape, convAttrs.filterShape, convAttrs);
      const { h, w, ho, wo, kh, kw, ci, co, sh, sw, top, left } = g;
      const needH = (ho - 1) * sh + kh;
      const needW = (wo - 1) * sw + kw;
      return withTemporaries(backend, (keep) => {
        if (convolutionAsProduct(g)) return productFilterGradient({ x, dy }, g, { matMul, reshape }, backend, keep);
        // Pad the input as the forward pass saw it (extra rows beyond what the filter reaches are harmless).
        const after = [Math.max(0, needH - h - top), Math.max(0, needW - w - left)] as const;
        const padded = reframe(x, [top, left], after, { padV2, slice }, backend, keep);
        // dW[kh,kw,ci,co] = sum_{b,y,x} xpad[b, y*s+kh, x*s+kw, ci] * dy[b,y,x,co]:
        // a convolution with batch <- ci, channels <- b, filter <- dy, dilation <- stride.
        const xT = keep(transpose({ inputs: { x: padded }, backend, attrs: { perm: [3, 1, 2, 0] } }) as TensorInfo);
        const dyT = keep(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo);
        const full = keep(validConvolution(conv2d, xT, dyT, backend, [sh, sw]));
        const cut = keep(
          slice({ inputs: { x: full }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } }) as TensorInfo,
        );
        return transpose({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo;
      });
    },
  });
  return true;
}
