import path from 'node:path';
import sharp from 'sharp';
import type { z } from 'zod';
import { ErrorCode, StudioError, sideList, type FrameRecord, type Side } from '../../../src-shared/contract/index.js';
import type { ExtractJobSpec } from '../../../src-shared/contract/jobs.js';
import type { Point } from '../../../src-shared/math/geometry.js';
import { ALIGNED_SIZE, alignFace, type AlignedFace } from '../align/aligned-face.js';
import { capWithPoseVariety, qualityVerdict } from '../dataset/selection.js';
import { FaceDetector, type Frame } from '../detect/detector.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { FramePool, decodeFrames, prepareDecoders, type DecodedFrame } from '../media/decode.js';
import { probeSource, type ProbedSource } from '../media/probe.js';
import { probeTiming } from '../media/timing.js';
import { thumbnailJpeg } from '../media/thumbnail.js';
import { inOrder } from '../pipeline/queue.js';
import { StageClock, childStage, pipelineReport, processCpuMs } from '../pipeline/stages.js';
import { ModelPool, closeKeptModelPool, modelWorkerCount } from '../pipeline/workers.js';
import { FacesRepo, type FaceRow, type NewFace } from '../project/faces-repo.js';
import type { ProjectStore } from '../project/store.js';
import {
  Follower,
  localModels,
  pooledModels,
  resolvePeople,
  type FollowModels,
  type FollowStats,
} from '../track/follow.js';
import { followInChunks } from '../track/follow-chunks.js';
import { Tracker, defaultPerson, type TrackerState } from '../track/tracker.js';
import type { JobContext } from './context.js';

type ExtractSpec = z.output<typeof ExtractJobSpec>;
type Ctx = JobContext<ExtractSpec>;

import { EXTRACT_STAGES } from './extract-stages.js';

export { EXTRACT_STAGES };
/** Frames committed per transaction: little is redone after a kill, and commits stay cheap. */
const COMMIT_BATCH = 16;
const QUALITY = { maxYaw: 50, maxPitch: 40 };
/** Frames aligned at once (each a crop, a detector check and a PNG). */
const ALIGN_IN_FLIGHT = 4;

export interface SideReport {
  framesRead: number;
  framesUnreadable: number;
  facesFound: number;
  facesKept: number;
  facesSkipped: number;
  skippedByReason: Record<string, number>;
  tracks: number;
  chosenTrack: number | null;
  /** Image folders: faces found in each image (file name -> boxes). */
  boxesPerImage?: Record<string, number>;
}

const label = (side: Side): string => side.toUpperCase();

/** The models extraction runs on: model workers when they start, else in this thread. */
interface ExtractModels {
  detector: FaceDetector;
  follow: FollowModels;
  /** Alignment and the aligned-crop check. */
  align(frame: Frame, landmarks: readonly Point[]): Promise<AlignedFace & { confirmed: boolean }>;
  close(): Promise<void>;
}

async function extractModels(detectorName: string, clock: StageClock | null): Promise<ExtractModels> {
  try {
    // One pool's models in memory at a time: the last conversion's, if kept, go first.
    await closeKeptModelPool();
    const pool = await ModelPool.start(modelWorkerCount(), { detector: detectorName, nets: true }, clock);
    const detector = FaceDetector.of(pool.detector());
    return {
      detector,
      follow: pooledModels(detector, pool),
      align: (frame, landmarks) => pool.align(frame, landmarks),
      close: () => pool.close(),
    };
  } catch (error) {
    if (error instanceof StudioError) throw error;
    // No worker threads here (an unusual embedding): the same work in this thread.
    const detector = await FaceDetector.load(detectorName);
    const nets = await FaceNets.load();
    return {
      detector,
      follow: localModels(detector, nets),
      align: async (frame, landmarks) => {
        const aligned = alignFace(frame.rgb, frame.width, frame.height, [...landmarks]);
        return { ...aligned, confirmed: await detector.confirmsAligned(aligned.crop, ALIGNED_SIZE) };
      },
      close: () => Promise.resolve(),
    };
  }
}

