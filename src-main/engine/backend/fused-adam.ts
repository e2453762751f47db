/**
 * Adam's update of one variable as one pass over its values (kernel 'FusedAdam'), on the backends whose tensors
 * live in host memory (wasm's heap, the cpu backend's arrays). As tfjs kernels the update is eleven elementwise
 * passes with their temporaries, ~1.1 ns a value each on wasm: 1.7 s of a 14 s standard 64 px iteration on two
 * threads, all of it on the thread that owns the weights while the other waits; the loop is bound by memory
 * (~3.6 ns a value: seven float32 arrays). Other backends (WebGPU) keep the
 * kernels: there the passes run on the device.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

export const FUSED_ADAM = 'FusedAdam';

/** Keras' Adam with the step's bias corrections folded into `rate`, and an L2 term `decay * w` added to g. */
export interface AdamStep {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t). */
  rate: number;
  /** The gradient of an L2 penalty, as a factor of the weights (0: none). */
  decay: number;
}

/**
 * g = grad + decay * w; m' = beta1 m + (1 - beta1) g; v' = beta2 v + (1 - beta2) g^2;
 * w' = w - rate * m' / (sqrt(v') + epsilon). Values are rounded to float32 where they are stored, as the
 * kernels' would be; the sums in between are in double precision.
 */
export function adamUpdate(
  current: { w: Float32Array; m: Float32Array; v: Float32Array; grad: Float32Array },
  next: { w: Float32Array; m: Float32Array; v: Float32Array },
  step: AdamStep,
): void {
  const { w, m, v, grad } = current;
  const { w: outW, m: outM, v: outV } = next;
  const { beta1, beta2, epsilon, rate, decay } = step;
  const keep1 = 1 - beta1;
  const keep2 = 1 - beta2;
  for (let i = 0; i < w.length; i += 1) {
    const wi = w[i] as number;
    const g = (grad[i] as number) + decay * wi;
    // The moments as stored (float32), as the kernels' version reads them back.
    const mi = Math.fround(beta1 * (m[i] as number) + keep1 * g);
    const vi = Math.fround(beta2 * (v[i] as number) + keep2 * g * g);
    outM[i] = mi;
    outV[i] = vi;
    outW[i] = wi - (rate * mi) / (Math.sqrt(vi) + epsilon);
  }
}

interface HostBackend {
  /** Three new float32 tensors of `shape` with writable views of their values. */
  outputs(shape: number[]): { infos: TensorInfo[]; views: Float32Array[] };
  view(t: TensorInfo): Float32Array;
}

function wasmHost(backend: KernelBackend): HostBackend {
  const heap = backend as unknown as {
    makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
    typedArrayFromHeap(t: TensorInfo): Float32Array;
  };
  return {
    outputs: (shape) => {
      // Allocate all three first: growing the heap detaches views taken before.
      const infos = [0, 1, 2].map(() => heap.makeOutput(shape, 'float32'));
      return { infos, views: infos.map((t) => heap.typedArrayFromHeap(t)) };
    },
    view: (t) => heap.typedArrayFromHeap(t),
  };
}

function cpuHost(backend: KernelBackend): HostBackend {
  const cpu = backend as unknown as {
    makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  };
  return {
    outputs: (shape) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const views = [0, 1, 2].map(() => new Float32Array(size));
      return { infos: views.map((values) => cpu.makeTensorInfo(shape, 'float32', values)), views };
    },
    view: (t) => backend.readSync(t.dataId) as Float32Array,
  };
}

const HOSTS: Record<string, (backend: KernelBackend) => HostBackend> = { wasm: wasmHost, cpu: cpuHost };

/** Register the fused update for a backend that keeps values in host memory; false if it cannot or already has. */
export function registerFusedAdam(backendName: string): boolean {
  const host = HOSTS[backendName];
  if (!host || tf.getKernel(FUSED_ADAM, backendName)) return false;
  tf.registerKernel({
    kernelName: FUSED_ADAM,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { variable, m, v, grad } = inputs as Record<'variable' | 'm' | 'v' | 'grad', TensorInfo>;
      for (const t of [variable, m, v, grad])
        if (t.dtype !== 'float32' || t.shape.join() !== variable.shape.join())
          throw new Error(`${FUSED_ADAM}: every input must be float32 of shape [${variable.shape.join(', ')}]`);
      const on = host(backend as KernelBackend);
      const { infos, views } = on.outputs(variable.shape);
      const [w2, m2, v2] = views as [Float32Array, Float32Array, Float32Array];
      adamUpdate(
        { w: on.view(variable), m: on.view(m), v: on.view(v), grad: on.view(grad) },
        { w: w2, m: m2, v: v2 },
        attrs as unknown as AdamStep,
      );
      return infos;
    },
  });
  return true;
}

/** The update through the fused kernel where the current backend has it: [w', m', v']; null where it has not. */
export function fusedAdam(
  tensors: { variable: tf.Tensor; m: tf.Tensor; v: tf.Tensor; grad: tf.Tensor },
  step: AdamStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!tf.getKernel(FUSED_ADAM, tf.getBackend())) return null;
  return tf
    .engine()
    .runKernel(FUSED_ADAM, tensors as unknown as tf.NamedTensorMap, step as unknown as NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}
