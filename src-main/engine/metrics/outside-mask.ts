/**
 * Pixels changed outside the swap's region, measured the independent way: the encoded export is decoded again and
 * compared with a fresh decode of the input, frame by frame by index (output frame i against input frame
 * start + i, not by time). A pixel counts as changed where any channel differs by more than the codec's noise
 * (ENCODED_TOLERANCE) farther than CODEC_MARGIN_PX from the region the swap may touch (the chosen parts, feathered,
 * as the conversion placed them). Frames without a face must be unchanged everywhere.
 *
 * During a conversion the check runs alongside the encoder (LiveExportCheck): the encoder also writes its packets,
 * as it muxes them into the file, to a pipe that a decoder reads, and each decoded frame is compared with the
 * conversion's own decode of the input frame (kept until then). Same packets, same decoder: the same pixels as a
 * decode of the finished file, without a second pass over both videos at the end (about a tenth of a 360p
 * conversion's time). Exports whose frames are too large to keep the encoder's delay's worth of them, and
 * `--metrics-only`, decode the files.
 */
import type { Readable } from 'node:stream';
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { MaskOverride } from '../convert/frame.js';
import { labelPlacement, renderLabel } from '../convert/label.js';
import { FramePool, decodeFrames, decodeNutStream, type DecodedFrame } from '../media/decode.js';
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

/** What comparing frames needs besides the frames: where the faces were placed, and how the export is laid out. */
export type ComparisonSetup = Omit<OutsideMaskOptions, 'encoded' | 'input'> & {
  width: number;
  height: number;
  fps: number;
};

/**
 * Compare output frame i (from `encoded`) with input frame start + i (the next of `sources`), in order; frames go
 * back to their pools once compared.
 */
async function compareFrames(
  o: ComparisonSetup,
  sources: AsyncIterator<{ rgb: Buffer | null }>,
  encoded: AsyncIterable<DecodedFrame>,
  pools: { sources: FramePool; outputs: FramePool },
): Promise<{ result: OutsideMaskResult; encodedFrames: number }> {
  const { width: w, height: h } = o;
  // The visible label is no change to the picture: its corner is left out.
  const label = o.config.synthetic_label && o.columns === 1 ? labelPlacement(w, h, await renderLabel(h)) : null;
  const labelRect = label ? { x: label.x, y: label.y, width: label.width, height: label.height } : null;
  // Frames compared at once: on model workers when given one (each pair of frames in shared memory).
  const inFlight = o.compare && !o.onFrame ? 4 : 1;
  const compare = o.onFrame || !o.compare ? (job: ComparisonJob) => Promise.resolve(compareFrame(job)) : o.compare;
  let frames = 0;
  let encodedFrames = 0;
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
    pools.sources.release(pair.source);
    pools.outputs.release(pair.result);
    o.progress?.(frames, total);
  };
  for await (const out of encoded) {
    if (out.index >= total) break;
    encodedFrames += 1;
    const next = await sources.next();
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
  const result = {
    framesCompared: frames,
    pixels,
    changed,
    share: pixels ? changed / pixels : 0,
    meanAbsDiff: pixels ? Math.round((absSum / (pixels * 3)) * 1000) / 1000 : 0,
    tolerance: ENCODED_TOLERANCE,
    marginPx: CODEC_MARGIN_PX,
  };
  return { result, encodedFrames };
}

/** The check from the files: the finished export decoded again, against a fresh decode of the input. */
export async function measureOutsideMask(o: OutsideMaskOptions): Promise<OutsideMaskResult> {
  const { displayWidth: width, displayHeight: height, fps } = o.input.media;
  const pools = { sources: new FramePool(), outputs: new FramePool() };
  const inputs = decodeFrames(o.input, { stride: 1, startIndex: o.start, signal: o.signal, pool: pools.sources });
  const encoded = decodeFrames(o.encoded, { stride: 1, startIndex: 0, signal: o.signal, pool: pools.outputs });
  try {
    return (await compareFrames({ ...o, width, height, fps }, inputs, encoded, pools)).result;
  } finally {
    await inputs.return(undefined);
  }
}

/** Input frames a live check may hold at most: well above the encoder's delay (x264 veryfast: ~20 frames). */
export const LIVE_CHECK_FRAMES = 48;
/** Beyond this (frames of 1440p and up), the held frames would cost too much memory: the files are checked. */
const LIVE_CHECK_MAX_BYTES = 320 * 1024 * 1024;

/** Whether frames of this size are checked alongside the encoder (LiveExportCheck) rather than from the files. */
export function liveCheckFits(width: number, height: number): boolean {
  return LIVE_CHECK_FRAMES * width * height * 3 <= LIVE_CHECK_MAX_BYTES;
}

/**
 * The export check alongside the encoder. The conversion gives it each input frame (`add`) before it writes the
 * frame's result to the encoder; the encoder's copy of its packets (VideoWriter's `encodedStream`) is decoded as
 * it comes, and each decoded frame is compared with its input frame, which then goes back to `sourcePool`. At most
 * LIVE_CHECK_FRAMES input frames wait: more, and `add` waits for the check. `result` is null when the check could
 * not follow the whole export (its decoder failed, or fewer frames came out than went in): the caller then checks
 * the files.
 */
export class LiveExportCheck {
  private readonly waiting: Array<Buffer | null> = [];
  /** The comparison loop, waiting for an input frame. */
  private wake: (() => void) | null = null;
  /** `add`, waiting for room. */
  private room: (() => void) | null = null;
  private ended = false;
  /** The check has ended (compared everything, or given up): frames added now go straight back. */
  private stopped = false;
  private added = 0;
  readonly result: Promise<OutsideMaskResult | null>;

  constructor(
    setup: ComparisonSetup,
    encodedStream: Readable,
    private readonly sourcePool: FramePool,
    signal?: AbortSignal,
  ) {
    const outputs = new FramePool();
    const encoded = decodeNutStream(
      encodedStream,
      'the export being written',
      { width: setup.width * setup.columns, height: setup.height, fps: setup.fps },
      { signal, pool: outputs },
    );
    this.result = compareFrames(setup, this.sources(), encoded, { sources: sourcePool, outputs })
      .then(({ result, encodedFrames }) => (encodedFrames === this.added ? result : null))
      .catch(() => null)
      .finally(() => {
        this.stopped = true;
        // Frames that will not be compared go back; a waiting `add` goes on; the encoder drops its copy.
        for (const frame of this.waiting.splice(0)) this.sourcePool.release(frame);
        this.room?.();
        encodedStream.destroy();
      });
    this.result.catch(() => undefined);
  }

  /** The next input frame (the conversion's frames are added in output order). */
  private async *sources(): AsyncGenerator<{ rgb: Buffer | null }> {
    for (;;) {
      while (this.waiting.length === 0) {
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
      const rgb = this.waiting.shift() as Buffer | null;
      this.room?.();
      yield { rgb };
    }
  }

  /** The input frame of the next output frame (null: it could not be decoded); given before its result is encoded. */
  async add(source: Buffer | null): Promise<void> {
    if (this.stopped) {
      this.sourcePool.release(source);
      return;
    }
    this.added += 1;
    this.waiting.push(source);
    this.wake?.();
    while (this.waiting.length > LIVE_CHECK_FRAMES && !this.stopped) {
      await new Promise<void>((resolve) => (this.room = resolve));
      this.room = null;
    }
  }

  /** No more frames: the check ends when the encoder's copy does. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }
}
