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
import { alignmentTransform } from '../../../src-shared/math/face.js';
import type { Affine, Box, Point } from '../../../src-shared/math/geometry.js';
import { selectBackend } from '../backend/select.js';
import { VideoWriter } from '../convert/encoder.js';
import { blendRegion, patchTransform, swapFace, type MaskOverride } from '../convert/frame.js';
import { jitter, placementJitter, smoothBoxes, smoothPlacements, type SmoothingOptions } from '../convert/smoothing.js';
import { FaceDetector } from '../detect/detector.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { decodeFrames } from '../media/decode.js';
import { probeSource } from '../media/probe.js';
import { exportTiming, probeTiming } from '../media/timing.js';
import { labelPlacement, renderLabel, stampLabel } from '../convert/label.js';
import { MaskStore } from '../masks/edits.js';
import { ConversionMetrics, independentReference, type References } from '../metrics/conversion-metrics.js';
import { IdentityNet } from '../landmarks/identity-net.js';
import { measureOutsideMask, type Placement } from '../metrics/outside-mask.js';
import { Generator } from '../model/generator.js';
import { FacesRepo } from '../project/faces-repo.js';
import { GENERATOR_FILE, type ProjectStore } from '../project/store.js';
import { cutSignature, isCut } from '../track/scene-cut.js';
import { Tracker, descriptorDistance, mergeTracksByIdentity } from '../track/tracker.js';
import type { JobContext } from './context.js';

type ConvertSpec = z.output<typeof ConvertJobSpec>;

const FULL_DETECT_EVERY = 8;
const IDENTITY_EVERY = 30;

/** The identity to follow in the input: the person of the source side (A for AtoB), from extraction. */
function referenceDescriptor(store: ProjectStore, side: Side): number[] | null {
  const chosen = new FacesRepo(store.db).trackDescriptors(side, true)[0];
  return chosen ? Array.from(chosen.descriptor) : null;
}

/** The side whose person is in the input (A for AtoB). */
const sourceSideOf = (config: ConverterConfig): Side => (config.direction === 'AtoB' ? 'a' : 'b');

