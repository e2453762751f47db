/** Pure multi-face tracking: boxes linked across frames by overlap, re-linked after cuts by identity. */
import { boxArea, iou, type Box } from '../../../src-shared/math/geometry.js';

export interface TrackerOptions {
  /** Minimum IoU between a track's predicted box and a detection to continue the track. */
  minIou: number;
  /** Frames a track may go unseen before it stops predicting. */
  maxMissed: number;
  /** Largest descriptor distance (Euclidean, face-api scale) at which a new face is the same person as an old track. */
  reidDistance: number;
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = { minIou: 0.2, maxMissed: 10, reidDistance: 0.55 };

export interface TrackState {
  id: number;
  box: Box;
  /** Per-frame change of x, y, width, height. */
  velocity: [number, number, number, number];
  lastFrame: number;
  firstFrame: number;
  hits: number;
  areaSum: number;
  /** Running mean of the identity descriptors seen on this track. */
  descriptor: number[] | null;
  descriptorCount: number;
  descriptorFrame: number;
}

export interface TrackerState {
  nextId: number;
  tracks: TrackState[];
  /** Frame of the last shot cut: tracks last seen before it are not continued by overlap. */
  cutAt: number;
  /** Signature of the last frame, for cut detection across a resume. */
  lastSignature: number[] | null;
}

/** A tracker that has seen nothing yet. */
export function emptyTrackerState(): TrackerState {
  return { nextId: 1, tracks: [], cutAt: -1, lastSignature: null };
}

export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(sum);
}

export class Tracker {
  private readonly options: TrackerOptions;
  private state: TrackerState;

  constructor(options: Partial<TrackerOptions> = {}, state?: TrackerState) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    this.state = state ? structuredClone(state) : emptyTrackerState();
  }

  /** A JSON-safe snapshot, so a resumed extraction continues the same tracks. */
  snapshot(): TrackerState {
    return structuredClone(this.state);
  }

  get tracks(): readonly TrackState[] {
    return this.state.tracks;
  }

  private predicted(track: TrackState, frame: number): Box {
    const dt = Math.min(frame - track.lastFrame, 5);
    const [vx, vy, vw, vh] = track.velocity;
    return {
      x: track.box.x + vx * dt,
      y: track.box.y + vy * dt,
      width: Math.max(4, track.box.width + vw * dt),
      height: Math.max(4, track.box.height + vh * dt),
    };
  }

  /** Predicted boxes of tracks seen recently: where to look for faces without a full-frame detection. */
  activeBoxes(frame: number): Array<{ id: number; box: Box }> {
    return this.state.tracks
      .filter((t) => frame - t.lastFrame <= this.options.maxMissed && t.lastFrame >= this.state.cutAt)
      .map((t) => ({ id: t.id, box: this.predicted(t, frame) }));
  }

  /** The track each box would continue (greedy by IoU), or 0 for a new face; changes nothing. */
  match(frame: number, boxes: readonly Box[]): number[] {
    const active = this.activeBoxes(frame);
    const pairs: Array<{ d: number; t: number; score: number }> = [];
    boxes.forEach((box, d) =>
      active.forEach((a, t) => {
        const score = iou(box, a.box);
        if (score >= this.options.minIou) pairs.push({ d, t, score });
      }),
    );
    pairs.sort((p, q) => q.score - p.score);
    const ids: number[] = new Array<number>(boxes.length).fill(0);
    const usedTracks = new Set<number>();
    for (const { d, t } of pairs) {
      if (ids[d] !== 0 || usedTracks.has(t)) continue;
      ids[d] = (active[t] as { id: number }).id;
      usedTracks.add(t);
    }
    return ids;
  }

  /** Assign each detection to a track (greedy by IoU), starting new tracks for the rest. Returns track ids in order. */
  update(frame: number, boxes: readonly Box[]): number[] {
    const ids = this.match(frame, boxes);
    ids.forEach((id, d) => {
      if (id !== 0) this.observe(id, frame, boxes[d] as Box);
    });
    boxes.forEach((box, d) => {
      if (ids[d] !== 0) return;
      const id = this.state.nextId++;
      this.state.tracks.push({
        id,
        box,
        velocity: [0, 0, 0, 0],
        lastFrame: frame,
        firstFrame: frame,
        hits: 1,
        areaSum: boxArea(box),
        descriptor: null,
        descriptorCount: 0,
        descriptorFrame: -1,
      });
      ids[d] = id;
    });
    return ids;
  }

  track(id: number): TrackState | undefined {
    return this.state.tracks.find((t) => t.id === id);
  }

  private observe(id: number, frame: number, box: Box): void {
    const track = this.state.tracks.find((t) => t.id === id);
    if (!track) return;
    const dt = Math.max(1, frame - track.lastFrame);
    const blend = 0.5;
    const v: [number, number, number, number] = [
      (box.x - track.box.x) / dt,
      (box.y - track.box.y) / dt,
      (box.width - track.box.width) / dt,
      (box.height - track.box.height) / dt,
    ];
    track.velocity = track.velocity.map((old, i) => old * (1 - blend) + (v[i] as number) * blend) as [
      number,
      number,
      number,
      number,
    ];
    track.box = box;
    track.lastFrame = frame;
    track.hits += 1;
    track.areaSum += boxArea(box);
  }

  /** A shot cut at this frame: no track continues across it by overlap, only by identity. */
  cut(frame: number): void {
    this.state.cutAt = frame;
  }

  get lastSignature(): number[] | null {
    return this.state.lastSignature;
  }

  set lastSignature(signature: number[] | null) {
    this.state.lastSignature = signature;
  }

  /** Fold one more identity sample into the track's mean descriptor. */
  addDescriptor(id: number, descriptor: ArrayLike<number>, frame: number): void {
    const track = this.state.tracks.find((t) => t.id === id);
    if (!track) return;
    const n = track.descriptorCount;
    track.descriptor = track.descriptor
      ? track.descriptor.map((v, i) => (v * n + (descriptor[i] as number)) / (n + 1))
      : Array.from(descriptor);
    track.descriptorCount = n + 1;
    track.descriptorFrame = frame;
  }

  /** Whether a track's identity sample is older than `every` frames (or missing). */
  needsDescriptor(id: number, frame: number, every: number): boolean {
    const track = this.state.tracks.find((t) => t.id === id);
    return Boolean(track && (track.descriptorFrame < 0 || frame - track.descriptorFrame >= every));
  }

  /**
   * A new track whose face matches an older track that is no longer visible is the same person
   * (a camera cut, an occlusion): merge it into the older one. Returns the id the face keeps.
   */
  reidentify(id: number, descriptor: ArrayLike<number>, frame: number): number {
    this.addDescriptor(id, descriptor, frame);
    let best: TrackState | null = null;
    let bestDistance = this.options.reidDistance;
    for (const track of this.state.tracks) {
      if (track.id === id || track.descriptor === null || track.lastFrame >= frame) continue;
      const distance = descriptorDistance(track.descriptor, descriptor);
      if (distance < bestDistance) {
        best = track;
        bestDistance = distance;
      }
    }
    if (!best) return id;
    const fresh = this.state.tracks.find((t) => t.id === id) as TrackState;
    best.box = fresh.box;
    best.velocity = [0, 0, 0, 0];
    best.lastFrame = frame;
    best.hits += fresh.hits;
    best.areaSum += fresh.areaSum;
    this.addDescriptor(best.id, descriptor, frame);
    this.state.tracks = this.state.tracks.filter((t) => t.id !== id);
    return best.id;
  }
}

