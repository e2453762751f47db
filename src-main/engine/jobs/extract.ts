import path from 'node:path';
import { ErrorCode, StudioError, sideList, type FrameRecord, type Side } from '../../../src-shared/contract/index.js';
import type { ExtractJobSpec } from '../../../src-shared/contract/jobs.js';
import type { z } from 'zod';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeFrames } from '../media/decode.js';
import { probeSource } from '../media/probe.js';
import { thumbnailJpeg } from '../media/thumbnail.js';
import { availableStages } from '../stages.js';
import type { JobContext } from './context.js';

type ExtractSpec = z.output<typeof ExtractJobSpec>;

const DECODE_STAGE = 'decode';
/** Frames committed to the index per transaction: small enough to lose little on a kill, large enough to be cheap. */
const COMMIT_BATCH = 16;

interface SideResult {
  framesRead: number;
  framesUnreadable: number;
  resumedFrom: number;
}

/** Stage 1 of extraction: index every (stride-th) frame of one side with a thumbnail. Resumable. */
async function indexFrames(ctx: JobContext<ExtractSpec>, side: Side): Promise<SideResult> {
  const { store } = ctx;
  const source = store.project.sources[side];
  const stride = store.project.settings.extraction.frameStride;
  const cursor = store.getCursor(side, DECODE_STAGE);
  const total = Math.ceil(source.media.frameCount / stride);
  const result: SideResult = { framesRead: 0, framesUnreadable: 0, resumedFrom: cursor.nextIndex };
  if (cursor.finished) {
    ctx.log('info', `side ${side.toUpperCase()}: frames already indexed`);
    result.framesRead = store.listFrames(side, 0, 1).total;
    return result;
  }
  const probed = await probeSource(source.path);
  let batch: Array<Omit<FrameRecord, 'faceCount'>> = [];
  let nextIndex = cursor.nextIndex;
  let done = Math.ceil(cursor.nextIndex / stride);
  const flush = (finished: boolean): void => {
    store.commitFrames(side, DECODE_STAGE, batch, nextIndex, finished);
    batch = [];
  };
  for await (const frame of decodeFrames(probed, { stride, startIndex: cursor.nextIndex, signal: ctx.signal })) {
    await ctx.waitWhilePaused();
    let thumbnail: string | null = null;
    if (frame.rgb) {
      thumbnail = path.posix.join('thumbs', side, `${String(frame.index).padStart(6, '0')}.jpg`);
      await writeFileAtomic(path.join(store.dir, thumbnail), await thumbnailJpeg(frame.rgb, frame.width, frame.height));
    } else {
      result.framesUnreadable += 1;
      ctx.log('warn', `side ${side.toUpperCase()}: ${frame.error ?? 'unreadable frame'}`);
    }
    batch.push({
      side,
      index: frame.index,
      timeSeconds: frame.timeSeconds,
      status: frame.rgb ? 'pending' : 'unreadable',
      reason: frame.error,
      thumbnail,
    });
    nextIndex = frame.index + 1;
    done += 1;
    result.framesRead += 1;
    if (batch.length >= COMMIT_BATCH) flush(false);
    ctx.progress(`index frames ${side.toUpperCase()}`, Math.min(done, total), total);
    if (ctx.signal.aborted) break;
  }
  flush(!ctx.signal.aborted);
  return result;
}

export async function runExtract(ctx: JobContext<ExtractSpec>): Promise<Record<string, unknown>> {
  const sides = sideList(ctx.spec.side);
  const perSide: Record<string, SideResult> = {};
  for (const side of sides) {
    perSide[side] = await indexFrames(ctx, side);
    if (ctx.signal.aborted) return { sides: perSide, stopped: true };
  }
  if (!availableStages.detect) {
    throw new StudioError(
      ErrorCode.stageUnavailable,
      `frames indexed (${sides.map((s) => `${s.toUpperCase()}: ${ctx.store.listFrames(s, 0, 1).total}`).join(', ')}), ` +
        'but face detection is not built yet in this version',
      { fix: 'the timeline can show the indexed frames; face detection, landmarks and masks arrive with the extraction stage' },
    );
  }
  return { sides: perSide };
}
