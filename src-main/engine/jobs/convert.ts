import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import {
  ConverterConfig,
  ErrorCode,
  StudioError,
  parseOrThrow,
  type Side,
} from '../../../src-shared/contract/index.js';
import type { ConvertJobSpec } from '../../../src-shared/contract/jobs.js';
import type { Affine, Box, Point } from '../../../src-shared/math/geometry.js';
import { VideoWriter } from '../media/encoder.js';
import {
  blendRegion,
  finishSwap,
  patchTransform,
  prepareSwap,
  type MaskOverride,
  type PreparedSwap,
} from '../convert/frame.js';
import {
  jitter,
  placementJitter,
  smoothBoxes,
  smoothPlacements,
  type SmoothingOptions,
} from '../../../src-shared/math/smoothing.js';
import { FaceDetector } from '../detect/detector.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { studioVersion } from '../io/version.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { IdentityNet } from '../landmarks/identity-net.js';
import { FramePool, decodeFrames, prepareDecoders } from '../media/decode.js';
import { probeSource, type ProbedSource } from '../media/probe.js';
import { exportTiming, probeTiming, type SourceTiming } from '../media/timing.js';
import { labelPlacement, renderLabel, stampLabel } from '../convert/label.js';
import { trackPerson } from '../convert/tracking-pass.js';
import { CHUNK_FOLLOWERS } from '../track/follow-chunks.js';
import { MaskStore } from '../masks/edits.js';
import {
  ConversionMetrics,
  independentReference,
  type MetricModels,
  type References,
} from '../metrics/conversion-metrics.js';
import type { Placement } from '../metrics/frame-comparison.js';
import {
  LIVE_CHECK_FRAMES,
  LiveExportCheck,
  liveCheckFits,
  measureOutsideMask,
  type ComparisonSetup,
} from '../metrics/outside-mask.js';
import { Generator } from '../model/generator.js';
import { readAhead } from '../pipeline/queue.js';
import { flatPoints, pointsOf } from '../pipeline/rpc.js';
import { StageClock, childStage, pipelineReport, processCpuMs } from '../pipeline/stages.js';
import { ModelPool, modelWorkerCount } from '../pipeline/workers.js';
import { FacesRepo } from '../project/faces-repo.js';
import { GENERATOR_FILE, type ProjectStore } from '../project/store.js';
import { readTracking, trackingKey, writeTracking } from '../project/tracking-cache.js';
import { pooledModels } from '../track/follow.js';
import type { JobContext } from './context.js';

type ConvertSpec = z.output<typeof ConvertJobSpec>;

/** The model worker that holds the identity nets (tracking's and the quality samples'); it generates faces too. */
const MEASURING_WORKER = 1;
/** Faces a generator call takes (consecutive swapped frames; fixed groups, so results do not depend on timing). */
const BATCH = 4;
/** Frames between decoding and encoding at most: a bounded queue, so memory stays flat over long videos. */
const WINDOW = 12;
/** Decoded frames waiting ahead of the swap pass. */
const READ_AHEAD = 4;

/** The identity to follow in the input: the person of the source side (A for AtoB), from extraction. */
function referenceDescriptor(store: ProjectStore, side: Side): number[] | null {
  const chosen = new FacesRepo(store.db).trackDescriptors(side, true)[0];
  return chosen ? Array.from(chosen.descriptor) : null;
}

/** The side whose person is in the input (A for AtoB). */
const sourceSideOf = (config: ConverterConfig): Side => (config.direction === 'AtoB' ? 'a' : 'b');

/** For identity metrics: the person the face should become and the person it was, for both recognition nets. */
async function identityReferences(
  store: ProjectStore,
  sourceSide: Side,
  identity: MetricModels['identity'],
): Promise<References> {
  const targetSide: Side = sourceSide === 'a' ? 'b' : 'a';
  const [target, source] = await Promise.all([
    independentReference(store, targetSide, identity),
    independentReference(store, sourceSide, identity),
  ]);
  return {
    faceApi: { target: referenceDescriptor(store, targetSide), source: referenceDescriptor(store, sourceSide) },
    independent: { target, source },
  };
}

