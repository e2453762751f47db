import { beforeAll, describe, expect, it } from 'vitest';
import { boxOfPoints, squareBox, type Box, type Point } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets, SECOND_PASS_SCALE } from '../../src-main/engine/landmarks/face-nets.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { Follower, localModels, type FollowOptions } from '../../src-main/engine/track/follow.js';
import { meanDistanceIod } from '../../src-shared/math/face.js';
import { media } from '../helpers/paths.js';

/**
 * #14: a followed face's landmarks come from one pass on the region the previous frame's points, moved with the
 * face's box, give (FaceNets.refine, as follow() runs it: each frame from the fast path's own last result); where
 * that pass lands off its region or its points far from the predicted ones, the face gets the full two passes from
 * its detection box (and its track keeps them for FULL_AFTER_MISS frames). Every face follow() gives is compared
 * with the two-pass fit of the same frame and box: what a user gets against what the full fit would have given.
 */

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const percentile = (values: readonly number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length * p)] ?? Infinity;
const pct = (v: number): string => (v * 100).toFixed(2);
/** The sample clip's audience shot starts here (frames before it: the performer, mostly frontal). */
const AUDIENCE_FROM = 212;
/** How far the boxes move (a share of their side) when the two-pass fit's dependence on its box is measured. */
const BOX_SHIFT = 0.04;

/** The box moved by `share` of its side to the left, right, up and down. */
const shiftedBoxes = (box: Box, share: number): Box[] =>
  [
    [-1, 0],
    [1, 0],
    [0, -1],
    [0, 1],
  ].map(([dx, dy]) => ({
    ...box,
    x: box.x + (dx as number) * share * box.width,
    y: box.y + (dy as number) * share * box.height,
  }));

interface Comparison {
  /** Every face follow() gave: its distance from the two-pass fit of the same frame and box, in IODs. */
  errors: number[];
  onePass: number[];
  carried: number[];
  /** Carried faces before the audience shot (the performer, the face a conversion of this clip swaps). */
  performerCarried: number[];
  audience: number[];
  /** One more pass on the region the two-pass fit's own points give: the landmark net's noise on its region. */
  repeat: number[];
  /**
   * The performer's carried faces' two-pass fits from their box moved by BOX_SHIFT of its side (left, right, up,
   * down): their mean distance from the fit of the box itself, in IODs: how much the reference depends on its box.
   */
  performerCarriedBoxSensitivity: number[];
  /** The audience's carried faces: their distances from the two-pass fit, and the same measure of their box. */
  audienceCarried: number[];
  audienceCarriedBoxSensitivity: number[];
  passesPerFace: number;
}

/** Follow the sample clip with `options` and compare every face with the full two passes from its box. */
async function compareWithTwoPass(
  detector: FaceDetector,
  nets: FaceNets,
  options: Partial<FollowOptions>,
): Promise<Comparison> {
  const source = await probeSource(media('whitehouse_performance_360p.mp4'));
  const follower = new Follower(localModels(detector, nets), {
    temporal: true,
    threshold: 0.6,
    minFaceSide: 35,
    autoDownscale: false,
    ...options,
  });
  const result: Comparison = {
    errors: [],
    onePass: [],
    carried: [],
    performerCarried: [],
    audience: [],
    repeat: [],
    performerCarriedBoxSensitivity: [],
    audienceCarried: [],
    audienceCarriedBoxSensitivity: [],
    passesPerFace: 0,
  };
  for await (const frame of decodeFrames(source, { stride: 1, startIndex: 0 })) {
    if (!frame.rgb) continue;
    const { rgb, width, height } = frame;
    for (const face of await follower.step(frame.index, { rgb, width, height })) {
      const [full] = (await nets.landmarksOf(rgb, width, height, [face.box])) as [Point[]];
      const [third] = (await nets.inRegions(rgb, width, height, [squareBox(boxOfPoints(full), SECOND_PASS_SCALE)])) as [
        Point[],
      ];
      const error = meanDistanceIod(face.landmarks, full);
      result.errors.push(error);
      result.repeat.push(meanDistanceIod(third, full));
      if (face.passes === 1) result.onePass.push(error);
      if (face.carried) {
        result.carried.push(error);
        const shifted = await nets.landmarksOf(rgb, width, height, shiftedBoxes(face.box, BOX_SHIFT));
        const sensitivity = mean(shifted.map((points) => meanDistanceIod(points, full)));
        if (frame.index < AUDIENCE_FROM) {
          result.performerCarried.push(error);
          result.performerCarriedBoxSensitivity.push(sensitivity);
        } else {
          result.audienceCarried.push(error);
          result.audienceCarriedBoxSensitivity.push(sensitivity);
        }
      }
      if (frame.index >= AUDIENCE_FROM) result.audience.push(error);
    }
  }
  result.passesPerFace = follower.stats.landmarkPasses / result.errors.length;
  return result;
}

