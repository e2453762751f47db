/** Pure BlazeFace (full range, 256 px) post-processing: anchors, box decoding, weighted NMS. */
import { iou, type Box, type Point } from '../../../src-shared/math/geometry.js';
import type { Detection } from './types.js';

export type { Detection } from './types.js';

export const INPUT_SIZE = 256;

/** Anchor centres in input units (0..1): a 16x16 grid with 2 anchors a cell, then an 8x8 grid with 6. */
export function blazefaceAnchors(): Array<[number, number]> {
  const anchors: Array<[number, number]> = [];
  for (const [cells, perCell] of [
    [16, 2],
    [8, 6],
  ] as const) {
    for (let cy = 0; cy < cells; cy += 1)
      for (let cx = 0; cx < cells; cx += 1)
        for (let a = 0; a < perCell; a += 1) anchors.push([(cx + 0.5) / cells, (cy + 0.5) / cells]);
  }
  return anchors;
}

const ANCHORS = blazefaceAnchors();

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Decode raw outputs into detections in input units (0..1 of the square input).
 * scores: 896 logits (512 then 384); boxes: 896 x 16 regressors.
 */
export function decodeBlazeface(scores: Float32Array, boxes: Float32Array, threshold: number): Detection[] {
  const out: Detection[] = [];
  const logitThreshold = Math.log(threshold / (1 - threshold));
  for (let i = 0; i < ANCHORS.length; i += 1) {
    const logit = scores[i] as number;
    if (logit < logitThreshold) continue;
    const [ax, ay] = ANCHORS[i] as [number, number];
    const r = i * 16;
    const cx = ax + (boxes[r] as number) / INPUT_SIZE;
    const cy = ay + (boxes[r + 1] as number) / INPUT_SIZE;
    const w = (boxes[r + 2] as number) / INPUT_SIZE;
    const h = (boxes[r + 3] as number) / INPUT_SIZE;
    if (!(w > 0 && h > 0)) continue;
    const keypoints: Point[] = [];
    for (let k = 0; k < 6; k += 1)
      keypoints.push([
        ax + (boxes[r + 4 + 2 * k] as number) / INPUT_SIZE,
        ay + (boxes[r + 5 + 2 * k] as number) / INPUT_SIZE,
      ]);
    out.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score: sigmoid(logit), keypoints });
  }
  return out;
}

/** Merge overlapping detections by score-weighted averaging (MediaPipe's 'weighted' NMS). */
export function weightedNms(detections: readonly Detection[], iouThreshold = 0.3): Detection[] {
  const remaining = [...detections].sort((a, b) => b.score - a.score);
  const merged: Detection[] = [];
  while (remaining.length > 0) {
    const top = remaining[0] as Detection;
    const group: Detection[] = [];
    const rest: Detection[] = [];
    for (const d of remaining) (iou(top.box, d.box) >= iouThreshold ? group : rest).push(d);
    let total = 0;
    const box = { x: 0, y: 0, width: 0, height: 0 };
    const keypoints: Point[] = top.keypoints.map(() => [0, 0]);
    for (const d of group) {
      total += d.score;
      box.x += d.box.x * d.score;
      box.y += d.box.y * d.score;
      box.width += d.box.width * d.score;
      box.height += d.box.height * d.score;
      d.keypoints.forEach((k, j) => {
        (keypoints[j] as Point)[0] += k[0] * d.score;
        (keypoints[j] as Point)[1] += k[1] * d.score;
      });
    }
    merged.push({
      box: { x: box.x / total, y: box.y / total, width: box.width / total, height: box.height / total },
      score: top.score,
      keypoints: keypoints.map(([x, y]) => [x / total, y / total]),
    });
    remaining.splice(0, remaining.length, ...rest);
  }
  return merged;
}

/**
 * Drop detections that lie mostly inside a stronger one: tiles zoomed into a large face see its eyes or
 * mouth as faces of their own.
 */
export function suppressContained(detections: readonly Detection[], overlap = 0.6): Detection[] {
  const sorted = [...detections].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const kept: Detection[] = [];
  for (const d of sorted) {
    const area = d.box.width * d.box.height;
    const inside = kept.some((k) => {
      const x1 = Math.max(k.box.x, d.box.x);
      const y1 = Math.max(k.box.y, d.box.y);
      const x2 = Math.min(k.box.x + k.box.width, d.box.x + d.box.width);
      const y2 = Math.min(k.box.y + k.box.height, d.box.y + d.box.height);
      return (Math.max(0, x2 - x1) * Math.max(0, y2 - y1)) / area > overlap;
    });
    if (!inside) kept.push(d);
  }
  return kept;
}

