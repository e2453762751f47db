import { beforeAll, describe, expect, it } from 'vitest';
import { boxOfPoints, squareBox, type Point } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets, SECOND_PASS_SCALE } from '../../src-main/engine/landmarks/face-nets.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { Follower, localModels } from '../../src-main/engine/track/follow.js';
import { meanDistanceIod } from '../helpers/landmark-distance.js';
import { media } from '../helpers/paths.js';

/**
 * #14: a followed face's landmarks come from one pass on the region the previous frame's points, moved with the
 * face's box, give (FaceNets.refine, as follow() runs it: each frame from the fast path's own last result), not
 * from the full two passes. Here its points are compared with the two-pass fit of the same frame and box.
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

  it('stays near the two-pass fit (the 2 % target is not reached yet: see below)', async () => {
    const source = await probeSource(media('whitehouse_performance_360p.mp4'));
    // follow() as extraction runs it: the fast path for faces that continue a track, the second look for new ones.
    const follower = new Follower(localModels(detector, nets), {
      temporal: true,
      threshold: 0.6,
      minFaceSide: 35,
      autoDownscale: false,
    });
    const errors: number[] = [];
    const repeat: number[] = [];
    // The clip's last stretch (AUDIENCE_FROM on) shows the audience: dark three-quarter and profile faces.
    const audience: { errors: number[]; repeat: number[] } = { errors: [], repeat: [] };
    let twoPass = 0;
    for await (const frame of decodeFrames(source, { stride: 1, startIndex: 0 })) {
      if (!frame.rgb) continue;
      const { rgb, width, height } = frame;
      for (const face of await follower.step(frame.index, { rgb, width, height })) {
        if (face.passes !== 1) {
          twoPass += 1;
          continue;
        }
        // The full two passes from the same detection box, on the same frame.
        const [full] = (await nets.landmarksOf(rgb, width, height, [face.box])) as [Point[]];
        // And how far one more pass on the region the two-pass fit's own points give moves them: the landmark net's
        // noise against the region it is shown.
        const [third] = (await nets.inRegions(rgb, width, height, [
          squareBox(boxOfPoints(full), SECOND_PASS_SCALE),
        ])) as [Point[]];
        const error = meanDistanceIod(face.landmarks, full);
        const noise = meanDistanceIod(third, full);
        errors.push(error);
        repeat.push(noise);
        if (frame.index >= AUDIENCE_FROM) {
          audience.errors.push(error);
          audience.repeat.push(noise);
        }
      }
    }
    const meanError = mean(errors);
    const p95 = percentile(errors, 0.95);
    console.log(
      `fast path: ${errors.length} faces, mean ${pct(meanError)} % of the inter-ocular distance (median ${pct(percentile(errors, 0.5))} %, 95th percentile ${pct(p95)} %); ${twoPass} faces took two passes; ` +
        `one more pass moves the two-pass fit itself a mean ${pct(mean(repeat))} % (median ${pct(percentile(repeat, 0.5))} %); ` +
        `on the audience (frames ${AUDIENCE_FROM}-): ${audience.errors.length} faces, mean ${pct(mean(audience.errors))} %, the two-pass fit's own ${pct(mean(audience.repeat))} %`,
    );
    expect(errors.length).toBeGreaterThan(100);
    // #14 asks for 2 %: not reached (mean 4.25 %, median 2.08 %, 95th percentile 13.4 % on this clip). Even one pass
    // on the region the two-pass fit's own points give (what a prediction from the answer itself would choose)
    // lands a mean 2.86 % (median 1.42 %) from it: the net's noise against its region puts 2 % below what any
    // one-pass estimate reaches here. The misses are the audience shot's: on the performer's frames (100 faces) the
    // mean is 2.13 % against the two-pass fit's own 1.40 %; on the audience's (51 faces) 8.4 % against its own 5.7 %.
    // Sending the tracks whose last refinement needed a second pass back to the full two passes made it worse
    // (6.0 %): the refinement after them lands farther. These bounds hold today's level.
    expect(meanError).toBeLessThan(0.05);
    expect(p95).toBeLessThan(0.16);
  }, 120_000);
});
