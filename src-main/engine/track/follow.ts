/**
 * Following faces through a video (or a folder of images): detect, second look, landmarks, track, identity, one
 * frame at a time, and at the end join the tracks of one person and pick the person. Extraction's detection stage
 * and the conversion's tracking pass both run this.
 *
 * Less work where the answer is known: a full (tiled) detection every FULL_DETECT_EVERY frames and only over tiles
 * whose picture changed (tiles.ts), in between one region around each followed face; a followed face's 68
 * landmarks refined from the previous frame's in one pass (FaceNets.refine) instead of two; identity when a track
 * is new, resumes after a gap, or has too few samples for a stable mean. New faces get the second look
 * (detect/second-look.ts) against false faces; pieces of a frame (tiles, faces) run on the model workers in parallel.
 */
import { alignmentTransform } from '../../../src-shared/math/face.js';
import { iou, type Affine, type Box, type Point } from '../../../src-shared/math/geometry.js';
import type { FaceDetector } from '../detect/detector.js';
import { secondLook } from '../detect/second-look.js';
import type { Detection, Frame } from '../detect/types.js';
import type { FaceNets, LandmarkFit } from '../landmarks/face-nets.js';
import type { ModelPool } from '../pipeline/workers.js';
import { carryBox, faceLook, lookSimilarity, wellInside } from './carry.js';
import { cutSignature, isCut } from './scene-cut.js';
import { TileMemory } from './tiles.js';
import {
  Tracker,
  defaultPerson,
  descriptorDistance,
  mergeTracksByIdentity,
  type TrackState,
  type TrackerState,
} from './tracker.js';

/** On video, a full-frame (tiled) detection every this many frames; in between only around followed faces. */
export const FULL_DETECT_EVERY = 8;
/** A young track takes an identity sample every this many frames until it has MIN_IDENTITY_SAMPLES. */
export const IDENTITY_EVERY = 30;
const MIN_IDENTITY_SAMPLES = 3;
/** Then one now and then, so a long track's mean stays current. */
const IDENTITY_REFRESH = 150;
/** A carried face must keep this much of its look (normalised cross-correlation with the last frame's). */
export const CARRY_LOOK_SIMILARITY = 0.9;
/** Faces nearer the picture's edge than this share of their side are detected, not carried (they may leave). */
const CARRY_MARGIN = 0.1;
/** A detection overlapping a carried face this much is that face. */
const CARRIED_OVERLAP = 0.3;
/** A track seen again after more missed frames than this is checked again (occlusion, someone else). */
const RESUME_GAP = 2;
/** Followed this many frames, a face gets the looser second-look limit. */
const FOLLOWED_HITS = 3;
/** Crop size identity descriptors are computed from. */
export const DESCRIPTOR_CROP = 150;

/** What following needs of the models: local instances or the model workers. */
export interface FollowModels {
  detector: FaceDetector;
  landmarks(frame: Frame, boxes: readonly Box[]): Promise<Point[][]>;
  /** The fast path (FaceNets.refine); `detected`: the faces' detection boxes, for the full fit where it misses. */
  refine(frame: Frame, predicted: ReadonlyArray<readonly Point[]>, detected?: readonly Box[]): Promise<LandmarkFit[]>;
  descriptors(frame: Frame, alignments: readonly Affine[], cropSize: number): Promise<Float32Array[]>;
}

export function localModels(detector: FaceDetector, nets: FaceNets): FollowModels {
  return {
    detector,
    landmarks: (f, boxes) => nets.landmarksOf(f.rgb, f.width, f.height, boxes),
    refine: (f, predicted, detected) => nets.refine(f.rgb, f.width, f.height, predicted, detected),
    descriptors: (f, alignments, size) => nets.descriptors(f.rgb, f.width, f.height, alignments, size),
  };
}

export function pooledModels(detector: FaceDetector, pool: ModelPool): FollowModels {
  return {
    detector,
    landmarks: (f, boxes) => pool.landmarks(f, boxes),
    refine: (f, predicted, detected) => pool.refine(f, predicted, detected),
    descriptors: (f, alignments, size) => pool.descriptors(f, alignments, size),
  };
}

