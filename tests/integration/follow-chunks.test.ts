/**
 * #14: extraction follows a video as chunks, two at a time (track/follow-chunks.ts). The frames come out in order
 * with one tracker's ids (a face that continues across the chunks' boundary keeps its id), whether the later chunk
 * seeks its start, cannot seek, or seeks and lands elsewhere (followed again from a decode of the video's start);
 * a stopped pass gives an unbroken prefix.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { iou } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { probeSource, type ProbedSource } from '../../src-main/engine/media/probe.js';
import { probeTiming, type SourceTiming } from '../../src-main/engine/media/timing.js';
import { followInChunks, type ChunkedFrame } from '../../src-main/engine/track/follow-chunks.js';
import { Follower, localModels, type FollowModels } from '../../src-main/engine/track/follow.js';
import { oneAtATime } from '../helpers/models.js';
import type { TrackerState } from '../../src-main/engine/track/tracker.js';
import { media } from '../helpers/paths.js';

/** From frame 60 to the clip's end (215 of its 275 frames): two chunks, the second from frame 167 (no keyframe). */
const FIRST = 60;
const BOUNDARY = 167;

describe("extraction's chunked following", () => {
  let models: FollowModels;
  let source: ProbedSource;
  let timing: SourceTiming;

  beforeAll(async () => {
    const file = media('whitehouse_performance_360p.mp4');
    const [detector, nets] = await Promise.all([FaceDetector.load(), FaceNets.load()]);
    models = oneAtATime(localModels(detector, nets));
    [source, timing] = await Promise.all([probeSource(file), probeTiming(file)]);
  }, 60_000);

  async function follow(
    withTiming: SourceTiming | null,
    options: { chunked?: boolean; stopAfter?: number } = {},
  ): Promise<{ frames: Array<ChunkedFrame<number>>; warnings: string[] }> {
    const warnings: string[] = [];
    const stop = new AbortController();
    let followed = 0;
    const { frames } = followInChunks<number>({
      source,
      stride: 1,
      first: FIRST,
      last: source.media.frameCount - 1,
      toEnd: true,
      state: undefined,
      newFollower: (state: TrackerState | undefined) =>
        new Follower(models, { temporal: true, threshold: 0.6, minFaceSide: 35, autoDownscale: false }, state),
      chunked: options.chunked ?? true,
      follows: () => true,
      atFrame: (frame) => ({ extra: frame.index, pixelsRead: Promise.resolve() }),
      timing: Promise.resolve(withTiming),
      stateEvery: 16,
      signal: stop.signal,
      waitWhilePaused: () => Promise.resolve(),
      onFrame: () => {
        followed += 1;
        if (followed === options.stopAfter) stop.abort();
      },
      log: (level, message) => {
        if (level === 'warn') warnings.push(message);
      },
    });
    const out: Array<ChunkedFrame<number>> = [];
    for await (const frame of frames) out.push(frame);
    return { frames: out, warnings };
  }

  /** What a caller keeps of each frame: its index, its faces' ids and boxes, and the state where one comes. */
  const kept = (frames: ReadonlyArray<ChunkedFrame<number>>) =>
    frames.map((f) => ({
      index: f.frame.index,
      faces: f.faces?.map((face) => [face.trackId, face.box]),
      state: f.state,
    }));

  it('gives every frame in order, with one set of ids, however the later chunk reached its start', async () => {
    const sought = await follow(timing);
    expect(sought.warnings).toEqual([]);
    const indices = sought.frames.map((f) => f.frame.index);
    expect(indices).toEqual(Array.from({ length: source.media.frameCount - FIRST }, (_, i) => FIRST + i));
    expect(sought.frames.every((f) => f.extra === f.frame.index)).toBe(true);

    // A face on either side of the boundary in the same place is one track.
    const [lastBefore, firstAfter] = [sought.frames[BOUNDARY - 1 - FIRST], sought.frames[BOUNDARY - FIRST]];
    const pairs = (firstAfter?.faces ?? []).flatMap((a) =>
      (lastBefore?.faces ?? []).filter((b) => iou(a.box, b.box) > 0.5).map((b) => [a.trackId, b.trackId]),
    );
    expect(pairs.length).toBeGreaterThan(0);
    for (const [after, before] of pairs) expect(after).toBe(before);

    // States come where a caller may commit (the chunk's 16th frames and its last), and the last one knows every
    // track the frames named, each id once.
    const withState = sought.frames.filter((f) => f.state !== null).map((f) => f.frame.index);
    expect(withState).toContain(BOUNDARY - 1);
    expect(withState).toContain(FIRST + 15);
    expect(withState).toContain(BOUNDARY + 15);
    expect(withState.at(-1)).toBe(source.media.frameCount - 1);
    const final = sought.frames.at(-1)?.state as TrackerState;
    const ids = final.tracks.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    const named = new Set(sought.frames.flatMap((f) => f.faces?.map((face) => face.trackId) ?? []));
    for (const id of named) expect(ids).toContain(id);
    expect(final.nextId).toBeGreaterThan(Math.max(...ids));

    // Without frame times the chunk decodes the video up to its start; with every time five frames late its seek
    // lands five frames off, which is seen, and the chunk is followed again from the start: the same frames out.
    const noSeek = await follow(null);
    expect(noSeek.warnings).toEqual([]);
    const shifted = timing.framePts.map(
      (_, i) => timing.framePts[Math.min(i + 5, timing.framePts.length - 1)] as number,
    );
    const missed = await follow({ ...timing, framePts: shifted });
    expect(missed.warnings).toEqual([expect.stringMatching(new RegExp(`missed frame ${BOUNDARY - 1}`))]);
    expect(kept(noSeek.frames)).toEqual(kept(sought.frames));
    expect(kept(missed.frames)).toEqual(kept(sought.frames));

    // One follower over the same frames finds the same faces on the performer's frames (the audience shot from
    // frame 212 on has small faces the detector finds on some frames and not on others, whoever follows them).
    const whole = await follow(timing, { chunked: false });
    const counts = (frames: ReadonlyArray<ChunkedFrame<number>>, from: number, to: number) =>
      frames.filter((f) => f.frame.index >= from && f.frame.index < to).map((f) => f.faces?.length ?? 0);
    const [wholePerformer, chunkedPerformer] = [counts(whole.frames, 0, 212), counts(sought.frames, 0, 212)];
    const same = wholePerformer.filter((n, i) => n === chunkedPerformer[i]).length;
    expect(same / wholePerformer.length).toBeGreaterThan(0.95);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const [wholeAudience, chunkedAudience] = [
      sum(counts(whole.frames, 212, 1e9)),
      sum(counts(sought.frames, 212, 1e9)),
    ];
    console.log(
      'performer frames alike',
      same,
      '/',
      wholePerformer.length,
      'audience faces',
      wholeAudience,
      chunkedAudience,
    );
    expect(Math.abs(chunkedAudience - wholeAudience) / wholeAudience).toBeLessThan(0.15);
  }, 240_000);

  it('a stopped pass gives the frames before the stop, in order, and ends', async () => {
    const stopped = await follow(timing, { stopAfter: 120 });
    const indices = stopped.frames.map((f) => f.frame.index);
    expect(indices.length).toBeGreaterThan(0);
    expect(indices.length).toBeLessThan(source.media.frameCount - FIRST);
    expect(indices).toEqual(Array.from({ length: indices.length }, (_, i) => FIRST + i));
  }, 120_000);
});
