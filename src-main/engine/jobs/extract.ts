import path from 'node:path';
import sharp from 'sharp';
import type { z } from 'zod';
import { ErrorCode, StudioError, sideList, type FrameRecord, type Side } from '../../../src-shared/contract/index.js';
import type { ExtractJobSpec } from '../../../src-shared/contract/jobs.js';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import { ALIGNED_SIZE, alignFace } from '../align/aligned-face.js';
import { capWithPoseVariety, qualityVerdict } from '../dataset/selection.js';
import { FaceDetector } from '../detect/detector.js';
import type { Detection } from '../detect/blazeface-decode.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { decodeFrames } from '../media/decode.js';
import { probeSource, type ProbedSource } from '../media/probe.js';
import { thumbnailJpeg } from '../media/thumbnail.js';
import { FacesRepo, type NewFace } from '../project/faces-repo.js';
import type { ProjectStore } from '../project/store.js';
import { cutSignature, isCut } from '../track/scene-cut.js';
import {
  Tracker,
  defaultPerson,
  descriptorDistance,
  mergeTracksByIdentity,
  type TrackerState,
} from '../track/tracker.js';
import type { JobContext } from './context.js';

type ExtractSpec = z.output<typeof ExtractJobSpec>;
type Ctx = JobContext<ExtractSpec>;

export const EXTRACT_STAGES = { decode: 'decode', detect: 'detect', align: 'align', select: 'select' } as const;
/** Frames committed per transaction: little is redone after a kill, and commits stay cheap. */
const COMMIT_BATCH = 16;
/** On video, a full-frame (tiled) detection every this many processed frames; in between only around tracked faces. */
const FULL_DETECT_EVERY = 8;
/** A descriptor for every n-th kept face (1: each), for identity metrics and person choice. */
const DESCRIPTOR_EVERY = 1;
const QUALITY = { maxYaw: 50, maxPitch: 40 };
/** Frames between identity samples of a tracked face. */
const IDENTITY_EVERY = 30;
/** Crop size the identity descriptor is computed from. */
const DESCRIPTOR_CROP = 150;

export interface SideReport {
  framesRead: number;
  framesUnreadable: number;
  facesFound: number;
  facesKept: number;
  facesSkipped: number;
  skippedByReason: Record<string, number>;
  tracks: number;
  chosenTrack: number | null;
}

const label = (side: Side): string => side.toUpperCase();

/** Stage 1: index every (stride-th) frame with a thumbnail for the timeline. */
async function indexFrames(ctx: Ctx, side: Side, probed: ProbedSource): Promise<{ read: number; unreadable: number }> {
  const { store } = ctx;
  const stride = store.project.settings.extraction.frameStride;
  const cursor = store.getCursor(side, EXTRACT_STAGES.decode);
  const total = Math.ceil(probed.media.frameCount / stride);
  const counted = (): number => store.listFrames(side, 0, 1).total;
  if (cursor.finished) {
    ctx.log('info', `side ${label(side)}: frames already indexed`);
    return { read: counted(), unreadable: 0 };
  }
  let unreadable = 0;
  let batch: Array<Omit<FrameRecord, 'faceCount'>> = [];
  let nextIndex = cursor.nextIndex;
  let done = Math.ceil(cursor.nextIndex / stride);
  for await (const frame of decodeFrames(probed, { stride, startIndex: cursor.nextIndex, signal: ctx.signal })) {
    await ctx.waitWhilePaused();
    let thumbnail: string | null = null;
    if (frame.rgb) {
      thumbnail = path.posix.join('thumbs', side, `${String(frame.index).padStart(6, '0')}.jpg`);
      await writeFileAtomic(path.join(store.dir, thumbnail), await thumbnailJpeg(frame.rgb, frame.width, frame.height));
    } else {
      unreadable += 1;
      ctx.log('warn', `side ${label(side)}: ${frame.error ?? 'unreadable frame'}`);
    }
    batch.push({
      side,
      index: frame.index,
      timeSeconds: frame.timeSeconds,
      status: frame.rgb ? 'pending' : 'unreadable',
      reason: frame.error,
      thumbnail,
      width: frame.rgb ? frame.width : null,
      height: frame.rgb ? frame.height : null,
    });
    nextIndex = frame.index + 1;
    done += 1;
    if (batch.length >= COMMIT_BATCH) {
      store.commitFrames(side, EXTRACT_STAGES.decode, batch, nextIndex, false);
      batch = [];
    }
    ctx.progress(`index frames ${label(side)}`, Math.min(done, total), total);
    if (ctx.signal.aborted) break;
  }
  store.commitFrames(side, EXTRACT_STAGES.decode, batch, nextIndex, !ctx.signal.aborted);
  return { read: counted(), unreadable };
}

