/**
 * One frame's comparison for the export check (outside-mask.ts): the pixels an export changed outside the region
 * the swap may touch. Pure, and light to load (no media or image libraries): the model workers import it when the
 * check starts, and its first frames waited ~0.3 s for a heavier import before.
 */
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { Affine, Point } from '../../../src-shared/math/geometry.js';
import { patchBox, sampleMask } from '../../../src-shared/math/quality.js';
import { dilate } from '../../../src-shared/math/raster.js';
import { blendRegion, type MaskOverride } from '../convert/frame.js';

/** Where the conversion placed a face: its landmarks and the frame -> patch transform it blended through. */
export interface Placement {
  landmarks: readonly Point[];
  toPatch: Affine;
}

/** An encoded pixel may differ from its source by this much (0..255, any channel) and still count as unchanged. */
export const ENCODED_TOLERANCE = 32;
/** Distance (frame px) around the region where the codec may smear the swap's change: 4:2:0 chroma and deblocking. */
export const CODEC_MARGIN_PX = 4;

/** The region as a mask over its box in the frame (x0, y0, bw x bh): outside the box nothing is in the region. */
interface BoxedRegion {
  x0: number;
  y0: number;
  bw: number;
  bh: number;
  mask: Uint8Array;
}
const NO_REGION: BoxedRegion = { x0: 0, y0: 0, bw: 0, bh: 0, mask: new Uint8Array(0) };

/**
 * The region (patch pixels) dilated by the codec margin, within the patch's bounding box. Kept to the box: a
 * frame-sized mask was a fresh allocation a frame, and fresh memory costs its page faults.
 */
function frameRegion(region: Float32Array, r: number, toPatch: Affine, width: number, height: number): BoxedRegion {
  // Bounding box of the patch in the frame, plus the margin.
  const box = patchBox(toPatch, r, width, height, CODEC_MARGIN_PX + 1);
  if (!box) return NO_REGION;
  const bw = box.x1 - box.x0 + 1;
  const bh = box.y1 - box.y0 + 1;
  const sampled = sampleMask(region, r, toPatch, box.x0, box.y0, bw, bh);
  const inside = new Uint8Array(bw * bh);
  for (let i = 0; i < inside.length; i += 1) if ((sampled[i] as number) > 1e-4) inside[i] = 255;
  return { x0: box.x0, y0: box.y0, bw, bh, mask: dilate(inside, bw, bh, 2 * CODEC_MARGIN_PX + 1) };
}

/** One column of a side-by-side layout frame. */
export function layoutColumn(rgb: Uint8Array, w: number, h: number, columns: number, index: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y += 1)
    out.set(rgb.subarray((y * w * columns + index * w) * 3, (y * w * columns + (index + 1) * w) * 3), y * w * 3);
  return out;
}

/** One output frame's pixels outside the region (and the label's corner) against its source. */
export interface FrameComparison {
  pixels: number;
  changed: number;
  absSum: number;
}

/** What comparing one frame needs; plain data, so a model worker can do it (pipeline/model-worker.ts). */
export interface ComparisonJob {
  source: Uint8Array;
  /** The decoded export frame (all its columns). */
  encoded: Uint8Array;
  width: number;
  height: number;
  columns: number;
  placement: Placement | null;
  resolution: number;
  segmentation: ConverterConfig['segmentation'];
  override: MaskOverride | null;
  label: { x: number; y: number; width: number; height: number } | null;
}

/** Pure: count the pixels an export changed outside the region the swap may touch. */
export function compareFrame(job: ComparisonJob): FrameComparison {
  const { width: w, height: h, source, placement, label } = job;
  const result = job.columns === 1 ? job.encoded : layoutColumn(job.encoded, w, h, job.columns, 1);
  const region: BoxedRegion = placement
    ? frameRegion(
        blendRegion(placement.landmarks, placement.toPatch, job.resolution, job, job.override),
        job.resolution,
        placement.toPatch,
        w,
        h,
      )
    : NO_REGION;
  let pixels = 0;
  let changed = 0;
  let absSum = 0;
  for (let y = 0; y < h; y += 1) {
    const inLabelRows = label !== null && y >= label.y && y < label.y + label.height;
    const inRegionRows = y >= region.y0 && y < region.y0 + region.bh;
    if (!inLabelRows && !inRegionRows) {
      // Most rows: every pixel compared (the loop below without its tests).
      for (let o = y * w * 3, end = (y + 1) * w * 3; o < end; o += 3) {
        const d0 = Math.abs((source[o] as number) - (result[o] as number));
        const d1 = Math.abs((source[o + 1] as number) - (result[o + 1] as number));
        const d2 = Math.abs((source[o + 2] as number) - (result[o + 2] as number));
        absSum += d0 + d1 + d2;
        if (d0 > ENCODED_TOLERANCE || d1 > ENCODED_TOLERANCE || d2 > ENCODED_TOLERANCE) changed += 1;
      }
      pixels += w;
      continue;
    }
    // Where this row's x = 0 would lie in the region's mask.
    const row = (y - region.y0) * region.bw - region.x0;
    for (let x = 0; x < w; x += 1) {
      const p = y * w + x;
      if (inRegionRows && x >= region.x0 && x < region.x0 + region.bw && region.mask[row + x]) continue;
      if (inLabelRows && label && x >= label.x && x < label.x + label.width) continue;
      pixels += 1;
      const o = p * 3;
      const d0 = Math.abs((source[o] as number) - (result[o] as number));
      const d1 = Math.abs((source[o + 1] as number) - (result[o + 1] as number));
      const d2 = Math.abs((source[o + 2] as number) - (result[o + 2] as number));
      absSum += d0 + d1 + d2;
      if (d0 > ENCODED_TOLERANCE || d1 > ENCODED_TOLERANCE || d2 > ENCODED_TOLERANCE) changed += 1;
    }
  }
  return { pixels, changed, absSum };
}