/** A frame's row in the timeline's index (its faces are counted when they are committed). */
function frameRecord(side: Side, frame: DecodedFrame, thumbnail: string | null): Omit<FrameRecord, 'faceCount'> {
  return {
    side,
    index: frame.index,
    timeSeconds: frame.timeSeconds,
    status: frame.rgb ? 'pending' : 'unreadable',
    reason: frame.error,
    thumbnail,
    width: frame.rgb ? frame.width : null,
    height: frame.rgb ? frame.height : null,
  };
}

/**
 * Stages 1 and 2 in one pass over the frames: index every (stride-th) frame with a thumbnail for the timeline, and
 * find and follow the faces in it (track/follow.ts: detection, second look, landmarks, identity); then join the
 * tracks of one person and pick the side's person. Each batch commits frames, faces and both cursors at once, with the
 * tracks' state as of its last frame. A video is followed as chunks, two at a time (track/follow-chunks.ts).
 */
async function findFaces(
  ctx: Ctx,
  side: Side,
  probed: ProbedSource,
  models: ExtractModels,
): Promise<{ read: number; unreadable: number; rejected: number; processed: number; stats?: FollowStats }> {
  const { store } = ctx;
  const repo = new FacesRepo(store.db);
  const settings = store.project.settings.extraction;
  const stride = settings.frameStride;
  const indexCursor = store.getCursor(side, EXTRACT_STAGES.decode);
  const detectCursor = store.getCursor(side, EXTRACT_STAGES.detect);
  const counted = (): number => store.listFrames(side, 0, 1).total;
  if (indexCursor.finished) ctx.log('info', `side ${label(side)}: frames already indexed`);
  if (indexCursor.finished && detectCursor.finished)
    return { read: counted(), unreadable: 0, rejected: 0, processed: 0 };
  if (!detectCursor.finished && detectCursor.nextIndex === 0) store.transaction(() => repo.clearSide(side));
  const temporal = probed.kind === 'video';
  const followOptions = {
    temporal,
    threshold: settings.detectionThreshold,
    minFaceSide: Math.sqrt(settings.minFaceArea),
    autoDownscale: settings.useAutoDownscaling,
  };
  const total = Math.ceil(probed.media.frameCount / stride);
  const from = Math.min(
    indexCursor.finished ? Infinity : indexCursor.nextIndex,
    detectCursor.finished ? Infinity : detectCursor.nextIndex,
  );
  const indexes = (i: number): boolean => !indexCursor.finished && i >= indexCursor.nextIndex;
  const detects = (i: number): boolean => !detectCursor.finished && i >= detectCursor.nextIndex;
  // A video is followed as chunks, two at a time, where both stages start at one frame (a fresh pass, or one whose
  // cursors moved together); otherwise (images, a pass that only indexes) by one follower, as it resumes.
  const chunked =
    temporal && !indexCursor.finished && !detectCursor.finished && indexCursor.nextIndex === detectCursor.nextIndex;
  let unreadable = 0;
  let done = Math.ceil(from / stride);
  let frames: Array<Omit<FrameRecord, 'faceCount'>> = [];
  let thumbs: Array<Promise<void>> = [];
  let faces: Array<{ frame: number; faces: NewFace[] }> = [];
  let indexNext = indexCursor.nextIndex;
  let detectNext = detectCursor.nextIndex;
  let state = (detectCursor.state as TrackerState | null) ?? undefined;
  const commit = async (finished: boolean): Promise<void> => {
    // Thumbnails are written (atomically) before the rows that name them.
    await Promise.all(thumbs);
    store.transaction(() => {
      if (!indexCursor.finished) {
        store.upsertFrames(frames);
        store.setCursor(side, EXTRACT_STAGES.decode, indexNext, finished);
      }
      if (!detectCursor.finished) {
        for (const { frame, faces: found } of faces) {
          for (const face of found) repo.insert(face);
          repo.setFrameFaces(side, frame, found.length);
        }
        store.setCursor(side, EXTRACT_STAGES.detect, detectNext, false, state);
      }
    });
    frames = [];
    thumbs = [];
    faces = [];
  };
  type Indexed = { record: Omit<FrameRecord, 'faceCount'>; written: Promise<void> | null } | null;
  const followed = followInChunks<Indexed>({
    source: probed,
    stride,
    first: Math.ceil(from / stride) * stride,
    last: probed.media.frameCount - 1,
    toEnd: true,
    state,
    newFollower: (resumed) => new Follower(models.follow, followOptions, resumed),
    chunked,
    follows: detects,
    atFrame: (frame) => {
      if (!indexes(frame.index)) return { extra: null, pixelsRead: Promise.resolve() };
      if (frame.rgb) {
        const thumbnail = path.posix.join('thumbs', side, `${String(frame.index).padStart(6, '0')}.jpg`);
        const file = path.join(store.dir, thumbnail);
        const encoded = thumbnailJpeg(frame.rgb, frame.width, frame.height);
        encoded.catch(() => undefined);
        const written = encoded.then((jpeg) => writeFileAtomic(file, jpeg));
        written.catch(() => undefined);
        return { extra: { record: frameRecord(side, frame, thumbnail), written }, pixelsRead: encoded };
      }
      unreadable += 1;
      ctx.log('warn', `side ${label(side)}: ${frame.error ?? 'unreadable frame'}`);
      return { extra: { record: frameRecord(side, frame, null), written: null }, pixelsRead: Promise.resolve() };
    },
    // Probed while the first chunk starts (it needs no seek).
    timing: chunked && stride === 1 ? probeTiming(probed.path).catch(() => null) : Promise.resolve(null),
    stateEvery: COMMIT_BATCH,
    signal: ctx.signal,
    waitWhilePaused: () => ctx.waitWhilePaused(),
    onFrame: () => ctx.progress(`find faces ${label(side)}`, Math.min((done += 1), total), total),
    log: (level, message) => ctx.log(level, message),
  });
  for await (const { frame, faces: found, extra, state: after } of followed.frames) {
    if (extra) {
      frames.push(extra.record);
      if (extra.written) thumbs.push(extra.written);
      indexNext = frame.index + 1;
    }
    if (found) {
      faces.push({
        frame: frame.index,
        faces: found.map((f) => ({
          side,
          frameIndex: frame.index,
          trackId: f.trackId,
          box: f.box,
          score: f.score,
          landmarks: f.landmarks,
          descriptor: f.descriptor,
        })),
      });
      detectNext = frame.index + 1;
    }
    // Committed where the tracks' state is known: a resumed pass continues from there.
    if (after) {
      state = after;
      await commit(false);
    }
    if (ctx.signal.aborted) break;
  }
  if (!ctx.signal.aborted) await commit(true);
  const followStats = followed.stats();
  // The tracks of every chunk as one tracker's: identities for joining tracks and for the side's person.
  const tracker = new Tracker({}, state);
  const read = counted();
  const rejected = followStats.rejected;
  const processed = followStats.frames;
  if (ctx.signal.aborted || detectCursor.finished) return { read, unreadable, rejected, processed, stats: followStats };

  // Join tracks of one person, then pick the side's person (the user's choice stands).
  const { merges } = resolvePeople(
    [...repo.trackFrames(side)].map(([id, set]) => ({ id, frames: set, meanArea: 0 })),
    (id) => tracker.track(id),
  );
  store.transaction(() => {
    for (const [keep, merged] of merges) repo.renameTrack(side, merged, keep);
  });
  for (const [keep, merged] of merges)
    ctx.log('info', `side ${label(side)}: track ${merged} is the same person as track ${keep}; joined`);
  const stats = repo.trackStats(side);
  if (stats.length === 0) {
    store.setCursor(side, EXTRACT_STAGES.detect, detectNext, true, tracker.snapshot());
    throw new StudioError(ErrorCode.badMedia, `no face was found in ${probed.path}`, {
      file: probed.path,
      fix: 'choose a video or images where the face is visible and at least ~35 px tall, or lower the detection threshold in the project settings',
    });
  }
  const chosen = repo.userChoice(side) ?? defaultPerson(stats);
  store.transaction(() => {
    repo.saveTracks(
      side,
      stats.map((s) => ({ ...s, descriptor: tracker.track(s.id)?.descriptor ?? null })),
      chosen,
    );
    store.setCursor(side, EXTRACT_STAGES.detect, detectNext, true, tracker.snapshot());
  });
  ctx.log('info', `side ${label(side)}: ${stats.length} track(s); person = track ${chosen}`);
  return { read, unreadable, rejected, processed, stats: followStats };
}