/** Stage 2: find faces and link them into tracks (one person per track), then pick the side's person. */
async function detectAndTrack(
  ctx: Ctx,
  side: Side,
  probed: ProbedSource,
  detector: FaceDetector,
  nets: FaceNets,
): Promise<void> {
  const { store } = ctx;
  const repo = new FacesRepo(store.db);
  const settings = store.project.settings.extraction;
  const stride = settings.frameStride;
  const cursor = store.getCursor(side, EXTRACT_STAGES.detect);
  if (cursor.finished) return;
  if (cursor.nextIndex === 0) store.transaction(() => repo.clearSide(side));
  const temporal = probed.kind === 'video';
  // Image folders have no motion to follow: every image is detected whole and people are linked by identity alone.
  const tracker = new Tracker(
    temporal ? {} : { minIou: 2, maxMissed: 0 },
    (cursor.state as TrackerState | null) ?? undefined,
  );
  const minFaceSide = Math.sqrt(settings.minFaceArea);
  const options = { threshold: settings.detectionThreshold, minFaceSide, autoDownscale: settings.useAutoDownscaling };
  const total = Math.ceil(probed.media.frameCount / stride);
  let done = Math.ceil(cursor.nextIndex / stride);
  let processed = 0;
  let pending: Array<{ frame: number; faces: NewFace[] }> = [];
  let nextIndex = cursor.nextIndex;
  const commit = (finished: boolean): void => {
    const snapshot = tracker.snapshot();
    store.transaction(() => {
      for (const { frame, faces } of pending) {
        for (const face of faces) repo.insert(face);
        repo.setFrameFaces(side, frame, faces.length);
      }
      store.setCursor(side, EXTRACT_STAGES.detect, nextIndex, finished, snapshot);
    });
    pending = [];
  };
  for await (const frame of decodeFrames(probed, { stride, startIndex: cursor.nextIndex, signal: ctx.signal })) {
    await ctx.waitWhilePaused();
    const faces: NewFace[] = [];
    if (frame.rgb) {
      const rgb = frame.rgb;
      if (temporal) {
        const signature = cutSignature(rgb, frame.width, frame.height);
        if (isCut(tracker.lastSignature, signature)) tracker.cut(frame.index);
        tracker.lastSignature = signature;
      }
      const active = tracker.activeBoxes(frame.index);
      const full = !temporal || active.length === 0 || processed % FULL_DETECT_EVERY === 0;
      const detections: Detection[] = full
        ? await detector.detectFrame(rgb, frame.width, frame.height, options)
        : await detector.detectAround(
            rgb,
            frame.width,
            frame.height,
            active.map((a) => a.box),
            options,
          );
      const ids = tracker.update(
        frame.index,
        detections.map((d) => d.box),
      );
      for (let i = 0; i < detections.length; i += 1) {
        const detection = detections[i] as Detection;
        let id = ids[i] as number;
        const track = tracker.tracks.find((t) => t.id === id);
        const isNew = track !== undefined && track.hits === 1;
        if (isNew || tracker.needsDescriptor(id, frame.index, IDENTITY_EVERY)) {
          // Identity: new faces are compared with earlier tracks (cuts, occlusions, other images);
          // known ones refresh their mean descriptor now and then.
          try {
            const landmarks = await nets.landmarks(rgb, frame.width, frame.height, detection.box);
            const transform = alignmentTransform(landmarks, DESCRIPTOR_CROP);
            const descriptor = await nets.descriptor(rgb, frame.width, frame.height, transform, DESCRIPTOR_CROP);
            if (isNew) id = tracker.reidentify(id, descriptor, frame.index);
            else tracker.addDescriptor(id, descriptor, frame.index);
          } catch {
            /* a face the landmark net cannot place keeps its track without an identity sample */
          }
        }
        faces.push({ side, frameIndex: frame.index, trackId: id, box: detection.box, score: detection.score });
      }
    }
    pending.push({ frame: frame.index, faces });
    processed += 1;
    done += 1;
    nextIndex = frame.index + 1;
    if (pending.length >= COMMIT_BATCH) commit(false);
    ctx.progress(`find faces ${label(side)}`, Math.min(done, total), total);
    if (ctx.signal.aborted) break;
  }
  if (ctx.signal.aborted) {
    commit(false);
    return;
  }
  commit(false);
  const descriptors = new Map(tracker.tracks.map((t) => [t.id, t]));
  const frameSets = repo.trackFrames(side);
  const merges = mergeTracksByIdentity(
    [...frameSets].map(([id, frames]) => ({
      id,
      frames,
      descriptor: descriptors.get(id)?.descriptor ?? null,
      weight: descriptors.get(id)?.descriptorCount ?? 0,
    })),
  );
  store.transaction(() => {
    for (const [keep, merged] of merges) repo.renameTrack(side, merged, keep);
  });
  for (const [keep, merged] of merges)
    ctx.log('info', `side ${label(side)}: track ${merged} is the same person as track ${keep}; joined`);
  const stats = repo.trackStats(side);
  if (stats.length === 0) {
    store.setCursor(side, EXTRACT_STAGES.detect, nextIndex, true, tracker.snapshot());
    throw new StudioError(ErrorCode.badMedia, `no face was found in ${probed.path}`, {
      file: probed.path,
      fix: 'choose a video or images where the face is visible and at least ~35 px tall, or lower the detection threshold in the project settings',
    });
  }
  const chosen = repo.userChoice(side) ?? defaultPerson(stats);
  store.transaction(() => {
    repo.saveTracks(
      side,
      stats.map((s) => ({ ...s, descriptor: descriptors.get(s.id)?.descriptor ?? null })),
      chosen,
    );
    store.setCursor(side, EXTRACT_STAGES.detect, nextIndex, true, tracker.snapshot());
  });
  ctx.log('info', `side ${label(side)}: ${stats.length} track(s); person = track ${chosen}`);
}