/**
 * Hand-edited masks belong to the frames of the project's own video of the source side: honoured when that
 * video is the one converted (frame numbers match), and not applied to any other input.
 */
async function maskOverrides(store: ProjectStore, input: string, sourceSide: Side): Promise<Map<number, MaskOverride>> {
  return path.resolve(input) === path.resolve(store.project.sources[sourceSide].path)
    ? new MaskStore(store).overridesByFrame(sourceSide)
    : new Map<number, MaskOverride>();
}

/** The measuring nets on one model worker (MEASURING_WORKER). */
function pooledMetrics(pool: ModelPool, index: number): MetricModels {
  const worker = pool.worker(index);
  return {
    landmarks: async (frame, box) =>
      pointsOf(
        ((await worker.call<Float64Array[]>('landmarks', { frame, boxes: [box] }, 'metrics')) as Float64Array[])[0] ??
          new Float64Array(0),
      ),
    descriptors: (frame, alignments, size) =>
      worker.call<Float32Array[]>('descriptors', { frame, alignments, cropSize: size }, 'metrics'),
    identity: (frame, landmarks) =>
      worker.call<Float32Array>('identity', { frame, landmarks: flatPoints(landmarks) }, 'metrics'),
  };
}

/** The same nets in this thread (--metrics-only). */
async function localMetrics(): Promise<MetricModels> {
  const nets = await FaceNets.load();
  const net = await IdentityNet.load();
  return {
    landmarks: (f, box) => nets.landmarks(f.rgb, f.width, f.height, box),
    descriptors: (f, alignments, size) => nets.descriptors(f.rgb, f.width, f.height, alignments, size),
    identity: (f, landmarks) => net.descriptor(f.rgb, f.width, f.height, landmarks),
  };
}

/** A frame on its way from decoding to encoding. */
interface InFlight {
  index: number;
  source: Buffer | null;
  result: Buffer;
  placement: Placement | null;
  box: Box | null;
  override: MaskOverride | null;
  prepared: PreparedSwap | null;
  generated: Promise<{ alpha: Float32Array; color: Float32Array }> | null;
}

/** The input (probed: a video) and the output (its folder exists) of a conversion, or a clear error naming the file. */
async function inputAndOutput(spec: ConvertSpec): Promise<{ input: ProbedSource; output: string }> {
  const input = await probeSource(spec.input);
  if (input.kind !== 'video')
    throw new StudioError(ErrorCode.badMedia, `${spec.input} is not a video`, {
      file: spec.input,
      fix: 'convert a video file',
    });
  const output = path.resolve(spec.output);
  try {
    await fs.access(path.dirname(output));
  } catch {
    throw new StudioError(ErrorCode.notFound, `the output folder ${path.dirname(output)} does not exist`, {
      file: output,
      fix: 'create the folder or choose another output',
    });
  }
  return { input, output };
}

/** The project's trained generator file; said before the tracking pass (minutes on a long video) needs no model. */
async function trainedGenerator(store: ProjectStore): Promise<string> {
  const generatorFile = path.join(store.dir, GENERATOR_FILE);
  try {
    await fs.access(generatorFile);
  } catch {
    throw new StudioError(ErrorCode.notFound, `the project has no trained model yet (${generatorFile})`, {
      file: generatorFile,
      fix: 'train the project first ("faceparts train <project>")',
    });
  }
  return generatorFile;
}