export interface FollowOptions {
  /** Video: faces continue by overlap. Image folders: every image is searched whole, people linked by identity. */
  temporal: boolean;
  threshold: number;
  minFaceSide: number;
  autoDownscale: boolean;
  /** Detections smaller than this area (px^2) are not followed (the converter's min_face_area). */
  minFaceArea?: number;
  /**
   * Between full detections, carry a steadily followed face by its landmarks alone (track/carry.ts) instead of a
   * detector run around it; the detector is asked when the carried fit or the face's look disagrees.
   */
  carryByLandmarks?: boolean;
}

export interface FollowedFace {
  trackId: number;
  box: Box;
  score: number;
  landmarks: Point[];
  /** The identity sample taken on this frame, if one was. */
  descriptor: Float32Array | null;
  /** Landmark passes this face took, as FaceNets.refine counts them (1: the fast path). */
  passes: number;
  /** Found without a detector run: carried from the last frame by its landmarks. */
  carried: boolean;
}

export interface FollowStats {
  frames: number;
  detections: number;
  /** Detections the second look turned down (false faces, or a second box on one face). */
  rejected: number;
  fullDetections: number;
  tilesSearched: number;
  tilesSkipped: number;
  landmarkPasses: number;
  identitySamples: number;
  /** Faces carried by their landmarks, and carries the detector was asked to check instead. */
  carried: number;
  carryRefused: number;
}

export function emptyFollowStats(): FollowStats {
  return {
    frames: 0,
    detections: 0,
    rejected: 0,
    fullDetections: 0,
    tilesSearched: 0,
    tilesSkipped: 0,
    landmarkPasses: 0,
    identitySamples: 0,
    carried: 0,
    carryRefused: 0,
  };
}

/** Previous landmarks moved as the face's box moved: where to look in this frame. */
export function predictLandmarks(previous: readonly Point[], from: Box, to: Box): Point[] {
  const s = Math.sqrt((to.width * to.height) / Math.max(1e-6, from.width * from.height));
  const fx = from.x + from.width / 2;
  const fy = from.y + from.height / 2;
  const tx = to.x + to.width / 2;
  const ty = to.y + to.height / 2;
  return previous.map(([x, y]): Point => [tx + s * (x - fx), ty + s * (y - fy)]);
}

export class Follower {
  readonly tracker: Tracker;
  private readonly tiles = new TileMemory();
  /** Each followed track's last landmarks, box, score, fit, and (when carrying) look. */
  private readonly last = new Map<number, LastSeen>();
  /** Tracks whose carry the last frame refused: detected on this frame, not tried again (each try costs a fit). */
  private refused = new Set<number>();
  private processed = 0;
  /** Full detections in a row that found no face, and frames since the last full detection. */
  private emptyFulls = 0;
  private sinceFull = 0;
  readonly stats: FollowStats = emptyFollowStats();

  constructor(
    private readonly models: FollowModels,
    private readonly options: FollowOptions,
    state?: TrackerState,
  ) {
    // Image folders have no motion to follow: every image is detected whole and people are linked by identity.
    this.tracker = new Tracker(options.temporal ? {} : { minIou: 2, maxMissed: 0 }, state);
  }

  snapshot(): TrackerState {
    return this.tracker.snapshot();
  }