/** Stage 3: landmarks, alignment, quality and crops for the chosen person's faces. */
async function alignChosen(
  ctx: Ctx,
  side: Side,
  probed: ProbedSource,
  detector: FaceDetector,
  nets: FaceNets,
): Promise<void> {
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
  let keptSoFar = (
    store.db.prepare(`SELECT COUNT(*) AS n FROM faces WHERE side = ? AND status = 'kept'`).get(side) as { n: number }
  ).n;
  let batch: Array<() => void> = [];
  let nextIndex = cursor.nextIndex;
  const commit = (finished: boolean): void => {
    store.transaction(() => {
      for (const write of batch) write();
      store.setCursor(side, EXTRACT_STAGES.align, nextIndex, finished);
    });
    batch = [];
  };
  for await (const frame of decodeFrames(probed, {
    stride: settings.frameStride,
    startIndex: cursor.nextIndex,
    signal: ctx.signal,
  })) {
    await ctx.waitWhilePaused();
    const face = faces.get(frame.index);
    nextIndex = frame.index + 1;
    const frameCount =
      (
        store.db.prepare('SELECT face_count FROM frames WHERE side = ? AND idx = ?').get(side, frame.index) as
          { face_count: number } | undefined
      )?.face_count ?? 0;
    if (!face || !frame.rgb) {
      if (frameCount > 0)
        batch.push(() => repo.setFrameStatus(side, frame.index, 'absent', 'the chosen person is not in this frame'));
    } else {
      const landmarks = await nets.landmarks(frame.rgb, frame.width, frame.height, face.box);
      const aligned = alignFace(frame.rgb, frame.width, frame.height, landmarks);
      // min_face_area is about the detected box, as in the original.
      let reason = qualityVerdict({ ...aligned, faceSide: Math.sqrt(face.box.width * face.box.height) }, limits);
      if (reason === null && !(await confirmedFace(detector, aligned.crop)))
        reason = 'not a face after alignment (the detector disagrees)';
      let crop: string | null = null;
      let descriptor: Float32Array | null = null;
      if (reason === null) {
        crop = path.posix.join('faces', side, `${String(frame.index).padStart(6, '0')}.png`);
        const png = await sharp(Buffer.from(aligned.crop), {
          raw: { width: ALIGNED_SIZE, height: ALIGNED_SIZE, channels: 3 },
        })
          .png({ compressionLevel: 3 })
          .toBuffer();
        await writeFileAtomic(path.join(store.dir, crop), png);
        if (keptSoFar % DESCRIPTOR_EVERY === 0)
          descriptor = await nets.descriptor(frame.rgb, frame.width, frame.height, aligned.transform, ALIGNED_SIZE);
        keptSoFar += 1;
      }
      const fields = {
        landmarks,
        transform: aligned.transform,
        crop,
        yaw: aligned.yaw,
        pitch: aligned.pitch,
        sharpness: aligned.sharpness,
        status: reason === null ? ('kept' as const) : ('skipped' as const),
        reason,
        descriptor,
      };
      batch.push(() => {
        repo.saveAlignment(face.id, fields);
        repo.setFrameStatus(side, frame.index, fields.status, reason);
      });
      done += 1;
      ctx.progress(`align faces ${label(side)}`, done, total);
    }
    if (batch.length >= COMMIT_BATCH) commit(false);
    if (ctx.signal.aborted) break;
  }
  commit(!ctx.signal.aborted);
}

