/* Training-step benchmark on whatever backend the chain picks (WebGPU on a GPU box): ms/iteration for 64 px lite and standard, batch 8, synthetic faces. */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src-main/engine/backend/select.js';
import { archFromSettings } from '../src-main/engine/model/config.js';
import { drawIteration } from '../src-main/engine/train/batch.js';
import { FaceSet } from '../src-main/engine/train/dataset.js';
import { Trainer } from '../src-main/engine/train/trainer.js';
import type { Sample } from '../src-main/engine/train/augment.js';

const out = (o: unknown): void => console.log(JSON.stringify(o));

function faces(seed: number): Sample[] {
  const list: Sample[] = [];
  for (let k = 0; k < 12; k += 1) {
    const rgb = new Uint8Array(256 * 256 * 3);
    const eyes = new Uint8Array(256 * 256);
    for (let y = 0; y < 256; y += 1)
      for (let x = 0; x < 256; x += 1) {
        const i = (y * 256 + x) * 3;
        const d = Math.hypot(x - 128, y - 128) / 90;
        rgb[i] = d < 1 ? 180 + 20 * Math.sin(x / 9 + k + seed) : 40;
        rgb[i + 1] = d < 1 ? 140 + 20 * Math.cos(y / 11 + k) : 50;
        rgb[i + 2] = d < 1 ? 120 : 60 + seed * 20;
        if (y > 100 && y < 118 && ((x > 80 && x < 115) || (x > 141 && x < 176))) {
          eyes[y * 256 + x] = 255;
          rgb[i] = 30;
          rgb[i + 1] = 30;
          rgb[i + 2] = 30;
        }
      }
    list.push({ rgb, eyes });
  }
  return list;
}

async function convCheck(): Promise<number> {
  const x = tf.randomNormal([2, 16, 16, 4], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 2);
  const f = (xi: tf.Tensor, wi: tf.Tensor): tf.Scalar =>
    tf.sum(tf.square(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, 'same')));
  const gpu = await tf.grads(f)([x, w])[1]!.data();
  const prev = tf.getBackend();
  const xs = await x.data();
  const ws = await w.data();
  await tf.setBackend('cpu');
  const cpu = await tf
    .grads(f)([tf.tensor(xs, [2, 16, 16, 4]), tf.tensor(ws, [3, 3, 4, 5])])[1]!
    .data();
  await tf.setBackend(prev);
  let num = 0;
  let den = 0;
  for (let i = 0; i < cpu.length; i += 1) {
    num += ((gpu[i] as number) - (cpu[i] as number)) ** 2;
    den += (cpu[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}

const report = await selectBackend('auto');
out({ backend: report });
out({
  kernels: {
    Conv2DBackpropFilter: Boolean(tf.getKernel('Conv2DBackpropFilter', tf.getBackend())),
    Conv2DBackpropInput: Boolean(tf.getKernel('Conv2DBackpropInput', tf.getBackend())),
  },
});
out({ convFilterGradRelErrVsCpu: await convCheck() });
if (process.env.ONLY_PROBE) process.exit(0);
const set = new FaceSet({ a: faces(0), b: faces(1) });
const iters = Number(process.env.ITERS ?? 5);
// Lite and standard with self-attention at batch 8 and 32 (WebGPU is dispatch-bound: kernels per iteration
// matter more than batch), upstream's default norm; then the peer-like norm for the parameter comparison.
// RUNS=0 skips the timed runs (a rerun of the loss check alone inside one device call's time).
for (const [capacity, batch, norm] of process.env.RUNS === '0'
  ? []
  : ([
      ['lite', 8, 'instancenorm'],
      ['lite', 32, 'instancenorm'],
      ['standard', 8, 'instancenorm'],
      ['standard', 32, 'instancenorm'],
      ['lite', 8, 'layernorm'],
    ] as const)) {
  const arch = archFromSettings({ resolution: 64, capacity, useSelfAttention: true, norm });
  const trainer = new Trainer({ arch, batchSize: batch, totalIterations: 20000, seed: 1, learningRateFactor: 1 });
  const batches = Array.from({ length: iters + 3 }, () =>
    drawIteration(set.faces, { count: batch, size: 64 }, trainer.dataRng),
  );
  let t0 = performance.now();
  const warm = [await trainer.stepBatches(batches[0]!), await trainer.stepBatches(batches[1]!)];
  const warmMs = performance.now() - t0;
  const kernels = (await tf.profile(() => trainer.stepBatches(batches[2]!))).kernels.length;
  const tensors = tf.memory().numTensors;
  t0 = performance.now();
  let last = warm[1]!;
  for (let i = 3; i < iters + 3; i += 1) last = await trainer.stepBatches(batches[i]!);
  const ms = (performance.now() - t0) / iters;
  out({
    run: { capacity, selfAttention: true, norm, resolution: 64, batch },
    params: trainer.weights.count('enc/') + trainer.weights.count('decA/') + trainer.weights.count('disA/'),
    msPerIteration: Math.round(ms),
    kernelsPerIteration: kernels,
    warmupMs: Math.round(warmMs),
    tensorsFlat: tf.memory().numTensors === tensors,
    losses: last,
  });
  trainer.dispose();
}
// Does the loss fall on the GPU? 200 iterations of the lite model with self-attention, batch 8.
{
  const arch = archFromSettings({ resolution: 64, capacity: 'lite', useSelfAttention: true, norm: 'instancenorm' });
  const trainer = new Trainer({ arch, batchSize: 8, totalIterations: 20000, seed: 2, learningRateFactor: 1 });
  const hist: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < Number(process.env.LOSS_ITERS ?? 200); i += 1)
    hist.push((await trainer.step(set)).GA_recon ?? NaN);
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
  out({
    lossFalls: { iterations: hist.length, first10: mean(hist.slice(0, 10)), last10: mean(hist.slice(-10)) },
    msPerIteration: Math.round((performance.now() - t0) / hist.length),
  });
}
