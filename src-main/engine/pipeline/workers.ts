/**
 * Model workers, the engine's side: each is a worker thread with its own onnxruntime/tfjs instance (model-worker.ts)
 * that answers in order; a pool spreads a frame's independent pieces (tiles, faces) over its workers, so detection,
 * landmarks, identity and generation use both cores while the main thread decodes, blends, encodes and commits.
 * Results do not depend on which worker computed them (the same models, single-threaded kernels), so runs stay
 * deterministic.
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import type { Affine, Box, Point } from '../../../src-shared/math/geometry.js';
import type { AlignedFace } from '../align/aligned-face.js';
import type { Detection, Detector, Frame } from '../detect/types.js';
import type { LandmarkFit } from '../landmarks/face-nets.js';
import type { ArchConfig } from '../model/config.js';
import type { BuiltGenerator, FaceGenerator } from '../model/generator.js';
import type { DecoderSide } from '../model/networks.js';
import type { ComparisonJob, FrameComparison } from '../metrics/frame-comparison.js';
import { flatPoints, pointsOf, type WorkerRequest, type WorkerResponse } from './rpc.js';
import type { Stage, StageClock } from './stages.js';
import { fileIdentity } from '../io/file-identity.js';
import { startWorker } from '../io/worker-entry.js';

/**
 * A frame's Buffer as a plain Uint8Array over the same (shared) memory: Node serialises a Buffer the slow way
 * (about a millisecond a message), a Uint8Array over a SharedArrayBuffer in microseconds.
 */
function withPlainViews(args: unknown): unknown {
  if (!args || typeof args !== 'object' || !('frame' in args)) return args;
  const { frame } = args as { frame: Frame };
  if (!Buffer.isBuffer(frame.rgb)) return args;
  const rgb = new Uint8Array(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength);
  return { ...args, frame: { rgb, width: frame.width, height: frame.height } };
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  stage: Stage | null;
  /** A model load ('init'): it holds the worker for up to seconds. */
  loading: boolean;
}

/**
 * What a load in a worker's queue weighs in the choice of the least busy worker: more than any queue of frame
 * requests, so that a frame's models go to a worker that answers now rather than after a load of a second or two.
 */
const LOADING_WEIGHT = 1000;

export class ModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  /** Loads sent and not yet answered. */
  private loads = 0;
  private readonly ended: Promise<void>;
  private exited = false;

  constructor(private clock: StageClock | null) {
    this.worker = startWorker(import.meta.url, 'model-worker');
    this.worker.on('message', (response: WorkerResponse) => {
      const waiting = this.pending.get(response.id);
      if (!waiting) return;
      this.pending.delete(response.id);
      if (waiting.loading) this.loads -= 1;
      if (waiting.stage) this.clock?.add(waiting.stage, response.cpuMs);
      if (response.ok) waiting.resolve(response.result);
      else waiting.reject(StudioError.fromInfo(response.error));
    });
    const fail = (error: Error): void => {
      this.failure = new StudioError(ErrorCode.internal, `a model worker stopped: ${error.message}`, {
        fix: 'try again; if it keeps failing, reinstall FaceParts Studio',
      });
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
      this.loads = 0;
    };
    this.worker.on('error', fail);
    this.ended = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        this.exited = true;
        if (this.pending.size > 0) fail(new Error(`exit code ${code}`));
        resolve();
      }),
    );
  }

  /** Requests sent and not yet answered, a load among them weighing LOADING_WEIGHT. */
  get load(): number {
    return this.pending.size + this.loads * (LOADING_WEIGHT - 1);
  }

  /** Whether a model load is in this worker's queue. */
  get loading(): boolean {
    return this.loads > 0;
  }

  call<T>(method: string, args: unknown, stage: Stage | null = null, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const loading = method === 'init';
      if (loading) this.loads += 1;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, stage, loading });
      const request: WorkerRequest = { id, method, args: withPlainViews(args) };
      this.worker.postMessage(request, transfer);
    });
  }

  /** Whether the worker thread still runs. */
  get running(): boolean {
    return !this.exited;
  }

  /** Whether the worker runs and has nothing in flight: it can be kept for another job. */
  get idleAndWell(): boolean {
    return !this.exited && this.failure === null && this.pending.size === 0;
  }

  /** Another job's clock, for a kept worker; `hold` false lets the process exit while the worker waits. */
  reuse(clock: StageClock | null, hold: boolean): void {
    this.clock = clock;
    if (hold) this.worker.ref();
    else this.worker.unref();
  }

  /** Ask the worker to exit (so a profiler can write its profile), and make sure it does. */
  async terminate(): Promise<void> {
    this.worker.postMessage({ id: 0, method: 'exit', args: null } satisfies WorkerRequest);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.ended;
    clearTimeout(timer);
  }
}