/** Stage 3: alignment, quality and crops for the chosen person's faces, several frames in flight. */
async function alignChosen(ctx: Ctx, side: Side, probed: ProbedSource, models: ExtractModels): Promise<void> {
  const { store } = ctx;
  const repo = new FacesRepo(store.db);
  const settings = store.project.settings.extraction;
  const cursor = store.getCursor(side, EXTRACT_STAGES.align);
  if (cursor.finished) return;
  const chosen = repo.chosenTrack(side);
  if (chosen === null) return;
  const faces = new Map(repo.byTrack(side, chosen, cursor.nextIndex).map((f) => [f.frameIndex, f]));
  const limits = { minFaceSide: Math.sqrt(settings.minFaceArea), blurThreshold: settings.blurThreshold, ...QUALITY };
  const total = faces.size;
  let done = 0;
  let batch: Array<() => void> = [];
  let nextIndex = cursor.nextIndex;
  const frameFaces = store.db.prepare('SELECT face_count FROM frames WHERE side = ? AND idx = ?');
  const commit = (finished: boolean): void => {
    store.transaction(() => {
      for (const write of batch) write();
      store.setCursor(side, EXTRACT_STAGES.align, nextIndex, finished);
    });
    batch = [];
  };
  const pool = new FramePool();
  const decoded = decodeFrames(probed, {
    stride: settings.frameStride,
    startIndex: cursor.nextIndex,
    signal: ctx.signal,
    pool,
  });
  type Aligned = { frame: DecodedFrame; face: FaceRow | null; write: (() => void) | null };
  const aligned = inOrder(decoded, ALIGN_IN_FLIGHT, async (frame): Promise<Aligned> => {
    const face = faces.get(frame.index) ?? null;
    if (!face || !frame.rgb) return { frame, face: null, write: null };
    const image: Frame = { rgb: frame.rgb, width: frame.width, height: frame.height };
    // Landmarks were found while following the face; older projects find them now.
    const landmarks = face.landmarks ?? (await models.follow.landmarks(image, [face.box]))[0] ?? [];
    const al = await models.align(image, landmarks);
    // min_face_area is about the detected box, as in the original.
    let reason = qualityVerdict({ ...al, faceSide: Math.sqrt(face.box.width * face.box.height) }, limits);
    if (reason === null && !al.confirmed) reason = 'not a face after alignment (the detector disagrees)';
    let crop: string | null = null;
    if (reason === null) {
      crop = path.posix.join('faces', side, `${String(frame.index).padStart(6, '0')}.png`);
      const png = await sharp(Buffer.from(al.crop.buffer, al.crop.byteOffset, al.crop.byteLength), {
        raw: { width: ALIGNED_SIZE, height: ALIGNED_SIZE, channels: 3 },
      })
        .png({ compressionLevel: 3 })
        .toBuffer();
      await writeFileAtomic(path.join(store.dir, crop), png);
    }
    const fields = {
      landmarks,
      transform: al.transform,
      crop,
      yaw: al.yaw,
      pitch: al.pitch,
      sharpness: al.sharpness,
      status: reason === null ? ('kept' as const) : ('skipped' as const),
      reason,
      // The identity sample taken while following, when this frame had one (saveAlignment keeps it).
      descriptor: null,
    };
    return {
      frame,
      face,
      write: () => {
        repo.saveAlignment(face.id, fields);
        repo.setFrameStatus(side, frame.index, fields.status, reason);
      },
    };
  });
  for await (const { frame, face, write } of aligned) {
    await ctx.waitWhilePaused();
    pool.release(frame.rgb);
    nextIndex = frame.index + 1;
    if (write) {
      batch.push(write);
      done += 1;
      ctx.progress(`align faces ${label(side)}`, done, total);
    } else if (!face || !frame.rgb) {
      const count = (frameFaces.get(side, frame.index) as { face_count: number } | undefined)?.face_count ?? 0;
      if (count > 0)
        batch.push(() => repo.setFrameStatus(side, frame.index, 'absent', 'the chosen person is not in this frame'));
    }
    if (batch.length >= COMMIT_BATCH) commit(false);
    if (ctx.signal.aborted) break;
  }
  commit(!ctx.signal.aborted);
}