  /** The faces of one frame, in detection order, with their (possibly re-identified) track ids. */
  async step(index: number, frame: Frame): Promise<FollowedFace[]> {
    const { tracker, options, models } = this;
    this.stats.frames += 1;
    let cut = false;
    if (options.temporal) {
      const signature = cutSignature(frame.rgb, frame.width, frame.height);
      cut = isCut(tracker.lastSignature, signature);
      if (cut) {
        tracker.cut(index);
        this.tiles.forget();
      }
      tracker.lastSignature = signature;
    }
    const detectOptions = {
      threshold: options.threshold,
      minFaceSide: options.minFaceSide,
      autoDownscale: options.autoDownscale,
    };
    const active = tracker.activeBoxes(index);
    // With nobody to follow, a shot that showed no face twice in a row is searched every other frame.
    const idle = active.length === 0 && (this.emptyFulls < 2 || this.sinceFull >= 2 || cut);
    const full = !options.temporal || idle || (active.length > 0 && this.processed % FULL_DETECT_EVERY === 0);
    this.processed += 1;
    this.sinceFull = full ? 1 : this.sinceFull + 1;
    let detections: Detection[] = [];
    // Faces carried by their landmarks (their fits known), by index in `detections`.
    const known = new Map<number, LandmarkFit>();
    if (full) {
      this.refused.clear();
      this.stats.fullDetections += 1;
      const regions = models.detector.regions(frame.width, frame.height, detectOptions);
      const skip = options.temporal ? this.tiles.skip(frame.rgb, frame.width, frame.height, regions, index) : [];
      this.stats.tilesSearched += regions.length - skip.length;
      this.stats.tilesSkipped += skip.length;
      detections = await models.detector.detectFrame(frame.rgb, frame.width, frame.height, { ...detectOptions, skip });
      this.emptyFulls = detections.length === 0 ? this.emptyFulls + 1 : 0;
    } else if (active.length > 0) {
      const { carried, rest } = options.carryByLandmarks
        ? await this.carry(index, frame, active)
        : { carried: [], rest: active };
      const around =
        rest.length > 0
          ? await models.detector.detectAround(
              frame.rgb,
              frame.width,
              frame.height,
              rest.map((a) => a.box),
              detectOptions,
            )
          : [];
      // A region around one face may hold a carried one too: that face is not found twice.
      detections = around.filter((d) => !carried.some((c) => iou(c.detection.box, d.box) > CARRIED_OVERLAP));
      for (const c of carried) {
        known.set(detections.length, c.fit);
        detections.push(c.detection);
      }
    }
    const minArea = options.minFaceArea ?? 0;
    const large = detections
      .map((d, i) => i)
      .filter((i) => (detections[i] as Detection).box.width * (detections[i] as Detection).box.height >= minArea);
    const knownFits = large.map((i) => known.get(i) ?? null);
    detections = large.map((i) => detections[i] as Detection);
    this.stats.detections += detections.length;

    // Landmarks: refined from the previous frame for faces that continue a track, two passes for new ones and for
    // tracks whose fast path missed in the last FULL_AFTER_MISS frames.
    const predecessors = tracker.match(
      index,
      detections.map((d) => d.box),
    );
    const refineAt: number[] = [];
    const freshAt: number[] = [];
    predecessors.forEach((id, i) => {
      if (knownFits[i]) return;
      const last = id !== 0 ? this.last.get(id) : undefined;
      (last && last.fullFrames === 0 ? refineAt : freshAt).push(i);
    });
    const [refined, fresh] = await Promise.all([
      models.refine(
        frame,
        refineAt.map((i) => {
          const prev = this.last.get(predecessors[i] as number) as { landmarks: Point[]; box: Box };
          return predictLandmarks(prev.landmarks, prev.box, (detections[i] as Detection).box);
        }),
        refineAt.map((i) => (detections[i] as Detection).box),
      ),
      models.landmarks(
        frame,
        freshAt.map((i) => (detections[i] as Detection).box),
      ),
    ]);
    const fits: LandmarkFit[] = knownFits.map((fit) => fit as LandmarkFit);
    refineAt.forEach((i, k) => (fits[i] = refined[k] as LandmarkFit));
    freshAt.forEach((i, k) => (fits[i] = { points: fresh[k] as Point[], passes: 2 }));

    const keep = secondLook(
      detections.map((detection, i) => {
        const id = predecessors[i] as number;
        const hits = id !== 0 ? (tracker.track(id)?.hits ?? 0) : 0;
        return { detection, landmarks: (fits[i] as LandmarkFit).points, followed: hits >= FOLLOWED_HITS };
      }),
    );
    const accepted = detections.map((_, i) => i).filter((i) => keep[i]);
    this.stats.rejected += detections.length - accepted.length;
    const resumed = new Map<number, boolean>();
    for (const i of accepted) {
      const id = predecessors[i] as number;
      const track = id !== 0 ? tracker.track(id) : undefined;
      if (track) resumed.set(i, index - track.lastFrame > RESUME_GAP + 1);
    }
    const ids = tracker.update(
      index,
      accepted.map((i) => (detections[i] as Detection).box),
    );

    // Identity where it is not yet known, or no longer certain.
    const sampleAt = accepted
      .map((i, k) => ({ i, k }))
      .filter(({ i, k }) => wantsIdentity(tracker.track(ids[k] as number), index, resumed.get(i) ?? false));
    const descriptors = await models.descriptors(
      frame,
      sampleAt.map(({ i }) => alignmentTransform((fits[i] as LandmarkFit).points, DESCRIPTOR_CROP)),
      DESCRIPTOR_CROP,
    );
    this.stats.identitySamples += descriptors.length;
    const sampled = new Map<number, Float32Array>();
    sampleAt.forEach(({ k }, n) => {
      const id = ids[k] as number;
      const descriptor = descriptors[n] as Float32Array;
      const track = tracker.track(id);
      if (track?.hits === 1) ids[k] = tracker.reidentify(id, descriptor, index);
      else tracker.addDescriptor(id, descriptor, index);
      sampled.set(k, descriptor);
    });

    const faces = accepted.map((i, k): FollowedFace => {
      const fit = fits[i] as LandmarkFit;
      const carried = knownFits[i] !== null;
      this.stats.landmarkPasses += fit.passes;
      const detection = detections[i] as Detection;
      const before = this.last.get(ids[k] as number);
      this.last.set(ids[k] as number, {
        landmarks: fit.points,
        box: detection.box,
        anchor: carried && before ? before.anchor : { box: detection.box, landmarks: fit.points },
        score: detection.score,
        fullFrames: fullFramesAfter(fit, before),
        frame: index,
        look: options.carryByLandmarks ? faceLook(frame.rgb, frame.width, frame.height, fit.points) : null,
      });
      return {
        trackId: ids[k] as number,
        box: detection.box,
        score: detection.score,
        landmarks: fit.points,
        descriptor: sampled.get(k) ?? null,
        passes: fit.passes,
        carried,
      };
    });
    // Forget landmarks of tracks that are no longer followed (memory stays flat over long videos).
    const live = new Set(tracker.activeBoxes(index + 1).map((a) => a.id));
    for (const id of this.last.keys()) if (!live.has(id)) this.last.delete(id);
    return faces;
  }