/** What a pool's workers load. */
export interface PoolModels {
  detector?: string;
  /** The landmark net (and the recognition net, in the first worker). */
  nets?: boolean;
  /** face-api's recognition net (loaded in the background). */
  recognition?: boolean;
  /** The independent identity net (FaceRes). */
  identity?: boolean;
  generator?: string;
  /** The conversion's direction: only the decoder it draws with is loaded (the other is built if ever asked). */
  direction?: 'AtoB' | 'BtoA';
}

interface Loaded {
  detector: { name: string; inputSize: number; minFaceInput: number } | null;
  generator: { arch: ArchConfig; decoders: Record<'AtoB' | 'BtoA', DecoderSide> } | null;
  /** The generator's graph as the worker built it, when asked to share it. */
  shared: BuiltGenerator | null;
}

/** Split items into up to `parts` contiguous runs (order kept), for spreading one request over workers. */
function split<T>(items: readonly T[], parts: number): T[][] {
  const n = Math.min(parts, items.length);
  const out: T[][] = [];
  for (let i = 0; i < n; i += 1)
    out.push(items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)));
  return out;
}

const poolListeners = new Set<(line: string) => void>();
let poolAnnounced = false;

/**
 * Hear, once per process, the compute line of the first model pool: extraction and conversion run their nets on
 * onnxruntime's CPU kernels in the pool's threads, whatever tfjs backend training chose (the host prints it as the
 * command's compute line).
 */
export function onModelPoolStarted(listener: (line: string) => void): () => void {
  poolListeners.add(listener);
  return () => poolListeners.delete(listener);
}

function announcePool(threads: number): void {
  if (poolAnnounced) return;
  poolAnnounced = true;
  const line = `compute: CPU (onnxruntime), ${threads} model threads for face detection, landmarks, identity and the swap`;
  for (const listener of poolListeners) listener(line);
}

/** Model workers a job starts: one a core, at least two (the pipeline overlaps two), at most MAX_MODEL_WORKERS. */
export const MAX_MODEL_WORKERS = 8;
export function modelWorkerCount(cores = os.availableParallelism()): number {
  return Math.max(2, Math.min(MAX_MODEL_WORKERS, cores));
}

/**
 * How long a long-lived engine (the desktop app's, serve's, a CLI command's) keeps an idle pool's models loaded for
 * its next job; 0: pools close when their job ends. Starting a pool costs a conversion ~1.3 s of its ~9 s on the
 * sample clip (workers, sessions, the generator's build), and a studio user exports again after a change of
 * settings; the kept workers hold ~230 MB with a 64 px model (the engine's RSS after a conversion of the sample
 * clip: 682 MB with them, 457 MB once they closed), so not for long.
 */
let keepIdleMs = 0;
/** An engine process's keeping time: two minutes, about as long as a look at an export and a change of settings. */
export const KEPT_MODELS_IDLE_MS = 120_000;
/** The one pool kept between jobs, what it was started with, and when it closes. */
let kept: { key: string; pool: ModelPool; timer: NodeJS.Timeout } | null = null;

/** Keep a finished job's pool for the next job for `idleMs` (engine processes); 0 closes pools as their jobs end. */
export function keepModelPools(idleMs: number): void {
  keepIdleMs = idleMs;
  if (idleMs <= 0) void closeKeptModelPool();
}

/** Close the kept pool now (a job that needs the memory, such as training, starts). */
export async function closeKeptModelPool(): Promise<void> {
  const k = kept;
  kept = null;
  if (!k) return;
  clearTimeout(k.timer);
  await k.pool.close();
}

/**
 * What identifies a generator file's contents for a kept worker: path, inode (training replaces the file by a
 * rename), size, modification time, and the direction (a worker loads one decoder).
 */
export function generatorKeyOf(file: string, direction: 'AtoB' | 'BtoA'): string {
  return `${fileIdentity(file)}|${direction}`;
}

export class ModelPool {
  /** Whether this pool was kept from an earlier job (its models loaded then). */
  reused = false;
  /** What it was started with, for keeping it (null: started with start(), closed by its job). */
  private keepKey: string | null = null;
  /** The model file the last built generator graph came from (generatorKeyOf), for the workers started from it. */
  private builtKey: string | undefined;

  private constructor(
    readonly workers: ModelWorker[],
    private readonly loaded: Loaded,
    /** The worker that holds face-api's recognition net (identity samples are rare: one is enough). */
    private readonly recognitionOn: number,
  ) {}

