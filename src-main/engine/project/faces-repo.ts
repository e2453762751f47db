import type Database from 'better-sqlite3';
import type { FaceRecord, FrameStatus, Side } from '../../../src-shared/contract/index.js';
import type { Affine, Box, Point } from '../../../src-shared/math/geometry.js';
import { reasonCategory } from '../dataset/selection.js';

/** Rows of the faces and tracks tables, typed; the SQL stays here. */
export interface NewFace {
  side: Side;
  frameIndex: number;
  trackId: number;
  box: Box;
  score: number;
  /** The 68 landmarks found while following the face (alignment reuses them). */
  landmarks?: Point[] | null;
  /** Its identity sample, where one was taken. */
  descriptor?: Float32Array | null;
}

const roundedPoints = (points: readonly Point[]): string =>
  JSON.stringify(points.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100]));
const descriptorBlob = (d: Float32Array | null | undefined): Buffer | null =>
  d ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : null;

export interface FaceRow {
  id: number;
  side: Side;
  frameIndex: number;
  trackId: number | null;
  box: Box;
  score: number;
  landmarks: Point[] | null;
  transform: Affine | null;
  crop: string | null;
  yaw: number | null;
  pitch: number | null;
  sharpness: number | null;
  status: FrameStatus;
  reason: string | null;
  hasDescriptor: boolean;
}

interface RawFace {
  id: number;
  side: Side;
  frame_idx: number;
  track_id: number | null;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  landmarks: string | null;
  transform: string | null;
  crop: string | null;
  yaw: number | null;
  pitch: number | null;
  sharpness: number | null;
  status: FrameStatus;
  reason: string | null;
  has_descriptor: number;
}

const SELECT = `SELECT id, side, frame_idx, track_id, x, y, w, h, score, landmarks, transform, crop, yaw, pitch, sharpness, status, reason,
  descriptor IS NOT NULL AS has_descriptor FROM faces`;

function toRow(r: RawFace): FaceRow {
  return {
    id: r.id,
    side: r.side,
    frameIndex: r.frame_idx,
    trackId: r.track_id,
    box: { x: r.x, y: r.y, width: r.w, height: r.h },
    score: r.score,
    landmarks: r.landmarks ? (JSON.parse(r.landmarks) as Point[]) : null,
    transform: r.transform ? (JSON.parse(r.transform) as Affine) : null,
    crop: r.crop,
    yaw: r.yaw,
    pitch: r.pitch,
    sharpness: r.sharpness,
    status: r.status,
    reason: r.reason,
    hasDescriptor: r.has_descriptor === 1,
  };
}

export function toFaceRecord(row: FaceRow): FaceRecord {
  return {
    id: row.id,
    side: row.side,
    frameIndex: row.frameIndex,
    trackId: row.trackId,
    box: row.box,
    score: row.score,
    landmarks: row.landmarks,
    crop: row.crop,
    status: row.status,
    reason: row.reason,
  };
}

export class FacesRepo {
  constructor(private readonly db: Database.Database) {}

