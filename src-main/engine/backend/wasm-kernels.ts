/**
 * Kernels the tfjs wasm backend lacks, built from the kernels it has. Without Conv2DBackpropFilter no
 * convolution can be trained on wasm; this computes it as a dilated convolution of the input with the
 * output gradient (the standard identity), running on XNNPACK like the forward pass.
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
}

/** Give a backend without Conv2DBackpropFilter (wasm; possibly others) one built from its own kernels. */
export function registerConvFilterGradient(backendName: string): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', backendName)) return false;
  const conv2d = kernel('Conv2D', backendName);
  const transpose = kernel('Transpose', backendName);
  const padV2 = kernel('PadV2', backendName);
  const slice = kernel('Slice', backendName);

  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as KernelBackend;
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
        strides: [number, number] | number;
        pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter on ${backendName} supports NHWC only`);
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        strides,
        1,
        pad,
        dimRoundingMode,
        false,
        'channelsLast',
      );
      const [kh, kw, ci, co] = filterShape;
      const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      const h = x.shape[1] as number;
      const w = x.shape[2] as number;
      const needH = (ho - 1) * sh + kh;
      const needW = (wo - 1) * sw + kw;
      const temps: TensorInfo[] = [];
      const keep = (t: TensorInfo): TensorInfo => {
        temps.push(t);
        return t;
      };
      try {
        // Pad the input as the forward pass saw it (extra rows beyond what the filter reaches are harmless).
        const padded = keep(
          padV2({
            inputs: { x },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [top, Math.max(0, needH - h - top)],
                [left, Math.max(0, needW - w - left)],
                [0, 0],
              ],
              constantValue: 0,
            },
          }) as TensorInfo,
        );
        // dW[kh,kw,ci,co] = sum_{b,y,x} xpad[b, y*s+kh, x*s+kw, ci] * dy[b,y,x,co]:
        // a convolution with batch <- ci, channels <- b, filter <- dy, dilation <- stride.
        const xT = keep(transpose({ inputs: { x: padded }, backend, attrs: { perm: [3, 1, 2, 0] } }) as TensorInfo);
        const dyT = keep(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo);
        const full = keep(
          conv2d({
            inputs: { x: xT, filter: dyT },
            backend,
            attrs: {
              strides: [1, 1],
              pad: 'valid',
              dataFormat: 'NHWC',
              dilations: [sh, sw],
              dimRoundingMode: undefined,
            } as unknown as NamedAttrMap,
          }) as TensorInfo,
        );
        const cut = keep(
          slice({ inputs: { x: full }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } }) as TensorInfo,
        );
        return transpose({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo;
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    },
  });
  return true;
}