  /**
   * A pool for a job: the kept one when it was started with the same workers and models (keepModelPools), else a
   * new one (the kept one closed first: one pool's models in memory at a time). Give it back with release().
   */
  static async acquire(
    count: number,
    models: PoolModels,
    clock: StageClock | null = null,
    recognitionOn = 0,
  ): Promise<ModelPool> {
    const key = JSON.stringify({ count, models, recognitionOn });
    const k = kept;
    if (k && k.key === key && k.pool.workers.every((w) => w.idleAndWell)) {
      kept = null;
      clearTimeout(k.timer);
      for (const w of k.pool.workers) w.reuse(clock, true);
      k.pool.reused = true;
      return k.pool;
    }
    await closeKeptModelPool();
    const pool = await ModelPool.start(count, models, clock, recognitionOn);
    pool.keepKey = key;
    return pool;
  }

  /**
   * The job is done with the pool: kept for the next job (keepModelPools) when its job `completed` and every worker
   * is idle and well, else closed.
   */
  async release(completed: boolean): Promise<void> {
    const key = this.keepKey;
    if (keepIdleMs <= 0 || key === null || !completed || !this.workers.every((w) => w.idleAndWell)) {
      await this.close();
      return;
    }
    await closeKeptModelPool();
    for (const w of this.workers) w.reuse(null, false);
    const timer = setTimeout(() => void closeKeptModelPool(), keepIdleMs);
    timer.unref();
    kept = { key, pool: this, timer };
  }

