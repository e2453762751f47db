/**
 * A model worker thread: its own onnxruntime (and, for the independent identity net, tfjs) instance, loading models
 * as asked and answering requests one at a time, in order. Frames arrive as views of SharedArrayBuffers (decode.ts
 * allocates them so), so no frame is copied between threads. Started by workers.ts.
 */
import { parentPort } from 'node:worker_threads';
import { toErrorInfo } from '../../../src-shared/contract/errors.js';
import type { Affine, Box } from '../../../src-shared/math/geometry.js';
import { ALIGNED_SIZE, alignFace } from '../align/aligned-face.js';
import { FaceDetector } from '../detect/detector.js';
import type { Frame } from '../detect/types.js';
import { FaceNets } from '../landmarks/face-nets.js';
import type { IdentityNet } from '../landmarks/identity-net.js';
import type { BuiltGenerator, Generator } from '../model/generator.js';
import type { DecoderSide } from '../model/networks.js';
import type { ComparisonJob } from '../metrics/frame-comparison.js';
import { threadCpuMs } from './stages.js';
import { flatPoints, pointsOf, type WorkerRequest, type WorkerResponse } from './rpc.js';

let detector: Promise<FaceDetector> | null = null;
let nets: Promise<FaceNets> | null = null;
let identity: Promise<IdentityNet> | null = null;
let generator: Promise<Generator> | null = null;
/** Which model file (workers.ts generatorKeyOf) the generator came from: a kept pool's next job may bring another. */
let generatorKey: string | null = null;

const frameOf = (f: Frame): Frame => ({ rgb: f.rgb, width: f.width, height: f.height });

type Handler = (args: never) => Promise<{ result: unknown; transfer?: ArrayBuffer[] }>;