  insert(face: NewFace): number {
    const result = this.db
      .prepare(
        `INSERT INTO faces (side, frame_idx, track_id, x, y, w, h, score, landmarks, descriptor, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
      )
      .run(
        face.side,
        face.frameIndex,
        face.trackId,
        face.box.x,
        face.box.y,
        face.box.width,
        face.box.height,
        face.score,
        face.landmarks ? roundedPoints(face.landmarks) : null,
        descriptorBlob(face.descriptor),
      );
    return Number(result.lastInsertRowid);
  }

  setFrameFaces(side: Side, frameIndex: number, faceCount: number): void {
    this.db
      .prepare(
        `UPDATE frames SET face_count = ?, status = CASE WHEN ? = 0 THEN 'no_face' ELSE status END, reason = CASE WHEN ? = 0 THEN 'no face found' ELSE reason END WHERE side = ? AND idx = ?`,
      )
      .run(faceCount, faceCount, faceCount, side, frameIndex);
  }

  setFrameStatus(side: Side, frameIndex: number, status: FrameStatus, reason: string | null): void {
    this.db
      .prepare('UPDATE frames SET status = ?, reason = ? WHERE side = ? AND idx = ?')
      .run(status, reason, side, frameIndex);
  }

  /** Forget a side's detections (a restart of detection from scratch). */
  clearSide(side: Side): void {
    this.db.prepare('DELETE FROM faces WHERE side = ? AND id NOT IN (SELECT face_id FROM mask_edits)').run(side);
    this.db.prepare('DELETE FROM tracks WHERE side = ?').run(side);
  }

  saveTracks(
    side: Side,
    tracks: ReadonlyArray<{
      id: number;
      firstFrame: number;
      lastFrame: number;
      frames: number;
      meanArea: number;
      descriptor: number[] | null;
    }>,
    chosen: number | null,
  ): void {
    this.db.prepare('DELETE FROM tracks WHERE side = ?').run(side);
    const stmt = this.db.prepare(
      'INSERT INTO tracks (side, id, first_frame, last_frame, length, mean_area, chosen, descriptor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const t of tracks) {
      stmt.run(
        side,
        t.id,
        t.firstFrame,
        t.lastFrame,
        t.frames,
        t.meanArea,
        t.id === chosen ? 1 : 0,
        t.descriptor ? Buffer.from(new Float32Array(t.descriptor).buffer) : null,
      );
    }
  }

  trackStats(
    side: Side,
  ): Array<{ id: number; frames: number; meanArea: number; firstFrame: number; lastFrame: number }> {
    return this.db
      .prepare(
        `SELECT track_id AS id, COUNT(*) AS frames, AVG(w * h) AS meanArea, MIN(frame_idx) AS firstFrame, MAX(frame_idx) AS lastFrame
         FROM faces WHERE side = ? AND track_id IS NOT NULL GROUP BY track_id`,
      )
      .all(side) as Array<{ id: number; frames: number; meanArea: number; firstFrame: number; lastFrame: number }>;
  }

  trackFrames(side: Side): Map<number, Set<number>> {
    const rows = this.db
      .prepare('SELECT track_id, frame_idx FROM faces WHERE side = ? AND track_id IS NOT NULL')
      .all(side) as Array<{ track_id: number; frame_idx: number }>;
    const map = new Map<number, Set<number>>();
    for (const r of rows) {
      if (!map.has(r.track_id)) map.set(r.track_id, new Set());
      map.get(r.track_id)?.add(r.frame_idx);
    }
    return map;
  }

  renameTrack(side: Side, from: number, to: number): void {
    this.db.prepare('UPDATE faces SET track_id = ? WHERE side = ? AND track_id = ?').run(to, side, from);
  }

  /** Tracks' mean identity descriptors (stored as float32 blobs by saveTracks). */
  trackDescriptors(side: Side, chosenOnly = false): Array<{ id: number; descriptor: Float32Array }> {
    const rows = this.db
      .prepare(
        `SELECT id, descriptor FROM tracks WHERE side = ? AND descriptor IS NOT NULL${chosenOnly ? ' AND chosen = 1' : ''}`,
      )
      .all(side) as Array<{ id: number; descriptor: Buffer }>;
    return rows.map((r) => ({
      id: r.id,
      descriptor: new Float32Array(
        r.descriptor.buffer.slice(r.descriptor.byteOffset, r.descriptor.byteOffset + r.descriptor.byteLength),
      ),
    }));
  }

  chosenTrack(side: Side): number | null {
    const row = this.db.prepare('SELECT id FROM tracks WHERE side = ? AND chosen = 1').get(side) as
      { id: number } | undefined;
    return row?.id ?? null;
  }

  userChoice(side: Side): number | null {
    const row = this.db.prepare('SELECT track_id FROM person_choice WHERE side = ?').get(side) as
      { track_id: number | null } | undefined;
    return row?.track_id ?? null;
  }

  setUserChoice(side: Side, trackId: number): void {
    this.db
      .prepare(
        `INSERT INTO person_choice (side, track_id, chosen_at) VALUES (?, ?, ?)
         ON CONFLICT (side) DO UPDATE SET track_id = excluded.track_id, chosen_at = excluded.chosen_at`,
      )
      .run(side, trackId, new Date().toISOString());
    this.db.prepare('UPDATE tracks SET chosen = CASE WHEN id = ? THEN 1 ELSE 0 END WHERE side = ?').run(trackId, side);
  }

  byTrack(side: Side, trackId: number, fromFrame = 0): FaceRow[] {
    return (
      this.db
        .prepare(`${SELECT} WHERE side = ? AND track_id = ? AND frame_idx >= ? ORDER BY frame_idx`)
        .all(side, trackId, fromFrame) as RawFace[]
    ).map(toRow);
  }

  get(id: number): FaceRow | null {
    const raw = this.db.prepare(`${SELECT} WHERE id = ?`).get(id) as RawFace | undefined;
    return raw ? toRow(raw) : null;
  }

  list(
    side: Side,
    frameIndex: number | undefined,
    offset: number,
    limit: number,
    trackId?: number,
  ): { total: number; faces: FaceRow[] } {
    const clauses = ['side = ?'];
    const args: Array<string | number> = [side];
    if (frameIndex !== undefined) {
      clauses.push('frame_idx = ?');
      args.push(frameIndex);
    }
    if (trackId !== undefined) {
      clauses.push('track_id = ?');
      args.push(trackId);
    }
    const where = clauses.join(' AND ');
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM faces WHERE ${where}`).get(...args) as { n: number }).n;
    const rows = this.db
      .prepare(`${SELECT} WHERE ${where} ORDER BY frame_idx, id LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as RawFace[];
    return { total, faces: rows.map(toRow) };
  }

  saveAlignment(
    id: number,
    fields: {
      landmarks: Point[];
      transform: Affine;
      crop: string | null;
      yaw: number;
      pitch: number;
      sharpness: number;
      status: FrameStatus;
      reason: string | null;
      descriptor: Float32Array | null;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE faces SET landmarks = ?, transform = ?, crop = ?, yaw = ?, pitch = ?, sharpness = ?, status = ?, reason = ?,
           descriptor = COALESCE(?, descriptor) WHERE id = ?`,
      )
      .run(
        roundedPoints(fields.landmarks),
        JSON.stringify(fields.transform),
        fields.crop,
        fields.yaw,
        fields.pitch,
        fields.sharpness,
        fields.status,
        fields.reason,
        descriptorBlob(fields.descriptor),
        id,
      );
  }

  setStatus(id: number, status: FrameStatus, reason: string | null): void {
    this.db.prepare('UPDATE faces SET status = ?, reason = ? WHERE id = ?').run(status, reason, id);
  }

  /** Skipped faces grouped by reason, for the extraction report. */
  skippedByReason(side: Side): Record<string, number> {
    const rows = this.db
      .prepare(`SELECT reason, COUNT(*) AS n FROM faces WHERE side = ? AND status = 'skipped' GROUP BY reason`)
      .all(side) as Array<{ reason: string; n: number }>;
    const counts: Record<string, number> = {};
    for (const r of rows) counts[reasonCategory(r.reason)] = (counts[reasonCategory(r.reason)] ?? 0) + r.n;
    return counts;
  }
}