  /**
   * Start `count` workers that each load `models` (in parallel); with the landmark net, worker `recognitionOn` also
   * loads the recognition net.
   */
  static async start(
    count: number,
    models: PoolModels,
    clock: StageClock | null = null,
    recognitionOn = 0,
  ): Promise<ModelPool> {
    const workers = Array.from({ length: count }, () => new ModelWorker(clock));
    const on = Math.min(recognitionOn, count - 1);
    try {
      const loaded = await Promise.all(
        workers.map((w, i) =>
          w.call<Loaded>('init', { ...models, recognition: i === on && models.nets === true }, 'load'),
        ),
      );
      announcePool(count);
      return new ModelPool(workers, loaded[0] as Loaded, on);
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
  }

  /** Load more models into one worker (e.g. the generator into the first, the identity nets into the second). */
  async loadOn(index: number, models: PoolModels): Promise<void> {
    const loaded = await this.worker(index).call<Loaded>('init', models, 'load');
    if (loaded.generator) this.loaded.generator = loaded.generator;
  }

  /**
   * The generator file into worker `index` for the conversion's direction, the decoder's graph built there (the
   * costly part: ~0.5 s for a 64 px lite model). `share`: return the graph, to start other workers from its bytes
   * (startGenerator).
   */
  async buildGenerator(
    index: number,
    file: string,
    direction: 'AtoB' | 'BtoA',
    share: boolean,
  ): Promise<BuiltGenerator | null> {
    this.builtKey = generatorKeyOf(file, direction);
    const loaded = await this.worker(index).call<Loaded>(
      'init',
      { generator: file, direction, shareGenerator: share, generatorKey: this.builtKey },
      'load',
    );
    if (loaded.generator) this.loaded.generator = loaded.generator;
    return loaded.shared;
  }

  /**
   * The generator into the workers `indices`: a session from a graph built elsewhere, else built from the file.
   * `built`'s bytes move to the workers: it cannot be used again.
   */
  async startGenerator(
    indices: readonly number[],
    built: BuiltGenerator | null,
    file: string,
    direction: 'AtoB' | 'BtoA',
  ): Promise<void> {
    // The graph moves to the first worker (transferred: a copy of ~30 MB costs ~0.1-0.3 s of fresh pages); any
    // further worker gets a copy, made before the move.
    const graphs = built ? indices.map((_, n) => (n === 0 ? built.graph : built.graph.slice())) : [];
    await Promise.all(
      indices.map((i, n) => {
        const graph = graphs[n];
        return this.worker(i).call<Loaded>(
          'init',
          built && graph
            ? { builtGenerator: { ...built, graph }, generatorKey: this.builtKey }
            : { generator: file, direction, generatorKey: generatorKeyOf(file, direction) },
          'load',
          graph ? [graph.buffer as ArrayBuffer] : [],
        );
      }),
    );
  }

  /** A worker by index (the last one when there are fewer). */
  worker(index: number): ModelWorker {
    return this.workers[Math.min(index, this.workers.length - 1)] as ModelWorker;
  }

  /** The least busy worker (the first among equals). */
  private idle(): ModelWorker {
    return this.workers.reduce((best, w) => (w.load < best.load ? w : best));
  }

  /** Run pieces of one request on different workers; results in the pieces' order. */
  private async spread<T, R>(
    items: readonly T[],
    call: (worker: ModelWorker, part: T[]) => Promise<R[]>,
  ): Promise<R[]> {
    if (items.length === 0) return [];
    // A worker loading a model would hold its piece back by the load's length.
    const answering = this.workers.filter((w) => !w.loading);
    const order = (answering.length > 0 ? answering : [...this.workers]).sort((a, b) => a.load - b.load);
    const parts = split(items, order.length);
    const results = await Promise.all(parts.map((part, i) => call(order[i] as ModelWorker, part)));
    return results.flat();
  }

  /** The workers' detector as a Detector whose regions are spread over the pool. */
  detector(): Detector {
    const info = this.loaded.detector;
    if (!info) throw new Error('the pool has no detector loaded');
    return {
      name: info.name,
      inputSize: info.inputSize,
      minFaceInput: info.minFaceInput,
      detect: (frame: Frame, regions: readonly Box[], threshold: number) =>
        this.spread(regions, (w, part) =>
          w.call<Detection[][]>('detect', { frame, regions: part, threshold }, 'detect'),
        ),
      dispose: () => Promise.resolve(),
    };
  }

  async landmarks(frame: Frame, boxes: readonly Box[], stage: Stage = 'landmarks'): Promise<Point[][]> {
    const flat = await this.spread(boxes, (w, part) =>
      w.call<Float64Array[]>('landmarks', { frame, boxes: part }, stage),
    );
    return flat.map(pointsOf);
  }

  async refine(
    frame: Frame,
    predicted: ReadonlyArray<readonly Point[]>,
    detected?: readonly Box[],
  ): Promise<LandmarkFit[]> {
    const faces = predicted.map((points, i) => ({ points, box: detected?.[i] }));
    const fits = await this.spread(faces, (w, part) =>
      w.call<Array<{ points: Float64Array; passes: number }>>(
        'refine',
        {
          frame,
          predicted: part.map((f) => flatPoints(f.points)),
          detected: detected ? part.map((f) => f.box as Box) : undefined,
        },
        'landmarks',
      ),
    );
    return fits.map((f) => ({ points: pointsOf(f.points), passes: f.passes }));
  }

  /** Identity descriptors, on the worker that holds the recognition net. */
  descriptors(
    frame: Frame,
    alignments: readonly Affine[],
    cropSize: number,
    stage: Stage = 'identity',
  ): Promise<Float32Array[]> {
    if (alignments.length === 0) return Promise.resolve([]);
    return this.worker(this.recognitionOn).call<Float32Array[]>('descriptors', { frame, alignments, cropSize }, stage);
  }

  /** Alignment and its aligned-crop check (`confirmed`: the detector finds the face in the crop). */
  align(frame: Frame, landmarks: readonly Point[]): Promise<AlignedFace & { confirmed: boolean }> {
    return this.idle().call<AlignedFace & { confirmed: boolean }>(
      'align',
      { frame, landmarks: flatPoints(landmarks) },
      'align/mask',
    );
  }

  /** The independent identity net (FaceRes) on one face. */
  identity(frame: Frame, landmarks: readonly Point[], stage: Stage = 'metrics'): Promise<Float32Array> {
    return this.idle().call<Float32Array>('identity', { frame, landmarks: flatPoints(landmarks) }, stage);
  }

  /** Pixels an export changed outside the swap's region, for one frame (pairs of frames in shared memory). */
  compare(job: ComparisonJob): Promise<FrameComparison> {
    const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return this.idle().call<FrameComparison>(
      'compare',
      { ...job, source: plain(job.source), encoded: plain(job.encoded) },
      'metrics',
    );
  }

  /**
   * The generator loaded on the workers `indices`, as one FaceGenerator: each batch goes to the least busy of them
   * (the same model and kernels everywhere, so which one runs a batch does not change its faces).
   */
  generator(indices: readonly number[] = [0]): FaceGenerator & { arch: ArchConfig } {
    const info = this.loaded.generator;
    if (!info) throw new Error('the pool has no generator loaded');
    const holders = [...new Set(indices.map((i) => this.worker(i)))];
    return {
      arch: info.arch,
      decoderFor: (direction) => info.decoders[direction],
      run: (side: DecoderSide, faces: Float32Array, count: number) =>
        holders
          .reduce((best, w) => (w.load < best.load ? w : best))
          .call<{ alpha: Float32Array; color: Float32Array }>('generate', { side, faces, count }, 'generate'),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
