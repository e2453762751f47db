/**
 * #14: the conversion's tracking pass follows the clip as parts at once (convert/tracking-pass.ts). The later parts
 * seek to their start instead of decoding the clip up to it, and each seek is checked against the frame the part
 * before decoded last: a part whose seek landed elsewhere (a file whose timestamps mislead ffmpeg's seek) is followed
 * again from a decode of the clip's start. The pass gives the same faces in every case.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConverterConfig } from '../../src-shared/contract/index.js';
import { trackPerson, type PassContext } from '../../src-main/engine/convert/tracking-pass.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { probeSource, type ProbedSource } from '../../src-main/engine/media/probe.js';
import { probeTiming, type SourceTiming } from '../../src-main/engine/media/timing.js';
import type { Tracked } from '../../src-main/engine/project/tracking-cache.js';
import { localModels, type FollowModels } from '../../src-main/engine/track/follow.js';
import { media } from '../helpers/paths.js';

/**
 * The models answering one request at a time, in order, as a model worker does: the nets keep their input buffers
 * across an await, and the parts' requests would otherwise interleave on one instance.
 */
function oneAtATime(models: FollowModels): FollowModels {
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(run);
    queue = result.catch(() => undefined);
    return result;
  };
  const { detector } = models;
  const queued = Object.create(detector) as FaceDetector;
  queued.detectFrame = (...args) => inTurn(() => detector.detectFrame(...args));
  queued.detectAround = (...args) => inTurn(() => detector.detectAround(...args));
  return {
    detector: queued,
    landmarks: (...args) => inTurn(() => models.landmarks(...args)),
    refine: (...args) => inTurn(() => models.refine(...args)),
    descriptors: (...args) => inTurn(() => models.descriptors(...args)),
  };
}

/** Two parts of 65 frames: the second seeks to frame 164, a frame that is no keyframe. */
const RANGE = { start: 100, end: 229 };

describe("the conversion's tracking pass in parts", () => {
  let detector: FaceDetector;
  let nets: FaceNets;
  let source: ProbedSource;
  let timing: SourceTiming;

  beforeAll(async () => {
    const file = media('whitehouse_performance_360p.mp4');
    [detector, nets, source, timing] = await Promise.all([
      FaceDetector.load(),
      FaceNets.load(),
      probeSource(file),
      probeTiming(file),
    ]);
  }, 60_000);

  async function pass(withTiming: SourceTiming): Promise<{ tracked: Tracked; warnings: string[] }> {
    const warnings: string[] = [];
    const ctx: PassContext = {
      signal: new AbortController().signal,
      waitWhilePaused: () => Promise.resolve(),
      progress: () => undefined,
      log: (level, message) => {
        if (level === 'warn') warnings.push(message);
      },
    };
    const config = ConverterConfig.parse({});
    const tracked = await trackPerson(
      ctx,
      source,
      config,
      oneAtATime(localModels(detector, nets)),
      null,
      RANGE,
      withTiming,
    );
    return { tracked, warnings };
  }

  it('gives the same faces whether the second part seeks its start, misses it, or decodes the clip up to it', async () => {
    const sought = await pass(timing);
    expect(sought.warnings).toEqual([]);
    // Every frame at one time: there is no time between two frames to seek to, so the part decodes the clip up to it.
    const noSeek = await pass({ ...timing, framePts: timing.framePts.map(() => 0) });
    // Every frame's time five frames late: the seek lands five frames off, the check sees it and the part is
    // followed again from a decode of the clip's start.
    const shifted = timing.framePts.map(
      (_, i) => timing.framePts[Math.min(i + 5, timing.framePts.length - 1)] as number,
    );
    const missed = await pass({ ...timing, framePts: shifted });
    expect(missed.warnings.length).toBe(1);
    expect(missed.warnings[0]).toMatch(/missed frame 164/);

    const frames = RANGE.end - RANGE.start + 1;
    expect(sought.tracked.raw.length).toBe(frames);
    // The performer is followed through the range (a pass that lost the second part would find nobody there).
    const found = sought.tracked.raw.filter((box) => box !== null).length;
    expect(found).toBeGreaterThan(frames / 2);
    expect(sought.tracked.raw.slice(65).some((box) => box !== null)).toBe(true);
    expect(noSeek.tracked).toEqual(sought.tracked);
    expect(missed.tracked).toEqual(sought.tracked);
  }, 120_000);
});
