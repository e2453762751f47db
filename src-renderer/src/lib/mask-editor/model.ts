/**
 * The mask editor's model: each part of one face is either automatic (the generated hulls) or edited (its own rings
 * and/or a painted raster). States are immutable, so the undo stack can hold them as they are.
 *
 * What a saved edit means: `polygon` is the part's edited rings (encodeRings); `raster`, when present, is the whole
 * mask of the part (0..255): painting starts from the filled rings, and later polygon edits are carried over to it.
 */
import type { MaskEdit, MaskPart, ParamsOf } from '../../../../src-shared/contract/index.js';
import type { Point } from '../../../../src-shared/math/geometry.js';
import { applyPolygonChange, rasterFromRings, rastersEqual } from './brush.js';
import { decodeRings, encodeRings, ringsEqual, roundRings, type Rings } from './polygon.js';

export const CROP_SIZE = 256;
export const PARTS: readonly MaskPart[] = ['eyes', 'eyebrows', 'nose', 'mouth', 'face'];
export const PART_LABELS: Record<MaskPart, string> = {
  eyes: 'Eyes',
  eyebrows: 'Eyebrows',
  nose: 'Nose',
  mouth: 'Mouth',
  face: 'Face',
};

export interface PartMask {
  /** Edited rings, or null for the generated hulls. */
  readonly rings: Rings | null;
  /** The painted mask, or null when the part was never painted. */
  readonly raster: Uint8Array | null;
}

export type FaceMasks = Readonly<Record<MaskPart, PartMask>>;
/** masks.get's `generated`: part name (and "eyes.1" for a second ring) -> polygon in crop pixels. */
export type Generated = Readonly<Record<string, readonly Point[]>>;

export const AUTOMATIC: PartMask = Object.freeze({ rings: null, raster: null });

export function automaticMasks(): FaceMasks {
  return { eyes: AUTOMATIC, eyebrows: AUTOMATIC, nose: AUTOMATIC, mouth: AUTOMATIC, face: AUTOMATIC };
}

/** The generated rings of a part: `part`, then `part.1`, `part.2`, … */
export function generatedRings(generated: Generated, part: MaskPart): Point[][] {
  const rings: Point[][] = [];
  for (let i = 0; ; i += 1) {
    const ring = generated[i === 0 ? part : `${part}.${i}`];
    if (!ring) break;
    rings.push(ring.map(([x, y]) => [x, y] as Point));
  }
  return rings;
}

export function isEdited(mask: PartMask): boolean {
  return mask.rings !== null || mask.raster !== null;
}

/** The rings the editor shows and edits for a part: its own, or the generated ones. */
export function ringsOf(masks: FaceMasks, generated: Generated, part: MaskPart): Rings {
  return masks[part].rings ?? generatedRings(generated, part);
}

export function withPart(masks: FaceMasks, part: MaskPart, mask: PartMask): FaceMasks {
  return masks[part] === mask ? masks : { ...masks, [part]: mask };
}

/** New rings for a part; a painted raster follows the change. */
export function setRings(masks: FaceMasks, generated: Generated, part: MaskPart, rings: Rings): FaceMasks {
  const before = ringsOf(masks, generated, part);
  if (ringsEqual(before, rings)) return masks;
  const raster = masks[part].raster;
  return withPart(masks, part, {
    rings,
    raster: raster === null ? null : applyPolygonChange(raster, CROP_SIZE, before, rings),
  });
}

/** The raster a stroke starts from: the painted one, or the part's rings filled. Always a fresh copy. */
export function paintBase(masks: FaceMasks, generated: Generated, part: MaskPart): Uint8Array {
  return masks[part].raster?.slice() ?? rasterFromRings(ringsOf(masks, generated, part), CROP_SIZE);
}

export function setRaster(masks: FaceMasks, part: MaskPart, raster: Uint8Array): FaceMasks {
  return withPart(masks, part, { rings: masks[part].rings, raster });
}

export function samePart(a: PartMask, b: PartMask): boolean {
  return a === b || (ringsEqual(a.rings, b.rings) && rastersEqual(a.raster, b.raster));
}

/** Parts whose current state differs from the saved one. */
export function dirtyParts(current: FaceMasks, saved: FaceMasks): MaskPart[] {
  return PARTS.filter((part) => !samePart(current[part], saved[part]));
}

/** The part that differs between two states (the first), e.g. to show what an undo changed. */
export function changedPart(a: FaceMasks, b: FaceMasks): MaskPart | null {
  return PARTS.find((part) => a[part] !== b[part]) ?? null;
}

/** The saved state from masks.get's edits; rasters (PNG files) are filled in by the caller once decoded. */
export function masksFromEdits(
  edits: readonly Pick<MaskEdit, 'part' | 'polygon'>[],
  rasters: Partial<Record<MaskPart, Uint8Array>> = {},
): FaceMasks {
  let masks = automaticMasks();
  for (const edit of edits) {
    const rings = edit.polygon && edit.polygon.length >= 3 ? decodeRings(edit.polygon) : null;
    masks = withPart(masks, edit.part, { rings, raster: rasters[edit.part] ?? null });
  }
  return masks;
}

export type SaveParams = ParamsOf<'masks.saveEdit'>;

/**
 * masks.saveEdit's params for a part, less the PNG (which needs a canvas): `rasterPng` is null here and the caller
 * sets it when `needsRaster`. Null when the part is automatic (reset it instead).
 */
export function saveRequest(
  dir: string,
  faceId: number,
  part: MaskPart,
  mask: PartMask,
): { params: SaveParams; needsRaster: boolean } | null {
  if (!isEdited(mask)) return null;
  const polygon = mask.rings === null ? null : encodeRings(roundRings(mask.rings));
  return {
    params: { dir, faceId, part, polygon: polygon && polygon.length >= 3 ? polygon : null, rasterPng: null },
    needsRaster: mask.raster !== null,
  };
}

export const MAX_PROPAGATE = 10_000;

/** "12" -> 12; anything that is not a whole number from 1 to 10 000 -> null. */
export function parseCount(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const n = Number(trimmed);
  return n >= 1 && n <= MAX_PROPAGATE ? n : null;
}

export type PropagatePlan =
  { ok: true; saveFirst: boolean; params: ParamsOf<'masks.propagate'> } | { ok: false; reason: string };

/**
 * What "Copy to next N frames" must do: masks.propagate copies the part's saved edit, so unsaved changes to it are
 * saved first; an automatic part has nothing to copy.
 */
export function planPropagation(options: {
  dir: string;
  faceId: number;
  part: MaskPart;
  count: string | number;
  current: FaceMasks;
  saved: FaceMasks;
}): PropagatePlan {
  const count = typeof options.count === 'number' ? parseCount(String(options.count)) : parseCount(options.count);
  if (count === null)
    return { ok: false, reason: `Enter a number of frames from 1 to ${MAX_PROPAGATE.toLocaleString('en-US')}.` };
  const mask = options.current[options.part];
  if (!isEdited(mask)) return { ok: false, reason: `${PART_LABELS[options.part]} is automatic here: edit it first.` };
  return {
    ok: true,
    saveFirst: !samePart(mask, options.saved[options.part]),
    params: { dir: options.dir, faceId: options.faceId, part: options.part, count },
  };
}