/** For identity metrics: the person the face should become and the person it was, for both recognition nets. */
async function identityReferences(store: ProjectStore, sourceSide: Side): Promise<References> {
  const targetSide: Side = sourceSide === 'a' ? 'b' : 'a';
  const net = await IdentityNet.load();
  return {
    faceApi: { target: referenceDescriptor(store, targetSide), source: referenceDescriptor(store, sourceSide) },
    independent: {
      net,
      target: await independentReference(store, targetSide, net),
      source: await independentReference(store, sourceSide, net),
    },
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

/** Pass 1: find and track faces through the clip, pick the person, return one raw box per frame (or null). */
async function trackPerson(
  ctx: JobContext<ConvertSpec>,
  input: Awaited<ReturnType<typeof probeSource>>,
  config: ConverterConfig,
  detector: FaceDetector,
  nets: FaceNets,
  reference: number[] | null,
  range: { start: number; end: number },
): Promise<Array<Box | null>> {
  const tracker = new Tracker();
  const perFrame: Array<Array<{ id: number; box: Box }>> = [];
  const options = {
    threshold: config.detection_threshold,
    minFaceSide: Math.sqrt(config.min_face_area),
    autoDownscale: config.use_auto_downscaling,
  };
  let processed = 0;
  for await (const frame of decodeFrames(input, { stride: 1, startIndex: range.start, signal: ctx.signal })) {
    if (frame.index > range.end) break;
    const faces: Array<{ id: number; box: Box }> = [];
    if (frame.rgb) {
      const signature = cutSignature(frame.rgb, frame.width, frame.height);
      if (isCut(tracker.lastSignature, signature)) tracker.cut(frame.index);
      tracker.lastSignature = signature;
      const active = tracker.activeBoxes(frame.index);
      const detections =
        active.length === 0 || processed % FULL_DETECT_EVERY === 0
          ? await detector.detectFrame(frame.rgb, frame.width, frame.height, options)
          : await detector.detectAround(
              frame.rgb,
              frame.width,
              frame.height,
              active.map((a) => a.box),
              options,
            );
      const kept = detections.filter((d) => d.box.width * d.box.height >= config.min_face_area);
      const ids = tracker.update(
        frame.index,
        kept.map((d) => d.box),
      );
      for (let i = 0; i < kept.length; i += 1) {
        let id = ids[i] as number;
        const track = tracker.tracks.find((t) => t.id === id);
        if (track && (track.hits === 1 || tracker.needsDescriptor(id, frame.index, IDENTITY_EVERY))) {
          try {
            const landmarks = await nets.landmarks(frame.rgb, frame.width, frame.height, (kept[i] as { box: Box }).box);
            const descriptor = await nets.descriptor(
              frame.rgb,
              frame.width,
              frame.height,
              alignmentTransform(landmarks, 150),
              150,
            );
            if (track.hits === 1) id = tracker.reidentify(id, descriptor, frame.index);
            else tracker.addDescriptor(id, descriptor, frame.index);
          } catch {
            /* no identity sample for this face */
          }
        }
        faces.push({ id, box: (kept[i] as { box: Box }).box });
      }
    }
    perFrame.push(faces);
    processed += 1;
    ctx.progress('track faces', processed, range.end - range.start + 1);
  }
  // Join tracks of one person, then pick the one that looks like the source person (or the most present).
  const frames = new Map<number, Set<number>>();
  perFrame.forEach((faces, i) => faces.forEach((f) => frames.set(f.id, (frames.get(f.id) ?? new Set()).add(i))));
  const byId = new Map(tracker.tracks.map((t) => [t.id, t]));
  const merges = mergeTracksByIdentity(
    [...frames].map(([id, f]) => ({
      id,
      frames: f,
      descriptor: byId.get(id)?.descriptor ?? null,
      weight: byId.get(id)?.descriptorCount ?? 0,
    })),
  );
  const rename = new Map<number, number>();
  for (const [keep, gone] of merges) rename.set(gone, keep);
  const root = (id: number): number => (rename.has(id) ? root(rename.get(id) as number) : id);
  const presence = new Map<number, number>();
  for (const faces of perFrame)
    for (const f of faces) presence.set(root(f.id), (presence.get(root(f.id)) ?? 0) + f.box.width);
  let chosen: number | null = null;
  let best = Infinity;
  for (const id of presence.keys()) {
    const d =
      reference && byId.get(id)?.descriptor
        ? descriptorDistance(byId.get(id)?.descriptor as number[], reference)
        : Infinity;
    const score = d < 0.6 ? d : 10 - (presence.get(id) as number) / 1e6;
    if (score < best) {
      best = score;
      chosen = id;
    }
  }
  return perFrame.map((faces) => faces.find((f) => root(f.id) === chosen)?.box ?? null);
}

/** The 68 landmarks of the followed face in each frame of the range (null where it is absent). */
async function locateFaces(
  ctx: JobContext<ConvertSpec>,
  input: Awaited<ReturnType<typeof probeSource>>,
  nets: FaceNets,
  boxes: ReadonlyArray<Box | null>,
  range: { start: number; end: number },
): Promise<Array<Point[] | null>> {
  const found: Array<Point[] | null> = boxes.map(() => null);
  const total = boxes.filter(Boolean).length;
  let done = 0;
  for await (const frame of decodeFrames(input, { stride: 1, startIndex: range.start, signal: ctx.signal })) {
    if (frame.index > range.end) break;
    const box = boxes[frame.index - range.start];
    if (!box || !frame.rgb) continue;
    await ctx.waitWhilePaused();
    found[frame.index - range.start] = await nets.landmarks(frame.rgb, frame.width, frame.height, box);
    done += 1;
    ctx.progress('find landmarks', done, total);
  }
  return found;
}

/** Conversion as a job: track, locate, smooth, swap, encode with the source audio, write metrics beside the export. */
export async function runConvert(ctx: JobContext<ConvertSpec>): Promise<Record<string, unknown>> {
  const { store, spec } = ctx;
  const config = parseOrThrow(
    ConverterConfig,
    { ...store.project.settings.converter, ...spec.config },
    ErrorCode.invalidParams,
    'params.job.config',
  );
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
  await selectBackend(store.project.settings.training.backend);
  if (spec.metricsOnly) return measureExport(ctx, config, input, output);
  const generator = await Generator.load(path.join(store.dir, GENERATOR_FILE));
  const detector = await FaceDetector.load();
  const nets = await FaceNets.load();
  // Frame i is the i-th frame a player shows: the container's count may include frames its edit list hides.
  const timing = await probeTiming(input.path);
  const last = Math.min(input.media.frameCount, timing.framePts.length) - 1;
  const range = { start: Math.min(config.start_frame ?? 0, last), end: Math.min(config.end_frame ?? last, last) };
  const sourceSide = sourceSideOf(config);
  const overrides = await maskOverrides(store, spec.input, sourceSide);
  let framesWithEdits = 0;
  const label = config.synthetic_label ? await renderLabel(input.media.displayHeight) : null;
  const quality = new ConversionMetrics(nets, await identityReferences(store, sourceSide));
  try {
    const raw = await trackPerson(ctx, input, config, detector, nets, referenceDescriptor(store, sourceSide), range);
    if (ctx.signal.aborted) return { stopped: true };
    const smoothed = smoothBoxes(raw, smoothingOf(config));
    const { displayWidth: w, displayHeight: h } = input.media;
    const r = generator.arch.resolution;
    // Pass 2: the landmarks of the followed face in every frame, then where to place the swapped face, smoothed
    // over the whole clip (the landmark net's frame-to-frame noise would shake it).
    const landmarks = await locateFaces(ctx, input, nets, smoothed, range);
    if (ctx.signal.aborted) return { stopped: true };
    const measured = landmarks.map((l) => (l ? patchTransform(l, r, config.roi_coverage) : null));
    const placed = smoothPlacements(measured, smoothingOf(config), r);
    const placements: Array<Placement | null> = placed.map((toPatch, i) =>
      toPatch ? { landmarks: landmarks[i] as Point[], toPatch } : null,
    );
    // Pass 3: swap and encode.
    const columns = columnsOf(config);
    // The source's frame timing and the audio under frames range.start..range.end, on the source's clock.
    const exported = exportTiming(timing, range);
    const writer = new VideoWriter(output, w * columns, h, exported, input.media.hasAudio ? input.path : null);
    let swapped = 0;
    let done = 0;
    try {
      for await (const frame of decodeFrames(input, { stride: 1, startIndex: range.start, signal: ctx.signal })) {
        if (frame.index > range.end) break;
        await ctx.waitWhilePaused();
        const source = frame.rgb ?? new Uint8Array(w * h * 3);
        const result = Uint8Array.from(source);
        const i = frame.index - range.start;
        const placement = placements[i] ?? null;
        const box = smoothed[i] ?? null;
        let mask: Float32Array | null = null;
        if (placement && box && frame.rgb) {
          const override = overrides.get(frame.index) ?? null;
          if (override) framesWithEdits += 1;
          const swap = await swapFace(
            result,
            w,
            h,
            placement.landmarks,
            placement.toPatch,
            generator,
            config,
            override,
          );
          await quality.add({
            source: frame.rgb,
            result,
            width: w,
            height: h,
            box,
            sourceLandmarks: placement.landmarks,
            mask: swap.mask,
            region: swap.region,
            maskSize: r,
            toPatch: placement.toPatch,
          });
          mask = swap.mask;
          swapped += 1;
        }
        const out = columns === 1 ? result : layout(source, result, w, h, columns, mask, placement?.toPatch ?? null, r);
        if (label) stampLabel(out, w * columns, label, labelPlacement(w * columns, h, label));
        await writer.write(out);
        done += 1;
        ctx.progress('swap faces', done, range.end - range.start + 1);
        if (ctx.signal.aborted) break;
      }
      if (ctx.signal.aborted) {
        await writer.abort();
        return { stopped: true };
      }
      await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    // Measured from the encoded file against a fresh decode of the input, not from the frames just blended.
    const outsideMask = await measureOutsideMask({
      encoded: await probeSource(output),
      input,
      start: range.start,
      placements,
      resolution: r,
      config,
      overrides,
      columns,
      signal: ctx.signal,
      progress: (doneFrames, total) => ctx.progress('check the export', doneFrames, total),
    });
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
      ...quality.summary(),
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
    return { output, metricsFile, ...metrics };
  } finally {
    generator.dispose();
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
  const header = await Generator.load(path.join(store.dir, GENERATOR_FILE));
  const r = header.arch.resolution;
  header.dispose();
  const nets = await FaceNets.load();
  const sourceSide = sourceSideOf(config);
  const quality = new ConversionMetrics(nets, await identityReferences(store, sourceSide));
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
      await quality.add({
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
    ...quality.summary(),
    outsideMask,
    measuredFrom: 'encoded file',
    pairedBy: 'frame index: output frame j with input frame start + j (not by timestamp)',
  };
  await writeJsonAtomic(metricsFile, metrics);
  return { output, metricsFile, ...metrics };
}