/** Conversion as a job: track, smooth, swap, encode with the source audio, write metrics beside the export. */
export async function runConvert(ctx: JobContext<ConvertSpec>): Promise<Record<string, unknown>> {
  const { store, spec } = ctx;
  const config = parseOrThrow(
    ConverterConfig,
    { ...store.project.settings.converter, ...spec.config },
    ErrorCode.invalidParams,
    'params.job.config',
  );
  if (spec.metricsOnly) {
    const { input, output } = await inputAndOutput(spec);
    return measureExport(ctx, config, input, output);
  }
  const clock = new StageClock();
  const started = performance.now();
  const cpuAtStart = processCpuMs();
  const workers = modelWorkerCount();
  // The model workers start and load while the input is probed and the files are checked (ffprobe: ~0.1 s). The
  // tracking pass's identity samples and the quality samples share one recognition net (a 22 MB graph, ~0.3 s of CPU
  // a session), on the measuring worker. An engine keeps the pool of its last job a while (workers.ts): an export
  // after a change of settings starts with its models loaded, the generator too when the model is the same.
  const poolStarting = ModelPool.acquire(
    workers,
    { detector: store.project.settings.extraction.detector, nets: true },
    clock,
    MEASURING_WORKER,
  );
  poolStarting.catch(() => undefined);
  // The tracking chunks' decoders get their reader threads while the models load (the swap pass's reuse them).
  prepareDecoders(CHUNK_FOLLOWERS);
  let pool: ModelPool;
  let checked: { input: ProbedSource; output: string; generatorFile: string; timingRead: Promise<SourceTiming> };
  try {
    const { input, output } = await inputAndOutput(spec);
    // The frames' times are read (ffprobe, ~0.1 s) while the workers load.
    const timingRead = probeTiming(input.path);
    timingRead.catch(() => undefined);
    checked = { input, output, timingRead, generatorFile: await trainedGenerator(store) };
    pool = await poolStarting;
  } catch (error) {
    // The pool did no work for this job: an engine keeps it (models loaded) for the export the user tries next.
    await poolStarting.then(
      (starting) => starting.release(true),
      () => undefined,
    );
    throw error;
  }
  const { input, output, generatorFile, timingRead } = checked;
  // Every worker generates in the swap pass: the generator is most of a swapped frame's work (~20 ms a 64 px face,
  // half of it the last self-attention), and with one generating worker the other core sat half idle on stretches
  // of faces. The graph is built on a worker that does not measure (the tracking pass's identity samples would wait
  // behind the build); the measuring worker starts its session from those bytes when the swap pass begins.
  const generating = Array.from({ length: workers }, (_, i) => i);
  let completed = false;
  try {
    // The generator's graph (built on the builder), then FaceRes (on the measuring worker) load while the faces are
    // tracked, one worker at a time: a loading worker counts as busy (workers.ts), so the other answers the tracking
    // pass meanwhile. With both loading at once, the pass's first frames waited about 2 s for them.
    const sourceSide = sourceSideOf(config);
    const metricModels = pooledMetrics(pool, MEASURING_WORKER);
    const builder = generating.find((i) => i !== MEASURING_WORKER) ?? 0;
    const others = generating.filter((i) => i !== builder);
    const loaded = (async () => {
      const built = await pool.buildGenerator(builder, generatorFile, config.direction, others.length > 0);
      await pool.loadOn(MEASURING_WORKER, { identity: true });
      const references = await identityReferences(store, sourceSide, metricModels.identity);
      return { references, built };
    })();
    loaded.catch(() => undefined);
    // Frame i is the i-th frame a player shows: the container's count may include frames its edit list hides.
    const timing = await timingRead;
    const last = Math.min(input.media.frameCount, timing.framePts.length) - 1;
    const range = { start: Math.min(config.start_frame ?? 0, last), end: Math.min(config.end_frame ?? last, last) };
    const overrides = await maskOverrides(store, spec.input, sourceSide);
    const label = config.synthetic_label ? await renderLabel(input.media.displayHeight) : null;
    const detector = FaceDetector.of(pool.detector());
    // Pass 1, or the same pass kept from an earlier export of these frames (project/tracking-cache.ts).
    const reference = referenceDescriptor(store, sourceSide);
    const trackingPassKey = trackingKey({
      input: input.path,
      range,
      config,
      detector: store.project.settings.extraction.detector,
      reference,
      version: studioVersion(),
    });
    const total = range.end - range.start + 1;
    const kept = await readTracking(store.dir, trackingPassKey, total);
    // The other workers' generator sessions start from the built graph once the first part of the tracking pass is
    // done: the last part then runs alone and leaves a core partly idle, where a session (~0.7 s of a worker for a
    // 64 px lite model) fits. Started with the pass, they slowed it (a 128 px generator's session by ~0.5 s); started
    // after it, the swap pass's first faces waited for them. A worker still loading counts as busy, so no face waits
    // for its load; a failed load fails the faces sent there with its own error (model-worker.ts).
    let othersLoading: Promise<void> | null = null;
    const startOthers = (): Promise<void> =>
      (othersLoading ??= loaded.then(({ built }) =>
        pool.startGenerator(others, built, generatorFile, config.direction),
      ));
    const tracked =
      kept ??
      (await childStage(clock, 'decode', () =>
        trackPerson(ctx, input, config, pooledModels(detector, pool), reference, range, timing, () => {
          startOthers().catch(() => undefined);
        }),
      ));
    if (ctx.signal.aborted) return { stopped: true };
    if (kept) {
      ctx.log('info', 'the faces were followed in an earlier export of these frames: that tracking pass is used again');
      ctx.progress('track faces', total, total);
    } else
      await writeTracking(store.dir, trackingPassKey, tracked).catch((error: unknown) =>
        ctx.log('warn', `the tracking pass could not be kept for the next export: ${(error as Error).message}`),
      );
    const { references } = await loaded;
    startOthers().catch(() => undefined);
    const generator = pool.generator(generating);
    const quality = new ConversionMetrics(metricModels, references);
    const { raw, landmarks } = tracked;
    const smoothed = smoothBoxes(raw, smoothingOf(config));
    const { displayWidth: w, displayHeight: h } = input.media;
    const r = generator.arch.resolution;
    // Where to place the swapped face, smoothed over the whole clip (the landmark net's frame-to-frame noise would
    // shake it).
    const measured = landmarks.map((l) => (l ? patchTransform(l, r, config.roi_coverage) : null));
    const placed = smoothPlacements(measured, smoothingOf(config), r);
    const placements: Array<Placement | null> = placed.map((toPatch, i) =>
      toPatch ? { landmarks: landmarks[i] as Point[], toPatch } : null,
    );
    // Pass 2: swap and encode. Frames flow in order through a bounded window; faces go to the generator in fixed
    // groups of BATCH while the frames before them are blended and encoded.
    const columns = columnsOf(config);
    const exported = exportTiming(timing, range);
    // The export is checked alongside the encoder where its frames fit in memory (metrics/outside-mask.ts).
    const writer = new VideoWriter(output, w * columns, h, exported, input.media.hasAudio ? input.path : null, {
      encodedCopy: liveCheckFits(w, h),
    });
    const checkSetup: ComparisonSetup = {
      width: w,
      height: h,
      fps: input.media.fps,
      start: range.start,
      placements,
      resolution: r,
      config,
      overrides,
      columns,
      signal: ctx.signal,
      compare: (job) => pool.compare(job),
    };
    const side = generator.decoderFor(config.direction);
    let swapped = 0;
    let done = 0;
    let framesWithEdits = 0;
    // Input frames wait in the window, ahead of it, and (live check) for their encoded frame.
    const framePool = new FramePool(WINDOW + READ_AHEAD + LIVE_CHECK_FRAMES + 4);
    const live = writer.encodedStream
      ? new LiveExportCheck(checkSetup, writer.encodedStream, framePool, ctx.signal)
      : null;
    // Result pictures come back once the encoder's pipe has them (VideoWriter.write's `flushed`).
    const resultPool = new FramePool();
    try {
      await childStage(clock, 'encode', async () => {
        const window: InFlight[] = [];
        let unsent: InFlight[] = [];
        const send = (): void => {
          if (unsent.length === 0) return;
          const group = unsent;
          unsent = [];
          const faces = new Float32Array(group.length * r * r * 3);
          group.forEach((f, k) => faces.set((f.prepared as PreparedSwap).input, k * r * r * 3));
          const out = generator.run(side, faces, group.length);
          out.catch(() => undefined);
          group.forEach((f, k) => {
            f.generated = out.then(({ alpha, color }) => ({
              alpha: alpha.subarray(k * r * r, (k + 1) * r * r),
              color: color.subarray(k * r * r * 3, (k + 1) * r * r * 3),
            }));
            f.generated.catch(() => undefined);
          });
        };
        const finish = async (f: InFlight): Promise<void> => {
          let mask: Float32Array | null = null;
          if (f.prepared && f.generated && f.source && f.placement && f.box) {
            const generated = await f.generated;
            const swap = clock.time('blend', () =>
              finishSwap(f.result, w, h, f.prepared as PreparedSwap, generated, r, config),
            );
            clock.time('metrics', () =>
              quality.add({
                source: f.source as Buffer,
                result: f.result,
                width: w,
                height: h,
                box: f.box as Box,
                sourceLandmarks: (f.placement as Placement).landmarks,
                mask: swap.mask,
                region: swap.region,
                maskSize: r,
                toPatch: (f.placement as Placement).toPatch,
              }),
            );
            mask = swap.mask;
            swapped += 1;
          }
          const out = clock.time('blend', () => {
            const laid =
              columns === 1
                ? f.result
                : layout(f.source ?? f.result, f.result, w, h, columns, mask, f.placement?.toPatch ?? null, r);
            if (label) stampLabel(laid, w * columns, label, labelPlacement(w * columns, h, label));
            return laid;
          });
          // Given to the live check before its result goes to the encoder: the check pairs them in that order.
          if (live) await live.add(f.source);
          else framePool.release(f.source);
          const result = f.result;
          if (out === result) await writer.write(out, () => resultPool.release(result));
          else {
            resultPool.release(result);
            await writer.write(out);
          }
          done += 1;
          ctx.progress('swap faces', done, total);
        };
        const frames = decodeFrames(input, { stride: 1, startIndex: range.start, signal: ctx.signal, pool: framePool });
        for await (const frame of readAhead(frames, READ_AHEAD)) {
          if (frame.index > range.end) break;
          await ctx.waitWhilePaused();
          const i = frame.index - range.start;
          const placement = placements[i] ?? null;
          const box = smoothed[i] ?? null;
          // A picture to blend into, from a pool: a fresh 0.7 MB buffer a frame cost ~1 ms of page faults.
          const result = resultPool.acquire(w * h * 3);
          if (frame.rgb) result.set(frame.rgb);
          else result.fill(0);
          const f: InFlight = {
            index: frame.index,
            source: frame.rgb,
            result,
            placement,
            box,
            override: overrides.get(frame.index) ?? null,
            prepared: null,
            generated: null,
          };
          if (placement && box && frame.rgb) {
            if (f.override) framesWithEdits += 1;
            f.prepared = clock.time('align/mask', () =>
              prepareSwap(result, w, h, placement.landmarks, placement.toPatch, r, config, f.override),
            );
            unsent.push(f);
            if (unsent.length >= BATCH) send();
          }
          window.push(f);
          while (window.length > WINDOW) {
            const head = window.shift() as InFlight;
            if (unsent.includes(head)) send();
            await finish(head);
          }
          if (ctx.signal.aborted) break;
        }
        send();
        while (window.length > 0 && !ctx.signal.aborted) await finish(window.shift() as InFlight);
        if (ctx.signal.aborted) {
          await writer.abort();
          return;
        }
        live?.end();
        await writer.finish();
      });
      if (ctx.signal.aborted) return { stopped: true };
    } catch (error) {
      await writer.abort();
      throw error;
    }
    // Measured from the encoded video, not from the frames just blended: alongside the encoder (its own copy of the
    // packets it muxed), or, where that could not follow the whole export, from the file against a fresh decode of
    // the input.
    const alongside = live ? await live.result : null;
    ctx.progress('check the export', alongside ? total : 0, total);
    const outsideMask =
      alongside ??
      (await childStage(clock, 'metrics', async () =>
        measureOutsideMask({
          ...checkSetup,
          encoded: await probeSource(output),
          input,
          progress: (doneFrames, totalFrames) => ctx.progress('check the export', doneFrames, totalFrames),
        }),
      ));
    const metrics = {
      frames: done,
      framesSwapped: swapped,
      framesWithEditedMasks: framesWithEdits,
      jitterRawPx: round2(placementJitter(measured, r)),
      jitterSmoothedPx: round2(placementJitter(placed, r)),
      jitterNote:
        'mean second difference of the placed face patch corners, per frame (px): landmark placement raw vs smoothed',
      jitterBoxRawPx: round2(jitter(raw)),
      jitterBoxSmoothedPx: round2(jitter(smoothed)),
      segmentation: config.segmentation,
      direction: config.direction,
      colorCorrection: config.color_correction,
      visibleLabel: config.synthetic_label,
      sync: {
        firstFrameSeconds: round6(exported.startSeconds),
        durationSeconds: round6(exported.durationSeconds),
        frameRate: exported.constantRate ?? 'variable (source timestamps kept)',
        audioOffsetSeconds: exported.audioOffsetSeconds === null ? null : round6(exported.audioOffsetSeconds),
        note: 'audio start - first frame in the export; the source audio from the first frame on, on its own clock',
      },
      ...(await quality.summary()),
      outsideMask,
      pairedBy: 'frame index: output frame j with input frame start + j (not by timestamp)',
    };
    const metricsFile = `${output}.metrics.json`;
    await writeJsonAtomic(metricsFile, metrics);
    // The followed track (raw and smoothed boxes) and where each face was placed, for review and --metrics-only.
    const round = (b: Box | null): number[] | null =>
      b ? [b.x, b.y, b.width, b.height].map((v) => Math.round(v * 10) / 10) : null;
    await writeJsonAtomic(`${output}.track.json`, {
      start: range.start,
      raw: raw.map(round),
      smoothed: smoothed.map(round),
      placements: placements.map((p) =>
        p ? { toPatch: p.toPatch, landmarks: p.landmarks.map(([x, y]) => [round1(x), round1(y)]) } : null,
      ),
    });
    store.db
      .prepare('INSERT INTO exports (path, created_at, config, metrics) VALUES (?, ?, ?, ?)')
      .run(output, new Date().toISOString(), JSON.stringify(config), JSON.stringify(metrics));
    ctx.emit({ type: 'project.changed', projectDir: store.dir, what: 'exports' });
    completed = true;
    return {
      output,
      metricsFile,
      ...metrics,
      pipeline: {
        ...pipelineReport(clock, done, started, cpuAtStart),
        modelsKept: pool.reused,
        trackingKept: kept !== null,
      },
    };
  } finally {
    await pool.release(completed);
  }
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round2 = (v: number): number => Math.round(v * 100) / 100;

const columnsOf = (config: ConverterConfig): number =>
  config.output_type === 'SINGLE' ? 1 : config.output_type === 'COMBINED' ? 2 : 3;

function smoothingOf(config: ConverterConfig): SmoothingOptions {
  return {
    enabled: config.use_smoothed_bbox,
    useKalman: config.use_kalman_filter,
    kfNoiseCoef: config.kf_noise_coef,
    movingAverageCoef: config.bbox_moving_avg_coef,
  };
}
const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** COMBINED (source | result) and TRIPLE (source | result | mask heat map) layouts. */
function layout(
  source: Uint8Array,
  result: Uint8Array,
  w: number,
  h: number,
  columns: number,
  mask: Float32Array | null,
  toPatch: number[] | null,
  r: number,
): Uint8Array {
  const out = new Uint8Array(w * columns * h * 3);
  for (let y = 0; y < h; y += 1) {
    out.set(source.subarray(y * w * 3, (y + 1) * w * 3), y * w * columns * 3);
    out.set(result.subarray(y * w * 3, (y + 1) * w * 3), (y * w * columns + w) * 3);
    if (columns === 3) {
      for (let x = 0; x < w; x += 1) {
        let m = 0;
        if (mask && toPatch) {
          const u = Math.round((toPatch[0] as number) * x + (toPatch[1] as number) * y + (toPatch[2] as number));
          const v = Math.round((toPatch[3] as number) * x + (toPatch[4] as number) * y + (toPatch[5] as number));
          if (u >= 0 && v >= 0 && u < r && v < r) m = mask[v * r + u] as number;
        }
        const o = (y * w * 3 + 2 * w + x) * 3;
        // A simple heat map: blue (0) -> red (1).
        out[o] = Math.round(255 * m);
        out[o + 1] = Math.round(80 * (1 - Math.abs(2 * m - 1)));
        out[o + 2] = Math.round(255 * (1 - m));
      }
    }
  }
  return out;
}

/**
 * `--metrics-only`: measure an existing export against its input without converting again. It follows the track
 * and the face placements the conversion wrote beside the export; having no attention mask from the model, it
 * takes the largest region the swap could touch (the chosen parts, feathered) for the pixels outside it, and
 * measures identity and landmarks on the encoded frames. Frames are paired by index, not by time.
 *
 * Frames are paired by index, never by time: output frame j is input frame track.start + j. The export keeps every
 * frame but not the input's clock (it starts at 0, the input at its first frame's own time, after an edit list
 * perhaps), so a pairing by timestamp would compare different frames.
 */
async function measureExport(
  ctx: JobContext<ConvertSpec>,
  config: ConverterConfig,
  input: Awaited<ReturnType<typeof probeSource>>,
  output: string,
): Promise<Record<string, unknown>> {
  const { store } = ctx;
  const trackFile = `${output}.track.json`;
  let track: {
    start: number;
    smoothed: Array<number[] | null>;
    placements?: Array<{ toPatch: Affine; landmarks: Point[] } | null>;
  };
  try {
    track = JSON.parse(await fs.readFile(trackFile, 'utf8')) as typeof track;
  } catch {
    throw new StudioError(ErrorCode.notFound, `${trackFile} is missing or unreadable`, {
      file: trackFile,
      fix: 'measure an export made by FaceParts Studio (it writes the track beside the video), or convert again',
    });
  }
  if (!track.placements)
    throw new StudioError(
      ErrorCode.invalidParams,
      `${trackFile} was written by an earlier version (no face placements)`,
      {
        file: trackFile,
        fix: 'convert the video again to measure it',
      },
    );
  const encoded = await probeSource(output);
  if (encoded.kind !== 'video')
    throw new StudioError(ErrorCode.badMedia, `${output} is not a video`, {
      file: output,
      fix: 'measure a video export',
    });
  const { displayWidth: w, displayHeight: h } = input.media;
  const columns = Math.round(encoded.media.displayWidth / w);
  if (encoded.media.displayHeight !== h || ![1, 2, 3].includes(columns))
    throw new StudioError(
      ErrorCode.invalidParams,
      `${output} does not have the input's frame size (or a layout of it)`,
      {
        file: output,
        fix: 'measure the export against the video it was converted from (--input)',
      },
    );
  // Loaded for its resolution, and for its clear error when no model has been trained yet.
  const header = await Generator.load(path.join(store.dir, GENERATOR_FILE), config.direction);
  const r = header.arch.resolution;
  header.dispose();
  const models = await localMetrics();
  const sourceSide = sourceSideOf(config);
  const quality = new ConversionMetrics(models, await identityReferences(store, sourceSide, models.identity));
  const overrides = await maskOverrides(store, input.path, sourceSide);
  const placements = track.placements;
  const outsideMask = await measureOutsideMask({
    encoded,
    input,
    start: track.start,
    placements,
    resolution: r,
    config,
    overrides,
    columns,
    signal: ctx.signal,
    progress: (done, total) => ctx.progress('measure', done, total),
    onFrame: async (index, source, result) => {
      const placement = placements[index];
      const box = track.smoothed[index];
      if (!placement || !box) return;
      const frameBox = { x: box[0] as number, y: box[1] as number, width: box[2] as number, height: box[3] as number };
      const region = blendRegion(
        placement.landmarks,
        placement.toPatch,
        r,
        config,
        overrides.get(track.start + index) ?? null,
      );
      quality.add({
        source,
        result,
        width: w,
        height: h,
        box: frameBox,
        sourceLandmarks: placement.landmarks,
        mask: region,
        region,
        maskSize: r,
        toPatch: placement.toPatch,
      });
    },
  });
  const metricsFile = `${output}.metrics.json`;
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(await fs.readFile(metricsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    /* no metrics from the conversion: these stand alone */
  }
  const metrics = {
    ...previous,
    ...(await quality.summary()),
    outsideMask,
    measuredFrom: 'encoded file',
    pairedBy: 'frame index: output frame j with input frame start + j (not by timestamp)',
  };
  await writeJsonAtomic(metricsFile, metrics);
  return { output, metricsFile, ...metrics };
}
