import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ErrorCode, StudioError, type MaskEdit, type MaskPart, type Side } from '../../../src-shared/contract/index.js';
import { applyAffine, type Point } from '../../../src-shared/math/geometry.js';
import { MASK_PARTS, partPolygons, type MaskOverride, type PartEdit } from '../../../src-shared/math/masks.js';
import { ALIGNED_SIZE } from '../align/aligned-face.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FacesRepo } from '../project/faces-repo.js';
import type { ProjectStore } from '../project/store.js';

/**
 * Generated part masks (from landmarks) and hand edits, kept apart: edits live in mask_edits and masks/,
 * so re-running extraction never loses them. Coordinates are the aligned crop's pixels.
 */
export class MaskStore {
  private readonly faces: FacesRepo;

  constructor(private readonly store: ProjectStore) {
    this.faces = new FacesRepo(store.db);
  }

  private face(faceId: number) {
    const face = this.faces.get(faceId);
    if (!face)
      throw new StudioError(ErrorCode.notFound, `no face ${faceId} in this project`, { field: 'params.faceId' });
    return face;
  }

  generated(faceId: number): Record<string, Point[]> {
    const face = this.face(faceId);
    if (!face.landmarks || !face.transform) {
      throw new StudioError(ErrorCode.notFound, `face ${faceId} has no landmarks yet`, {
        fix: 'run extraction for this side first',
      });
    }
    const transform = face.transform;
    const inCrop = face.landmarks.map((p) => applyAffine(transform, p));
    const out: Record<string, Point[]> = {};
    for (const part of MASK_PARTS) {
      partPolygons(inCrop, part).forEach((polygon, i) => {
        out[i === 0 ? part : `${part}.${i}`] = polygon;
      });
    }
    return out;
  }

  edits(faceId: number): MaskEdit[] {
    const rows = this.store.db
      .prepare('SELECT face_id, part, polygon, raster, updated_at FROM mask_edits WHERE face_id = ? ORDER BY part')
      .all(faceId) as Array<{
      face_id: number;
      part: MaskPart;
      polygon: string | null;
      raster: string | null;
      updated_at: string;
    }>;
    return rows.map((r) => ({
      faceId: r.face_id,
      part: r.part,
      polygon: r.polygon ? (JSON.parse(r.polygon) as Point[]) : null,
      raster: r.raster,
      updatedAt: r.updated_at,
    }));
  }

  async save(faceId: number, part: MaskPart, polygon: Point[] | null, rasterPng: string | null): Promise<MaskEdit> {
    this.face(faceId);
    let raster: string | null = null;
    if (rasterPng !== null) {
      const bytes = Buffer.from(rasterPng, 'base64');
      let meta;
      try {
        meta = await sharp(bytes).metadata();
      } catch {
        throw new StudioError(ErrorCode.invalidParams, 'rasterPng: not a PNG image', { field: 'params.rasterPng' });
      }
      if (meta.format !== 'png' || meta.width !== ALIGNED_SIZE || meta.height !== ALIGNED_SIZE) {
        throw new StudioError(
          ErrorCode.invalidParams,
          `rasterPng: must be a ${ALIGNED_SIZE}x${ALIGNED_SIZE} PNG (got ${meta.format} ${meta.width}x${meta.height})`,
          {
            field: 'params.rasterPng',
          },
        );
      }
      raster = path.posix.join('masks', `${faceId}-${part}.png`);
      const grey = await sharp(bytes).greyscale().png().toBuffer();
      await writeFileAtomic(path.join(this.store.dir, raster), grey);
    }
    const updatedAt = new Date().toISOString();
    this.store.db
      .prepare(
        `INSERT INTO mask_edits (face_id, part, polygon, raster, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (face_id, part) DO UPDATE SET polygon = excluded.polygon, raster = excluded.raster, updated_at = excluded.updated_at`,
      )
      .run(faceId, part, polygon ? JSON.stringify(polygon) : null, raster, updatedAt);
    return { faceId, part, polygon, raster, updatedAt };
  }

  async reset(faceId: number, part?: MaskPart): Promise<number> {
    const edits = this.edits(faceId).filter((e) => part === undefined || e.part === part);
    this.store.transaction(() => {
      for (const e of edits)
        this.store.db.prepare('DELETE FROM mask_edits WHERE face_id = ? AND part = ?').run(faceId, e.part);
    });
    for (const e of edits) if (e.raster) await fs.rm(path.join(this.store.dir, e.raster), { force: true });
    return edits.length;
  }

  /** Copy one face's edit of a part to the next `count` faces of the same track (aligned crops share coordinates). */
  async propagate(faceId: number, part: MaskPart, count: number): Promise<number> {
    const face = this.face(faceId);
    const edit = this.edits(faceId).find((e) => e.part === part);
    if (!edit)
      throw new StudioError(ErrorCode.notFound, `face ${faceId} has no edit of ${part} to copy`, {
        fix: 'edit the mask first',
      });
    if (face.trackId === null) return 0;
    const next = this.faces
      .byTrack(face.side, face.trackId, face.frameIndex + 1)
      .filter((f) => f.landmarks !== null)
      .slice(0, count);
    const rasterPng = edit.raster
      ? (await fs.readFile(path.join(this.store.dir, edit.raster))).toString('base64')
      : null;
    for (const target of next) await this.save(target.id, part, edit.polygon, rasterPng);
    return next.length;
  }

  /** A face's edits ready for a swap (rasters decoded), or null when it has none or no crop transform. */
  async override(faceId: number): Promise<MaskOverride | null> {
    const face = this.faces.get(faceId);
    if (!face?.transform) return null;
    const edits = this.edits(faceId);
    if (edits.length === 0) return null;
    const parts: Partial<Record<MaskPart, PartEdit>> = {};
    for (const edit of edits) {
      let raster: Uint8Array | null = null;
      if (edit.raster) {
        try {
          const { data } = await sharp(path.join(this.store.dir, edit.raster))
            .extractChannel(0)
            .raw()
            .toBuffer({ resolveWithObject: true });
          raster = new Uint8Array(data);
        } catch {
          /* a painted mask that went missing: the part's polygon (or its automatic hull) stands in */
        }
      }
      parts[edit.part] = { polygon: edit.polygon, raster };
    }
    return { edits: { cropSize: ALIGNED_SIZE, parts }, frameToCrop: face.transform };
  }

  /** The edits of the chosen person's faces on one side, by frame index: what a conversion of that video honours. */
  async overridesByFrame(side: Side): Promise<Map<number, MaskOverride>> {
    const chosen = this.faces.chosenTrack(side);
    const rows = this.store.db
      .prepare(
        `SELECT DISTINCT f.id AS id, f.frame_idx AS frame FROM faces f JOIN mask_edits e ON e.face_id = f.id
         WHERE f.side = ? AND (? IS NULL OR f.track_id = ?)`,
      )
      .all(side, chosen, chosen) as Array<{ id: number; frame: number }>;
    const out = new Map<number, MaskOverride>();
    for (const row of rows) {
      const override = await this.override(row.id);
      if (override) out.set(row.frame, override);
    }
    return out;
  }
}