const handlers: Record<string, Handler> = {
  async init(args: {
    detector?: string;
    nets?: boolean;
    recognition?: boolean;
    identity?: boolean;
    generator?: string;
    direction?: 'AtoB' | 'BtoA';
    /** Answer with the decoder's graph as built here, in shared memory, for the pool's other workers. */
    shareGenerator?: boolean;
    /** Start the generator from a graph another worker built. */
    builtGenerator?: BuiltGenerator;
    /** The generator's model file as it is now (workers.ts generatorKeyOf): a different key replaces the generator. */
    generatorKey?: string;
  }) {
    if (args.detector) detector ??= FaceDetector.load(args.detector);
    if (args.nets || args.recognition) nets ??= FaceNets.load();
    // The recognition net loads in the background: the first new face waits for it, the rest need not.
    if (args.recognition) void nets?.then((n) => n.recognitionSession()).catch(() => undefined);
    // Imported on demand: the identity net brings tfjs, which face finding does not need.
    if (args.identity) identity ??= import('../landmarks/identity-net.js').then((m) => m.IdentityNet.load());
    if ((args.builtGenerator || args.generator) && args.generatorKey !== generatorKey) {
      const previous = generator;
      generator = null;
      generatorKey = args.generatorKey ?? null;
      await previous?.then((g) => g.dispose()).catch(() => undefined);
    }
    if (args.builtGenerator) {
      const built = args.builtGenerator;
      generator ??= import('../model/generator.js').then((m) => m.Generator.fromBuilt(built));
    } else if (args.generator) {
      const { generator: file, direction = null } = args;
      generator ??= import('../model/generator.js').then((m) => m.Generator.load(file, direction));
    }
    // A generator that failed to load is forgotten, so that a kept pool's next job tries again.
    const loading = generator;
    loading?.catch(() => {
      if (generator !== loading) return;
      generator = null;
      generatorKey = null;
    });
    const loaded = await Promise.all([detector, nets, identity, generator]);
    const d = loaded[0] as FaceDetector | null;
    const g = loaded[3] as Generator | null;
    // The built graph moves to the pool (transferred, not copied: ~30 MB of fresh pages cost a copy ~0.1-0.3 s);
    // this worker's session has its own copy of the bytes.
    let shared: BuiltGenerator | null = null;
    if (g && args.shareGenerator && args.direction) {
      const built = g.built(g.decoderFor(args.direction));
      if (built) shared = { ...built, graph: wholeBuffer(built.graph) };
      g.forgetGraphs();
    }
    return {
      transfer: shared ? [shared.graph.buffer as ArrayBuffer] : [],
      result: {
        detector: d
          ? { name: d.plugin.name, inputSize: d.plugin.inputSize, minFaceInput: d.plugin.minFaceInput }
          : null,
        generator: g ? { arch: g.arch, decoders: { AtoB: g.decoderFor('AtoB'), BtoA: g.decoderFor('BtoA') } } : null,
        shared,
      },
    };
  },

  async detect(args: { frame: Frame; regions: Box[]; threshold: number }) {
    const d = await need(detector, 'detector');
    return { result: await d.plugin.detect(frameOf(args.frame), args.regions, args.threshold) };
  },

  async landmarks(args: { frame: Frame; boxes: Box[] }) {
    const n = await need(nets, 'nets');
    const { rgb, width, height } = args.frame;
    const points = await n.landmarksOf(rgb, width, height, args.boxes);
    const flat = points.map(flatPoints);
    return { result: flat, transfer: flat.map((f) => f.buffer as ArrayBuffer) };
  },

  async refine(args: { frame: Frame; predicted: Float64Array[]; detected?: Box[] }) {
    const n = await need(nets, 'nets');
    const { rgb, width, height } = args.frame;
    const fits = await n.refine(rgb, width, height, args.predicted.map(pointsOf), args.detected);
    const flat = fits.map((f) => flatPoints(f.points));
    return {
      result: fits.map((f, i) => ({ points: flat[i], passes: f.passes })),
      transfer: flat.map((f) => f.buffer as ArrayBuffer),
    };
  },

  async descriptors(args: { frame: Frame; alignments: Affine[]; cropSize: number }) {
    const n = await need(nets, 'nets');
    const { rgb, width, height } = args.frame;
    return { result: await n.descriptors(rgb, width, height, args.alignments, args.cropSize) };
  },

  /** Alignment, and the aligned-crop check when a detector is loaded. */
  async align(args: { frame: Frame; landmarks: Float64Array }) {
    const { rgb, width, height } = args.frame;
    const aligned = alignFace(rgb, width, height, pointsOf(args.landmarks));
    const d = detector ? await detector : null;
    const confirmed = d ? await d.confirmsAligned(aligned.crop, ALIGNED_SIZE) : null;
    return { result: { ...aligned, confirmed }, transfer: [aligned.crop.buffer as ArrayBuffer] };
  },

  async identity(args: { frame: Frame; landmarks: Float64Array }) {
    const net = await need(identity, 'identity');
    const { rgb, width, height } = args.frame;
    return { result: await net.descriptor(rgb, width, height, pointsOf(args.landmarks)) };
  },

  async compare(args: ComparisonJob) {
    // Imported on demand: only the conversion's last pass compares frames.
    const { compareFrame } = await import('../metrics/frame-comparison.js');
    return { result: compareFrame(args) };
  },

  async generate(args: { side: DecoderSide; faces: Float32Array; count: number }) {
    const g = await need(generator, 'generator');
    const out = await g.run(args.side, args.faces, args.count);
    // Outputs may be views of one buffer: copy each so both can be transferred.
    const alpha = Float32Array.from(out.alpha);
    const color = Float32Array.from(out.color);
    return { result: { alpha, color }, transfer: [alpha.buffer, color.buffer] };
  },
};

/** These bytes over a buffer of their own, to transfer (a copy where the view is part of a larger buffer). */
function wholeBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

async function need<T>(model: Promise<T> | null, name: string): Promise<T> {
  if (!model) throw new Error(`the model worker was asked to use ${name} before loading it`);
  return model;
}

const port = parentPort;
if (!port) throw new Error('model-worker.js runs as a worker thread (pipeline/workers.ts starts it)');
/**
 * Requests run one after another, in arrival order: handlers keep per-model buffers (the detector's input) across
 * an await (onnxruntime's run yields before it computes), so two interleaved requests would overwrite each other's.
 */
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  // A clean exit (rather than terminate()) lets --cpu-prof write this thread's profile.
  if (request.method === 'exit') process.exit(0);
  queue = queue.then(async () => {
    const start = threadCpuMs();
    let response: WorkerResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      const handler = handlers[request.method];
      if (!handler) throw new Error(`unknown model worker method ${request.method}`);
      const out = await handler(request.args as never);
      transfer = out.transfer ?? [];
      response = { id: request.id, ok: true, result: out.result, cpuMs: threadCpuMs() - start };
    } catch (error) {
      response = { id: request.id, ok: false, error: toErrorInfo(error), cpuMs: threadCpuMs() - start };
    }
    port.postMessage(response, transfer);
  });
});