/** Stage 4: cap the training set, keeping pose variety. */
function selectTrainingFaces(store: ProjectStore, side: Side): void {
  if (store.getCursor(side, EXTRACT_STAGES.select).finished) return;
  const rows = store.db
    .prepare(`SELECT id, yaw, pitch, sharpness, frame_idx FROM faces WHERE side = ? AND status = 'kept'`)
    .all(side) as Array<{
    id: number;
    yaw: number;
    pitch: number;
    sharpness: number;
    frame_idx: number;
  }>;
  const keep = capWithPoseVariety(rows, store.project.settings.extraction.maxTrainingFaces);
  const repo = new FacesRepo(store.db);
  store.transaction(() => {
    for (const row of rows) {
      if (keep.has(row.id)) continue;
      repo.setStatus(row.id, 'skipped', 'over the training cap (pose variety kept)');
      repo.setFrameStatus(side, row.frame_idx, 'skipped', 'over the training cap (pose variety kept)');
    }
    store.setCursor(side, EXTRACT_STAGES.select, 0, true);
  });
}

function report(
  store: ProjectStore,
  side: Side,
  probed: ProbedSource,
  frames: { read: number; unreadable: number },
): SideReport {
  const repo = new FacesRepo(store.db);
  const count = (sql: string): number => (store.db.prepare(sql).get(side) as { n: number }).n;
  const skippedByReason = repo.skippedByReason(side);
  const out: SideReport = {
    framesRead: frames.read,
    framesUnreadable: frames.unreadable,
    facesFound: count('SELECT COUNT(*) AS n FROM faces WHERE side = ?'),
    facesKept: count(`SELECT COUNT(*) AS n FROM faces WHERE side = ? AND status = 'kept'`),
    facesSkipped: Object.values(skippedByReason).reduce((a, b) => a + b, 0),
    skippedByReason,
    tracks: count('SELECT COUNT(*) AS n FROM tracks WHERE side = ?'),
    chosenTrack: repo.chosenTrack(side),
  };
  if (probed.kind === 'images') {
    const rows = store.db.prepare('SELECT idx, face_count FROM frames WHERE side = ? ORDER BY idx').all(side) as Array<{
      idx: number;
      face_count: number;
    }>;
    out.boxesPerImage = Object.fromEntries(
      rows.map((r) => [path.basename(probed.images[r.idx] ?? String(r.idx)), r.face_count]),
    );
  }
  return out;
}

