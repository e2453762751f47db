import { beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { Follower, localModels } from '../../src-main/engine/track/follow.js';
import { meanDistanceIod } from '../../src-shared/math/face.js';
import { media } from '../helpers/paths.js';

/**
 * #14: the conversion's tracking pass carries a steady face by its landmarks between full detections (track/carry.ts)
 * instead of running the detector around it. On the sample clip's single-performer stretch (frames 83-210, one face
 * in every frame) the face must be found on every frame, most continuations carried, and the carried landmarks as
 * close to the full two-pass fit of their box as the detector path's are (1.7-1.9 % of the inter-ocular distance
 * measured for both).
 */
describe('carrying faces by their landmarks on the sample clip', () => {
  let detector: FaceDetector;
  let nets: FaceNets;
  beforeAll(async () => {
    detector = await FaceDetector.load();
    nets = await FaceNets.load();
  });

  it('follows the performer on every frame with few detector runs and two-pass accuracy', async () => {
    const source = await probeSource(media('whitehouse_performance_360p.mp4'));
    const follower = new Follower(localModels(detector, nets), {
      temporal: true,
      threshold: 0.6,
      minFaceSide: 35,
      minFaceArea: 35 * 35,
      autoDownscale: false,
      carryByLandmarks: true,
    });
    const errors: number[] = [];
    let framesWithFace = 0;
    let carried = 0;
    for await (const frame of decodeFrames(source, { stride: 1, startIndex: 83 })) {
      if (frame.index > 210) break;
      if (!frame.rgb) continue;
      const { rgb, width, height } = frame;
      const faces = await follower.step(frame.index, { rgb, width, height });
      if (faces.length > 0) framesWithFace += 1;
      for (const face of faces.filter((f) => f.carried)) {
        carried += 1;
        const [full] = (await nets.landmarksOf(rgb, width, height, [face.box])) as [Point[]];
        errors.push(meanDistanceIod(face.landmarks, full));
      }
    }
    const mean = errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length);
    console.log(
      `carried ${carried} of ${framesWithFace} faces; ${follower.stats.carryRefused} carries refused; landmarks a mean ${(mean * 100).toFixed(2)} % of the inter-ocular distance from the two-pass fit`,
    );
    expect(framesWithFace).toBe(128);
    // Every eighth frame is a full detection, a face is carried only from the frame after its third sighting, and
    // the performer's look changes as he sings and turns (a refused carry is not tried on the next frame): 51 of
    // the 128 faces are carried here.
    expect(carried).toBeGreaterThan(40);
    expect(follower.stats.fullDetections).toBeGreaterThan(10);
    expect(mean).toBeLessThan(0.03);
  }, 120_000);
});