/** The person a side is about by default: the most present, largest track (presence x mean face side). */
export function defaultPerson(tracks: ReadonlyArray<{ id: number; frames: number; meanArea: number }>): number | null {
  let best: number | null = null;
  let bestScore = 0;
  for (const t of tracks) {
    const score = t.frames * Math.sqrt(t.meanArea);
    if (score > bestScore) {
      bestScore = score;
      best = t.id;
    }
  }
  return best;
}

export interface TrackIdentity {
  id: number;
  frames: ReadonlySet<number>;
  descriptor: readonly number[] | null;
  weight: number;
}

/**
 * After a pass, join tracks that never share a frame and whose mean identities are close: the same
 * person across cuts that re-identification at first sight missed (one sample is noisy; means are not).
 * Greedy, closest pair first. Returns [kept id, merged id] pairs in the order applied.
 */
export function mergeTracksByIdentity(tracks: readonly TrackIdentity[], maxDistance = 0.45): Array<[number, number]> {
  const live = tracks
    .filter((t) => t.descriptor !== null)
    .map((t) => ({ ...t, frames: new Set(t.frames), descriptor: [...(t.descriptor as number[])] }));
  const merges: Array<[number, number]> = [];
  for (;;) {
    let best: { a: number; b: number; distance: number } | null = null;
    for (let a = 0; a < live.length; a += 1) {
      for (let b = a + 1; b < live.length; b += 1) {
        const ta = live[a] as (typeof live)[number];
        const tb = live[b] as (typeof live)[number];
        const distance = descriptorDistance(ta.descriptor, tb.descriptor);
        if (distance >= maxDistance || (best && distance >= best.distance)) continue;
        let shared = false;
        for (const f of tb.frames)
          if (ta.frames.has(f)) {
            shared = true;
            break;
          }
        if (!shared) best = { a, b, distance };
      }
    }
    if (!best) return merges;
    const keep = live[best.a] as (typeof live)[number];
    const gone = live[best.b] as (typeof live)[number];
    const [winner, loser] = keep.frames.size >= gone.frames.size ? [keep, gone] : [gone, keep];
    winner.descriptor = winner.descriptor.map(
      (v, i) => (v * winner.weight + (loser.descriptor[i] as number) * loser.weight) / (winner.weight + loser.weight),
    );
    winner.weight += loser.weight;
    for (const f of loser.frames) winner.frames.add(f);
    merges.push([winner.id, loser.id]);
    live.splice(live.indexOf(loser), 1);
  }
}