  /**
   * The faces that can be carried by their landmarks into this frame: seen on the last frame, followed for a while,
   * well inside the picture; each is refined from where its landmarks should now be (a second pass where the first
   * moved, as for any followed face), and kept when the face still looks as it did. The rest go to the detector.
   */
  private async carry(
    index: number,
    frame: Frame,
    active: ReadonlyArray<{ id: number; box: Box }>,
  ): Promise<{ carried: Carried[]; rest: Array<{ id: number; box: Box }> }> {
    const refusedBefore = this.refused;
    this.refused = new Set<number>();
    const candidates = active.filter((a) => {
      const last = this.last.get(a.id);
      const hits = this.tracker.track(a.id)?.hits ?? 0;
      return (
        last !== undefined &&
        last.look !== null &&
        last.frame === index - 1 &&
        !refusedBefore.has(a.id) &&
        hits >= FOLLOWED_HITS &&
        wellInside(a.box, frame.width, frame.height, CARRY_MARGIN)
      );
    });
    const rest = active.filter((a) => !candidates.includes(a));
    if (candidates.length === 0) return { carried: [], rest };
    const fits = await this.models.refine(
      frame,
      candidates.map((a) => {
        const last = this.last.get(a.id) as LastSeen;
        return predictLandmarks(last.landmarks, last.box, a.box);
      }),
    );
    const carried: Carried[] = [];
    candidates.forEach((a, k) => {
      const fit = fits[k] as LandmarkFit;
      const last = this.last.get(a.id) as LastSeen;
      const look = faceLook(frame.rgb, frame.width, frame.height, fit.points);
      if (!look || lookSimilarity(look, last.look as Float32Array) < CARRY_LOOK_SIMILARITY) {
        this.stats.carryRefused += 1;
        this.refused.add(a.id);
        rest.push(a);
        return;
      }
      this.stats.carried += 1;
      carried.push({
        // From the face's last detection, not the last frame's carried box: carried box to carried box, the
        // landmarks' noise added up (a face's box shrank 71 -> 59 px over five frames while detected at ~79 px).
        detection: {
          box: carryBox(last.anchor.box, last.anchor.landmarks, fit.points),
          score: last.score,
          keypoints: [],
        },
        fit,
      });
    });
    return { carried, rest };
  }
}

