import { beforeAll, describe, expect, it } from 'vitest';
import { boxOfPoints, squareBox, type Point } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets, SECOND_PASS_SCALE } from '../../src-main/engine/landmarks/face-nets.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { Follower, localModels } from '../../src-main/engine/track/follow.js';
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

describe('landmarks: the fast path against the two-pass fit on the sample clip', () => {
  let detector: FaceDetector;
  let nets: FaceNets;
  beforeAll(async () => {
    detector = await FaceDetector.load();
    nets = await FaceNets.load();
  });

  it('stays within 2 % of the inter-ocular distance of the two-pass fit, and takes one pass where it can', async () => {
    const source = await probeSource(media('whitehouse_performance_360p.mp4'));
    // follow() as extraction runs it: the fast path for faces that continue a track, the second look for new ones.
    const follower = new Follower(localModels(detector, nets), {
      temporal: true,
      threshold: 0.6,
      minFaceSide: 35,
      autoDownscale: false,
    });
    const errors: number[] = [];
    const onePass: number[] = [];
    const repeat: number[] = [];
    // The clip's last stretch (AUDIENCE_FROM on) shows the audience: dark three-quarter and profile faces.
    const audience: number[] = [];
    for await (const frame of decodeFrames(source, { stride: 1, startIndex: 0 })) {
      if (!frame.rgb) continue;
      const { rgb, width, height } = frame;
      for (const face of await follower.step(frame.index, { rgb, width, height })) {
        // The full two passes from the same detection box, on the same frame.
        const [full] = (await nets.landmarksOf(rgb, width, height, [face.box])) as [Point[]];
        // And how far one more pass on the region the two-pass fit's own points give moves them: the landmark net's
        // noise against the region it is shown.
        const [third] = (await nets.inRegions(rgb, width, height, [
          squareBox(boxOfPoints(full), SECOND_PASS_SCALE),
        ])) as [Point[]];
        const error = meanDistanceIod(face.landmarks, full);
        errors.push(error);
        repeat.push(meanDistanceIod(third, full));
        if (face.passes === 1) onePass.push(error);
        if (frame.index >= AUDIENCE_FROM) audience.push(error);
      }
    }
    const meanError = mean(errors);
    const passesPerFace = follower.stats.landmarkPasses / errors.length;
    console.log(
      `fast path: ${errors.length} faces, mean ${pct(meanError)} % of the inter-ocular distance from the two-pass fit ` +
        `(median ${pct(percentile(errors, 0.5))} %, 95th percentile ${pct(percentile(errors, 0.95))} %; audience, ` +
        `frames ${AUDIENCE_FROM}-: ${pct(mean(audience))} %); ${onePass.length} faces took one pass, mean ` +
        `${pct(mean(onePass))} % (median ${pct(percentile(onePass, 0.5))} %); ${passesPerFace.toFixed(2)} landmark ` +
        `passes a face (the full fit: 2); one more pass moves the two-pass fit itself a mean ${pct(mean(repeat))} %`,
    );
    expect(errors.length).toBeGreaterThan(300);
    // The target, on the faces that take the fast path's one pass: 1.82 % mean here (median 1.43 %). Before
    // the point check (REFINE_POINT_TOLERANCE) they were 4.0 %, and before the full fit took over the misses, the
    // misses' second pass on their own fit lay a mean 14 % from the two-pass fit (211 of 371 faces).
    expect(mean(onePass)).toBeLessThan(0.02);
    // Over every face as follow() gives it (the misses count with their exact full fit): 0.30 %, 95th pct 1.94 %.
    expect(meanError).toBeLessThan(0.02);
    expect(percentile(errors, 0.95)).toBeLessThan(0.03);
    // The fast path is taken (61 of 366 faces on this clip of turning heads and an audience) and, with its misses,
    // costs no more landmark passes than the full fit (2.01 a face).
    expect(onePass.length).toBeGreaterThan(40);
    expect(passesPerFace).toBeLessThanOrEqual(2.05);
  }, 120_000);
});
