/**
 * Pixels changed outside the swap's region, measured the independent way: the encoded export is decoded again and
 * compared with a fresh decode of the input, frame by frame by index (output frame i against input frame
 * start + i, not by time). A pixel counts as changed where any channel differs by more than the codec's noise
 * (ENCODED_TOLERANCE) farther than CODEC_MARGIN_PX from the region the swap may touch (the chosen parts, feathered,
 * as the conversion placed them). Frames without a face must be unchanged everywhere.
 */
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { MaskOverride } from '../convert/frame.js';
import { labelPlacement, renderLabel } from '../convert/label.js';
import { FramePool, decodeFrames } from '../media/decode.js';
import type { ProbedSource } from '../media/probe.js';
import {
  CODEC_MARGIN_PX,
  ENCODED_TOLERANCE,
  compareFrame,
  layoutColumn,
  type ComparisonJob,
  type FrameComparison,
  type Placement,
} from './frame-comparison.js';

export interface OutsideMaskResult {
  framesCompared: number;
  /** Pixels compared (outside the dilated region). */
  pixels: number;
  changed: number;
  share: number;
  /** Mean absolute difference per channel over those pixels (0..255): the codec's noise level. */
  meanAbsDiff: number;
  tolerance: number;
  marginPx: number;
}

export interface OutsideMaskOptions {
  encoded: ProbedSource;
  input: ProbedSource;
  /** Input frame index of output frame 0. */
  start: number;
  /** Per output frame, where the face was placed (null: no face, nothing may change). */
  placements: ReadonlyArray<Placement | null>;
  resolution: number;
  config: ConverterConfig;
  overrides: ReadonlyMap<number, MaskOverride>;
  /** 1 for SINGLE, 2 or 3 for side-by-side layouts (the result is the second column). */
  columns: number;
  signal?: AbortSignal;
  progress?: (done: number, total: number) => void;
  /** Called with each paired frame (the input's and the export's result column), for further measures. */
  onFrame?: (index: number, source: Uint8Array, result: Uint8Array) => Promise<void>;
  /** Compare frames elsewhere (the model workers); in this thread when absent. */
  compare?: (job: ComparisonJob) => Promise<FrameComparison>;
}

export async function measureOutsideMask(o: OutsideMaskOptions): Promise<OutsideMaskResult> {
  const { displayWidth: w, displayHeight: h } = o.input.media;
  // The visible label is no change to the picture: its corner is left out.
  const label = o.config.synthetic_label && o.columns === 1 ? labelPlacement(w, h, await renderLabel(h)) : null;
  const labelRect = label ? { x: label.x, y: label.y, width: label.width, height: label.height } : null;
  // Frames compared at once: on model workers when given one (each pair of frames in shared memory).
  const inFlight = o.compare && !o.onFrame ? 4 : 1;
  const compare = o.onFrame || !o.compare ? (job: ComparisonJob) => Promise.resolve(compareFrame(job)) : o.compare;
  const sources = new FramePool();
  const outputs = new FramePool();
  const inputs = decodeFrames(o.input, { stride: 1, startIndex: o.start, signal: o.signal, pool: sources });
  const encoded = decodeFrames(o.encoded, { stride: 1, startIndex: 0, signal: o.signal, pool: outputs });
  let frames = 0;
  let pixels = 0;
  let changed = 0;
  let absSum = 0;
  const total = o.placements.length;
  type Pair = { index: number; source: Buffer; result: Buffer; comparison: Promise<FrameComparison> };
  const pending: Pair[] = [];
  const settle = async (pair: Pair): Promise<void> => {
    const c = await pair.comparison;
    pixels += c.pixels;
    changed += c.changed;
    absSum += c.absSum;
    frames += 1;
    if (o.onFrame) {
      const result = o.columns === 1 ? pair.result : layoutColumn(pair.result, w, h, o.columns, 1);
      await o.onFrame(pair.index, pair.source, result);
    }
    sources.release(pair.source);
    outputs.release(pair.result);
    o.progress?.(frames, total);
  };
  try {
    for await (const out of encoded) {
      if (out.index >= total) break;
      const next = await inputs.next();
      if (next.done) break;
      const source = next.value.rgb;
      if (!source || !out.rgb) continue;
      const comparison = compare({
        source,
        encoded: out.rgb,
        width: w,
        height: h,
        columns: o.columns,
        placement: o.placements[out.index] ?? null,
        resolution: o.resolution,
        segmentation: o.config.segmentation,
        override: o.overrides.get(o.start + out.index) ?? null,
        label: labelRect,
      });
      comparison.catch(() => undefined);
      pending.push({ index: out.index, source, result: out.rgb, comparison });
      if (pending.length >= inFlight) await settle(pending.shift() as Pair);
    }
    while (pending.length > 0) await settle(pending.shift() as Pair);
  } finally {
    await inputs.return(undefined);
  }
  return {
    framesCompared: frames,
    pixels,
    changed,
    share: pixels ? changed / pixels : 0,
    meanAbsDiff: pixels ? Math.round((absSum / (pixels * 3)) * 1000) / 1000 : 0,
    tolerance: ENCODED_TOLERANCE,
    marginPx: CODEC_MARGIN_PX,
  };
}