function describeComparison(name: string, c: Comparison): string {
  return (
    `${name}: ${c.errors.length} faces, mean ${pct(mean(c.errors))} % of the inter-ocular distance from the two-pass ` +
    `fit (median ${pct(percentile(c.errors, 0.5))} %, 95th percentile ${pct(percentile(c.errors, 0.95))} %; ` +
    `audience, frames ${AUDIENCE_FROM}-: ${pct(mean(c.audience))} %); ${c.onePass.length} faces took one pass, mean ` +
    `${pct(mean(c.onePass))} % (median ${pct(percentile(c.onePass, 0.5))} %); ` +
    (c.carried.length > 0
      ? `${c.carried.length} carried, mean ${pct(mean(c.carried))} % (95th percentile ` +
        `${pct(percentile(c.carried, 0.95))} %; the performer's ${c.performerCarried.length}: ` +
        `${pct(mean(c.performerCarried))} %; the audience's ${c.audienceCarried.length}: ` +
        `${pct(mean(c.audienceCarried))} %, where the two-pass fit itself moves ` +
        `${pct(mean(c.audienceCarriedBoxSensitivity))} % when its box moves ${BOX_SHIFT * 100} % of its side, ` +
        `the performer's ${pct(mean(c.performerCarriedBoxSensitivity))} %); `
      : '') +
    `${c.passesPerFace.toFixed(2)} landmark passes a face (the full fit: 2); one more pass moves the two-pass fit ` +
    `itself a mean ${pct(mean(c.repeat))} %`
  );
}

describe('landmarks: the fast path against the two-pass fit on the sample clip', () => {
  let detector: FaceDetector;
  let nets: FaceNets;
  beforeAll(async () => {
    detector = await FaceDetector.load();
    nets = await FaceNets.load();
  });

  it('stays within 2 % of the inter-ocular distance of the two-pass fit, and takes one pass where it can', async () => {
    // follow() as extraction runs it: the fast path for faces that continue a track, the second look for new ones.
    const c = await compareWithTwoPass(detector, nets, {});
    console.log(describeComparison("extraction's follower", c));
    expect(c.errors.length).toBeGreaterThan(300);
    // The target, on the faces that take the fast path's one pass: 1.82 % mean here (median 1.43 %). Before
    // the point check (REFINE_POINT_TOLERANCE) they were 4.0 %, and before the full fit took over the misses, the
    // misses' second pass on their own fit lay a mean 14 % from the two-pass fit (211 of 371 faces).
    expect(mean(c.onePass)).toBeLessThan(0.02);
    // Over every face as follow() gives it (the misses count with their exact full fit): 0.30 %, 95th pct 1.94 %.
    expect(mean(c.errors)).toBeLessThan(0.02);
    expect(percentile(c.errors, 0.95)).toBeLessThan(0.03);
    // The fast path is taken (61 of 366 faces on this clip of turning heads and an audience) and, with its misses,
    // costs no more landmark passes than the full fit (2.01 a face).
    expect(c.onePass.length).toBeGreaterThan(40);
    expect(c.passesPerFace).toBeLessThanOrEqual(2.05);
  }, 120_000);

  it("the conversion's follower (faces carried by their landmarks): the performer's within 2 %, the audience's as close as the reference's own box moves it", async () => {
    const c = await compareWithTwoPass(detector, nets, { carryByLandmarks: true, minFaceArea: 35 * 35 });
    console.log(describeComparison("conversion's follower", c));
    // As the conversion runs it: faces carried by their landmarks between detections, boxes under 35 x 35 ignored.
    // The performer's carried faces (the ones a conversion of this clip swaps) are 1.81 % from the two-pass fit of
    // their box (2.3 % while a carried box was carried from the last frame's carried box, not from the detection:
    // it shrank between detections). A carried face has no detection box: where its one pass misses it gets a
    // second pass on its own fit, not the full fit (that cost ~10 % of the tracking pass, the placed face's jitter
    // unchanged). The audience's carried faces (dark, small, in profile) are 8.7 % from the two-pass fit of their
    // box, and there the reference is no fixed answer: moving the box by 4 % of its side moves the two-pass fit a
    // mean 6.9 % (the performer's 1.4 %), and one more pass on its own region 6.2 %. Neither a carry's one pass on
    // the region its last detection's landmarks give nor two full passes from the last frame's box (a pass more a
    // face) came nearer than 8.6 % and 8.2 %. So the carry is held to the reference's own dependence on its box:
    // 1.26 times it on the audience, 1.32 times on the performer (before the point check the carried faces were
    // 13.2 % from the reference, more than twice its dependence on the box).
    expect(c.carried.length).toBeGreaterThan(150);
    expect(c.performerCarried.length).toBeGreaterThan(50);
    expect(mean(c.performerCarried)).toBeLessThan(0.02);
    expect(c.audienceCarried.length).toBeGreaterThan(100);
    expect(mean(c.audienceCarried)).toBeLessThan(1.5 * mean(c.audienceCarriedBoxSensitivity));
    expect(mean(c.performerCarried)).toBeLessThan(1.5 * mean(c.performerCarriedBoxSensitivity));
    expect(mean(c.carried)).toBeLessThan(0.08);
    expect(percentile(c.carried, 0.95)).toBeLessThan(0.2);
    expect(mean(c.errors)).toBeLessThan(0.05);
  }, 120_000);
});