/** A second look: the aligned crop must show a face near its centre, or the landmarks were placed on something else. */
async function confirmedFace(detector: FaceDetector, crop: Uint8Array): Promise<boolean> {
  const whole = { x: 0, y: 0, width: ALIGNED_SIZE, height: ALIGNED_SIZE };
  const found = await detector.detectRegion(crop, ALIGNED_SIZE, ALIGNED_SIZE, whole, 0.5);
  const centre = ALIGNED_SIZE / 2;
  return found.some(
    (d) =>
      Math.abs(d.box.x + d.box.width / 2 - centre) < ALIGNED_SIZE * 0.2 &&
      Math.abs(d.box.y + d.box.height / 2 - centre) < ALIGNED_SIZE * 0.25,
  );
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

function report(store: ProjectStore, side: Side, frames: { read: number; unreadable: number }): SideReport {
  const repo = new FacesRepo(store.db);
  const count = (sql: string): number => (store.db.prepare(sql).get(side) as { n: number }).n;
  const skippedByReason = repo.skippedByReason(side);
  return {
    framesRead: frames.read,
    framesUnreadable: frames.unreadable,
    facesFound: count('SELECT COUNT(*) AS n FROM faces WHERE side = ?'),
    facesKept: count(`SELECT COUNT(*) AS n FROM faces WHERE side = ? AND status = 'kept'`),
    facesSkipped: Object.values(skippedByReason).reduce((a, b) => a + b, 0),
    skippedByReason,
    tracks: count('SELECT COUNT(*) AS n FROM tracks WHERE side = ?'),
    chosenTrack: repo.chosenTrack(side),
  };
}

/** Extraction: frames -> faces -> tracks -> the chosen person's aligned faces, per side; resumable at every stage. */
export async function runExtract(ctx: Ctx): Promise<Record<string, unknown>> {
  const sides = sideList(ctx.spec.side);
  const detector = await FaceDetector.load();
  const nets = await FaceNets.load();
  const perSide: Record<string, SideReport> = {};
  for (const side of sides) {
    const source = ctx.store.project.sources[side];
    const probed = await probeSource(source.path);
    const frames = await indexFrames(ctx, side, probed);
    if (ctx.signal.aborted) break;
    await detectAndTrack(ctx, side, probed, detector, nets);
    if (ctx.signal.aborted) break;
    await alignChosen(ctx, side, probed, detector, nets);
    if (ctx.signal.aborted) break;
    selectTrainingFaces(ctx.store, side);
    perSide[side] = report(ctx.store, side, frames);
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
  return { sides: perSide, stopped: ctx.signal.aborted };
}

/** The user picks another person for a side: later stages are redone for that track on the next extraction. */
export function choosePerson(store: ProjectStore, side: Side, trackId: number): void {
  const repo = new FacesRepo(store.db);
  if (!repo.trackStats(side).some((t) => t.id === trackId)) {
    throw new StudioError(ErrorCode.notFound, `side ${label(side)} has no track ${trackId}`, {
      field: 'params.trackId',
      fix: 'pick a face shown on the timeline',
    });
  }
  store.transaction(() => {
    repo.setUserChoice(side, trackId);
    store.db.prepare(`UPDATE faces SET status = 'pending', reason = NULL WHERE side = ?`).run(side);
    store.db
      .prepare(`UPDATE frames SET status = CASE WHEN face_count = 0 THEN status ELSE 'pending' END WHERE side = ?`)
      .run(side);
    store.setCursor(side, EXTRACT_STAGES.align, 0, false);
    store.setCursor(side, EXTRACT_STAGES.select, 0, false);
  });
}

/** Pick a side's person by a reference photo: the track whose identity is nearest to the face in the image. */
export async function choosePersonByReference(
  store: ProjectStore,
  side: Side,
  image: string,
): Promise<{ trackId: number; distance: number }> {
  let rgb: Uint8Array;
  let width: number;
  let height: number;
  try {
    const decoded = await sharp(image).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    rgb = decoded.data;
    width = decoded.info.width;
    height = decoded.info.height;
  } catch (error) {
    throw new StudioError(ErrorCode.badMedia, `${image} is not a readable image: ${(error as Error).message}`, {
      file: image,
      fix: 'use a JPEG or PNG photo of the person',
    });
  }
  const detector = await FaceDetector.load();
  const nets = await FaceNets.load();
  const faces = await detector.detectFrame(rgb, width, height, { threshold: 0.6, minFaceSide: 35 });
  const face = faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
  if (!face)
    throw new StudioError(ErrorCode.badMedia, `no face was found in ${image}`, {
      file: image,
      fix: 'use a photo where the face is clearly visible',
    });
  const landmarks = await nets.landmarks(rgb, width, height, face.box);
  const reference = await nets.descriptor(
    rgb,
    width,
    height,
    alignmentTransform(landmarks, DESCRIPTOR_CROP),
    DESCRIPTOR_CROP,
  );
  let best: { trackId: number; distance: number } | null = null;
  for (const track of new FacesRepo(store.db).trackDescriptors(side)) {
    const distance = descriptorDistance(track.descriptor, reference);
    if (!best || distance < best.distance) best = { trackId: track.id, distance };
  }
  if (!best)
    throw new StudioError(ErrorCode.notFound, `side ${label(side)} has no tracked faces yet`, {
      fix: 'run extraction first',
    });
  if (best.distance > 0.6) {
    throw new StudioError(
      ErrorCode.notFound,
      `nobody on side ${label(side)} looks like the face in ${image} (closest identity distance ${best.distance.toFixed(2)})`,
      {
        file: image,
        fix: 'use another photo of the person, or pick the person on the timeline',
      },
    );
  }
  choosePerson(store, side, best.trackId);
  store.db.prepare('UPDATE person_choice SET reference_image = ? WHERE side = ?').run(image, side);
  return best;
}