/** A followed track as the last frame left it. */
interface LastSeen {
  landmarks: Point[];
  box: Box;
  score: number;
  /** Frames this track still takes the full two passes, after its fast path missed (see fullFramesAfter). */
  fullFrames: number;
  frame: number;
  look: Float32Array | null;
  /** The face's box and landmarks where it was last detected (not carried): where a carried box is measured from. */
  anchor: { box: Box; landmarks: Point[] };
}

/**
 * After a fast path that missed (its one pass had to be followed by the full two: three passes), a track takes the
 * full two passes for this many frames before it tries the fast path again: a face that moved or turned so that one
 * pass missed tends to miss again on the next frames, and each miss costs a pass more than the full fit.
 */
export const FULL_AFTER_MISS = 4;

function fullFramesAfter(fit: LandmarkFit, before: LastSeen | undefined): number {
  if (fit.passes > 2) return FULL_AFTER_MISS;
  if (fit.passes === 2 && before) return Math.max(0, before.fullFrames - 1);
  return 0;
}

/** A face carried by its landmarks: a detection made from the last one, and its fit. */
interface Carried {
  detection: Detection;
  fit: LandmarkFit;
}

function wantsIdentity(track: TrackState | undefined, frame: number, resumed: boolean): boolean {
  if (!track) return false;
  if (track.hits === 1 || resumed || track.descriptorFrame < 0) return true;
  const since = frame - track.descriptorFrame;
  return since >= (track.descriptorCount < MIN_IDENTITY_SAMPLES ? IDENTITY_EVERY : IDENTITY_REFRESH);
}

/** A track as the end of a pass sees it. */
export interface TrackSummary {
  id: number;
  frames: ReadonlySet<number>;
  /** Mean box area over its frames (px^2). */
  meanArea: number;
}

/** A track's identity so far: the mean of its descriptors and how many went into it (a Tracker's track()). */
export type IdentityOf = (id: number) => Pick<TrackState, 'descriptor' | 'descriptorCount'> | undefined;

/**
 * The end of a pass: join the tracks of one person (mergeTracksByIdentity), then pick the person: the track whose
 * identity is nearest `reference` (within face-api's 0.6), else the most present, largest one (defaultPerson).
 * Returns the merges [kept, merged] in the order applied and the chosen (kept) id.
 */
export function resolvePeople(
  tracks: readonly TrackSummary[],
  identityOf: IdentityOf,
  reference: ArrayLike<number> | null = null,
): { merges: Array<[number, number]>; chosen: number | null } {
  const merges = mergeTracksByIdentity(
    tracks.map((t) => {
      const state = identityOf(t.id);
      return { id: t.id, frames: t.frames, descriptor: state?.descriptor ?? null, weight: state?.descriptorCount ?? 0 };
    }),
  );
  const rename = new Map<number, number>();
  for (const [keep, gone] of merges) rename.set(gone, keep);
  const root = (id: number): number => (rename.has(id) ? root(rename.get(id) as number) : id);
  const joined = new Map<number, { frames: number; areaSum: number }>();
  for (const t of tracks) {
    const j = joined.get(root(t.id)) ?? { frames: 0, areaSum: 0 };
    j.frames += t.frames.size;
    j.areaSum += t.meanArea * t.frames.size;
    joined.set(root(t.id), j);
  }
  if (reference) {
    let best: { id: number; distance: number } | null = null;
    for (const id of joined.keys()) {
      const descriptor = identityOf(id)?.descriptor;
      if (!descriptor) continue;
      const distance = descriptorDistance(descriptor, reference);
      if (distance < 0.6 && (!best || distance < best.distance)) best = { id, distance };
    }
    if (best) return { merges, chosen: best.id };
  }
  const chosen = defaultPerson(
    [...joined].map(([id, j]) => ({ id, frames: j.frames, meanArea: j.frames ? j.areaSum / j.frames : 0 })),
  );
  return { merges, chosen };
}
