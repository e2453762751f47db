/**
 * #14: the conversion's tracking pass follows the clip as chunks, two at a time (convert/tracking-pass.ts on
 * track/follow-chunks.ts). The later chunks seek to their start instead of decoding the clip up to it, and each seek
 * is checked against the frame the chunk before decoded last: a chunk whose seek landed elsewhere (a file whose
 * timestamps mislead ffmpeg's seek) is followed again from a decode of the clip's start. The pass gives the same
 * faces in every case.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConverterConfig } from '../../src-shared/contract/index.js';
import { trackPerson, type PassContext } from '../../src-main/engine/convert/tracking-pass.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { probeSource, type ProbedSource } from '../../src-main/engine/media/probe.js';
import { probeTiming, type SourceTiming } from '../../src-main/engine/media/timing.js';
import type { Tracked } from '../../src-main/engine/project/tracking-cache.js';
import { localModels } from '../../src-main/engine/track/follow.js';
import { oneAtATime } from '../helpers/models.js';
import { media } from '../helpers/paths.js';

/** Two chunks of 65 frames: the second seeks to frame 164, a frame that is no keyframe. */
const RANGE = { start: 100, end: 229 };

describe("the conversion's tracking pass in chunks", () => {
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

  it('gives the same faces whether the second chunk seeks its start, misses it, or decodes the clip up to it', async () => {
    const sought = await pass(timing);
    expect(sought.warnings).toEqual([]);
    // Every frame at one time: there is no time between two frames to seek to, so the chunk decodes the clip up to it.
    const noSeek = await pass({ ...timing, framePts: timing.framePts.map(() => 0) });
    // Every frame's time five frames late: the seek lands five frames off, the check sees it and the chunk is
    // followed again from a decode of the clip's start.
    const shifted = timing.framePts.map(
      (_, i) => timing.framePts[Math.min(i + 5, timing.framePts.length - 1)] as number,
    );
    const missed = await pass({ ...timing, framePts: shifted });
    expect(missed.warnings.length).toBe(1);
    expect(missed.warnings[0]).toMatch(/missed frame 164/);

    const frames = RANGE.end - RANGE.start + 1;
    expect(sought.tracked.raw.length).toBe(frames);
    // The performer is followed through the range (a pass that lost the second chunk would find nobody there).
    const found = sought.tracked.raw.filter((box) => box !== null).length;
    expect(found).toBeGreaterThan(frames / 2);
    expect(sought.tracked.raw.slice(65).some((box) => box !== null)).toBe(true);
    expect(noSeek.tracked).toEqual(sought.tracked);
    expect(missed.tracked).toEqual(sought.tracked);
  }, 120_000);
});