/** Extraction: frames -> faces -> tracks -> the chosen person's aligned faces, per side; resumable at every stage. */
export async function runExtract(ctx: Ctx): Promise<Record<string, unknown>> {
  const sides = sideList(ctx.spec.side);
  const clock = new StageClock();
  const started = performance.now();
  const cpuAtStart = processCpuMs();
  prepareDecoders(1);
  const models = await extractModels(ctx.store.project.settings.extraction.detector, clock);
  const perSide: Record<string, SideReport> = {};
  const runs: Record<string, { framesProcessed: number; secondLookRejected: number; follow?: FollowStats }> = {};
  let framesProcessed = 0;
  try {
    for (const side of sides) {
      const source = ctx.store.project.sources[side];
      const probed = await probeSource(source.path);
      const frames = await childStage(clock, 'decode', () => findFaces(ctx, side, probed, models));
      if (ctx.signal.aborted) break;
      await childStage(clock, 'decode', () => alignChosen(ctx, side, probed, models));
      if (ctx.signal.aborted) break;
      selectTrainingFaces(ctx.store, side);
      perSide[side] = report(ctx.store, side, probed, frames);
      runs[side] = { framesProcessed: frames.processed, secondLookRejected: frames.rejected, follow: frames.stats };
      framesProcessed += frames.processed;
      const sideReport = perSide[side];
      if (sideReport.facesKept === 0) {
        const reasons = Object.entries(sideReport.skippedByReason)
          .map(([r, n]) => `${n} ${r}`)
          .join('; ');
        throw new StudioError(
          ErrorCode.badMedia,
          `no usable face of the chosen person in ${source.path}${reasons ? `: ${reasons}` : ''}`,
          {
            file: source.path,
            fix: 'use footage where the face is larger, sharper and more frontal, or lower min_face_area / blur threshold in the project settings',
          },
        );
      }
      ctx.log('info', `side ${label(side)}: kept ${sideReport.facesKept} face(s), skipped ${sideReport.facesSkipped}`);
    }
  } finally {
    await models.close();
  }
  return {
    sides: perSide,
    stopped: ctx.signal.aborted,
    run: { ...runs, pipeline: pipelineReport(clock, framesProcessed, started, cpuAtStart) },
  };
}