/** Map a detection from input units of a square region back to frame pixels. */
export function toFrame(d: Detection, region: Box): Detection {
  const s = region.width;
  return {
    score: d.score,
    box: { x: region.x + d.box.x * s, y: region.y + d.box.y * s, width: d.box.width * s, height: d.box.height * s },
    keypoints: d.keypoints.map(([x, y]) => [region.x + x * s, region.y + y * s]),
  };
}

/**
 * Square regions that cover a frame so that faces of `minFaceSide` pixels appear at least `minFaceInput` px in the
 * detector's input (BlazeFace: ~24 of 256): the whole frame (padded square), plus overlapping tiles when faces can
 * be small.
 */
export function coverageRegions(
  width: number,
  height: number,
  minFaceSide: number,
  inputSize = INPUT_SIZE,
  minFaceInput = 24,
): Box[] {
  const whole = Math.max(width, height);
  const regions: Box[] = [{ x: (width - whole) / 2, y: (height - whole) / 2, width: whole, height: whole }];
  const tile = Math.min(Math.min(width, height), Math.max(128, Math.round((minFaceSide * inputSize) / minFaceInput)));
  if (tile >= whole * 0.75) return regions;
  const stride = tile * 0.75;
  const steps = (extent: number): number[] => {
    if (extent <= tile) return [(extent - tile) / 2];
    const n = Math.ceil((extent - tile) / stride) + 1;
    return Array.from({ length: n }, (_, i) => ((extent - tile) * i) / (n - 1));
  };
  for (const y of steps(height)) for (const x of steps(width)) regions.push({ x, y, width: tile, height: tile });
  return regions;
}

/**
 * Sample a square region of a packed RGB frame into the detector's input (NHWC, -1..1), bilinear;
 * outside the frame is black.
 */
export function regionToInput(
  rgb: Uint8Array,
  width: number,
  height: number,
  region: Box,
  size = INPUT_SIZE,
  into?: Float32Array,
): Float32Array {
  const out = into ?? new Float32Array(size * size * 3);
  const scale = region.width / size;
  // Columns' source positions and weights once per region (the same arithmetic as per pixel). Not raster.ts's
  // clampedTaps: outside the frame is black here, not the border replicated, and this runs for every tile.
  const col = new Int32Array(size * 2);
  const colF = new Float64Array(size);
  const colOut = new Uint8Array(size);
  for (let x = 0; x < size; x += 1) {
    const sx = region.x + (x + 0.5) * scale - 0.5;
    colOut[x] = sx < -0.5 || sx > width - 0.5 ? 1 : 0;
    const cx = Math.min(width - 1, Math.max(0, sx));
    const x0 = Math.floor(cx);
    col[2 * x] = x0 * 3;
    col[2 * x + 1] = Math.min(width - 1, x0 + 1) * 3;
    colF[x] = cx - x0;
  }
  for (let y = 0; y < size; y += 1) {
    const sy = region.y + (y + 0.5) * scale - 0.5;
    const rowOut = sy < -0.5 || sy > height - 0.5;
    const cy = Math.min(height - 1, Math.max(0, sy));
    const y0 = Math.floor(cy);
    const r0 = y0 * width * 3;
    const r1 = Math.min(height - 1, y0 + 1) * width * 3;
    const fy = cy - y0;
    for (let x = 0; x < size; x += 1) {
      const o = (y * size + x) * 3;
      if (rowOut || colOut[x]) {
        out[o] = -1;
        out[o + 1] = -1;
        out[o + 2] = -1;
        continue;
      }
      const c0 = col[2 * x] as number;
      const c1 = col[2 * x + 1] as number;
      const fx = colF[x] as number;
      for (let c = 0; c < 3; c += 1) {
        const v =
          ((rgb[r0 + c0 + c] as number) * (1 - fx) + (rgb[r0 + c1 + c] as number) * fx) * (1 - fy) +
          ((rgb[r1 + c0 + c] as number) * (1 - fx) + (rgb[r1 + c1 + c] as number) * fx) * fy;
        out[o + c] = v / 127.5 - 1;
      }
    }
  }
  return out;
}
