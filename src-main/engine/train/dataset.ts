import path from 'node:path';
import sharp from 'sharp';
import { ErrorCode, StudioError, type Side } from '../../../src-shared/contract/index.js';
import { applyAffine, type Point } from '../../../src-shared/math/geometry.js';
import { toByteMask } from '../../../src-shared/math/raster.js';
import { trainingEyeMask, trainingEyeMaskFromEdit } from '../../../src-shared/math/masks.js';
import { MaskStore } from '../masks/edits.js';
import type { ProjectStore } from '../project/store.js';
import { FACE_SIZE, type Sample } from './augment.js';
import { drawBatch, type AugmentOptions, type Batch } from './batch.js';
import type { Rng } from '../../../src-shared/math/rng.js';

export type { Batch } from './batch.js';

/** The training faces of both sides, decoded once and kept in memory (256 px crops and eye masks). */
export class FaceSet {
  /** How many faces train with a hand-edited eyes mask instead of the automatic one. */
  editedEyeMasks = 0;

  /** Each face's 68 landmarks in its crop (for Method #1's pastes), beside `faces` in the same order. */
  landmarks: Record<Side, Point[][]> = { a: [], b: [] };

  constructor(readonly faces: Record<Side, Sample[]>) {}

  static async fromProject(store: ProjectStore): Promise<FaceSet> {
    const faces: Record<Side, Sample[]> = { a: [], b: [] };
    const landmarksOf: Record<Side, Point[][]> = { a: [], b: [] };
    const masks = new MaskStore(store);
    const edits = new Set(
      (
        store.db.prepare(`SELECT DISTINCT face_id FROM mask_edits WHERE part = 'eyes'`).all() as Array<{
          face_id: number;
        }>
      ).map((r) => r.face_id),
    );
    let editedFaces = 0;
    for (const side of ['a', 'b'] as const) {
      const rows = store.db
        .prepare(
          `SELECT id, crop, landmarks, transform FROM faces WHERE side = ? AND status = 'kept' AND crop IS NOT NULL ORDER BY frame_idx, id`,
        )
        .all(side) as Array<{ id: number; crop: string; landmarks: string; transform: string }>;
      for (const row of rows) {
        const file = path.join(store.dir, row.crop);
        try {
          const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
          if (info.width !== FACE_SIZE || info.height !== FACE_SIZE) continue;
          const transform = JSON.parse(row.transform) as [number, number, number, number, number, number];
          const landmarks = (JSON.parse(row.landmarks) as Array<[number, number]>).map((p) =>
            applyAffine(transform, p),
          );
          // A hand-edited eyes mask (same crop pixels) replaces the automatic one in the eye-weighted losses.
          const edited = edits.has(row.id) ? (await masks.override(row.id))?.edits.parts.eyes : undefined;
          const eyes =
            (edited && trainingEyeMaskFromEdit(edited, FACE_SIZE, FACE_SIZE)) ??
            trainingEyeMask(landmarks, FACE_SIZE, FACE_SIZE);
          if (edited) editedFaces += 1;
          faces[side].push({ rgb: new Uint8Array(data), eyes: toByteMask(eyes) });
          landmarksOf[side].push(landmarks);
        } catch {
          /* a face crop that went missing or is damaged is left out; extraction can recreate it */
        }
      }
      if (faces[side].length === 0) {
        throw new StudioError(ErrorCode.notFound, `side ${side.toUpperCase()} has no extracted faces to train on`, {
          fix: 'run extraction first ("faceparts extract <project>")',
        });
      }
    }
    const set = new FaceSet(faces);
    set.editedEyeMasks = editedFaces;
    set.landmarks = landmarksOf;
    return set;
  }

  /** Draw an augmented batch for one side; deterministic for a given RNG state. */
  batch(side: Side, count: number, size: number, rng: Rng, options: AugmentOptions = {}): Batch {
    return drawBatch(this.faces, side, count, size, rng, options);
  }
}
