import { beforeAll, describe, expect, it } from 'vitest';
import { iou, squareBox, type Box, type Point } from '../../src-shared/math/geometry.js';
import { eyeCentres } from '../../src-shared/math/face.js';
import { alignFace, eyeAlignmentError } from '../../src-main/engine/align/aligned-face.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { HAND_CHECKED, readStill } from '../helpers/stills.js';

const inside = ([x, y]: Point, b: Box, margin = 0.1): boolean =>
  x >= b.x - b.width * margin &&
  x <= b.x + b.width * (1 + margin) &&
  y >= b.y - b.height * margin &&
  y <= b.y + b.height * (1 + margin);

describe('detection, landmarks and alignment on the shared stills', () => {
  let detector: FaceDetector;
  let nets: FaceNets;
  beforeAll(async () => {
    detector = await FaceDetector.load();
    nets = await FaceNets.load();
  });

  it.each(Object.entries(HAND_CHECKED))('%s: every face is found and its landmarks land on it', async (name, faces) => {
    const { rgb, width, height } = await readStill(name);
    const found = await detector.detectFrame(rgb, width, height, { threshold: 0.6, minFaceSide: 35 });
    for (const truth of faces) {
      const match = found.find((d) => iou(squareBox(d.box), truth) >= 0.5);
      expect(
        match,
        `${name}: no detection on the face at ${JSON.stringify(truth)}; got ${JSON.stringify(found.map((d) => d.box))}`,
      ).toBeDefined();
      expect(match?.score).toBeGreaterThan(0.85);
      const landmarks = await nets.landmarks(rgb, width, height, (match as { box: Box }).box);
      const { right, left } = eyeCentres(landmarks);
      const nose = landmarks[30] as Point;
      const mouth: Point = [
        ((landmarks[48] as Point)[0] + (landmarks[54] as Point)[0]) / 2,
        ((landmarks[51] as Point)[1] + (landmarks[57] as Point)[1]) / 2,
      ];
      for (const p of [right, left, nose, mouth])
        expect(inside(p, truth), `${name}: landmark outside the face box`).toBe(true);
      // Image left is the subject's right eye; eyes above the nose tip above the mouth.
      expect(right[0]).toBeLessThan(left[0]);
      expect(Math.max(right[1], left[1])).toBeLessThan(nose[1]);
      expect(nose[1]).toBeLessThan(mouth[1]);
      // The interocular distance is a plausible share of the face box.
      expect((left[0] - right[0]) / truth.width).toBeGreaterThan(0.25);
      expect((left[0] - right[0]) / truth.width).toBeLessThan(0.6);
    }
  });

  it('aligned crops put the eye centres within 5% of the template, measured again on the crop itself', async () => {
    for (const name of ['a_obama_1.jpg', 'b_biden_2.jpg', 'astronaut_collins.png', 'two_people.jpg']) {
      const { rgb, width, height } = await readStill(name);
      const truth = (HAND_CHECKED[name] as Box[])[0] as Box;
      const landmarks = await nets.landmarks(rgb, width, height, truth);
      const aligned = alignFace(rgb, width, height, landmarks);
      // Independent measurement: landmarks found afresh on the aligned 256 px crop.
      const again = await nets.landmarks(aligned.crop, 256, 256, { x: 48, y: 40, width: 160, height: 176 });
      expect(eyeAlignmentError(again), name).toBeLessThan(0.05);
    }
  });
});
