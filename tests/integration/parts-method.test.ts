/**
 * Method #1 (the seed's face parts as augmented training data) on real faces: the nearest target face in the
 * recognition net's averaged feature maps is the one most like the source, and a paste changes the source only
 * inside the dilated part region.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { alignmentTransform } from '../../src-shared/math/face.js';
import { applyAffine, type Point } from '../../src-shared/math/geometry.js';
import { partMask } from '../../src-shared/math/masks.js';
import { warpAffine } from '../../src-shared/math/raster.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { faceFeatures, nearest, pastePart, type LandmarkedFace } from '../../src-main/engine/train/part-paste.js';
import { PerceptualNet } from '../../src-main/engine/train/perceptual.js';
import { readStill } from '../helpers/stills.js';

const STILLS = [
  'a_obama_1.jpg',
  'a_obama_2.jpg',
  'a_obama_3.jpg',
  'b_biden_1.jpg',
  'b_biden_2.jpg',
  'astronaut_collins.png',
];

/** The still's largest face as a 256 px aligned crop, with its landmarks in the crop. */
async function alignedFace(file: string, detector: FaceDetector, nets: FaceNets): Promise<LandmarkedFace> {
  const { rgb, width, height } = await readStill(file);
  const faces = await detector.detectFrame(rgb, width, height, { threshold: 0.6, minFaceSide: 40 });
  const face = faces.sort((a, b) => b.box.width - a.box.width)[0];
  if (!face) throw new Error(`no face on ${file}`);
  const landmarks = await nets.landmarks(rgb, width, height, face.box);
  const toCrop = alignmentTransform(landmarks, 256);
  return {
    rgb: warpAffine(rgb, width, height, 3, toCrop, 256, 256),
    landmarks: landmarks.map((p) => applyAffine(toCrop, p)),
  };
}

describe("Method #1: the target's part pasted into the source's faces", () => {
  let faces: LandmarkedFace[];
  let net: PerceptualNet;

  beforeAll(async () => {
    const detector = await FaceDetector.load();
    const nets = await FaceNets.load();
    faces = [];
    for (const file of STILLS) faces.push(await alignedFace(file, detector, nets));
    net = await PerceptualNet.fromFaceNets(nets);
  }, 120_000);

  it('matches each face to its own re-lit, shifted copy among the others (averaged feature maps, k = 1)', async () => {
    // Targets: every face darker, warmer and moved by a few pixels, in another order.
    const order = [3, 5, 0, 4, 1, 2];
    const changed = order.map((i) => {
      const f = faces[i] as LandmarkedFace;
      const moved = warpAffine(f.rgb, 256, 256, 3, [1.02, 0, -4, 0, 1.02, 3], 256, 256);
      return moved.map((v, k) => Math.min(255, Math.round(v * (k % 3 === 0 ? 0.85 : 0.75) + 10)));
    });
    const sources = await faceFeatures(
      net,
      faces.map((f) => f.rgb),
    );
    const targets = await faceFeatures(net, changed);
    const matches = nearest(sources, targets);
    const right = matches.filter((m, i) => order[m.index] === i).length;
    expect(right).toBeGreaterThanOrEqual(5);
    // Matched pairs are closer than the same faces paired with other targets.
    const other = sources.map((s, i) =>
      Math.hypot(...s.map((v, k) => v - ((targets[(i + 1) % 6] as Float32Array)[k] as number))),
    );
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(matches.map((m) => m.distance))).toBeLessThan(0.6 * mean(other));
  });

  it.each(['eyes', 'mouth', 'nose', 'eyebrows'] as const)(
    'a pasted %s changes the source only inside the dilated part region, and does change it there',
    (part) => {
      const source = faces[0] as LandmarkedFace;
      const donor = faces[4] as LandmarkedFace;
      const { rgb, mask } = pastePart(source, donor, part);
      let outside = 0;
      let changedInside = 0;
      for (let p = 0; p < 256 * 256; p += 1) {
        const diff = Math.max(
          ...[0, 1, 2].map((c) => Math.abs((rgb[p * 3 + c] as number) - (source.rgb[p * 3 + c] as number))),
        );
        if ((mask[p] as number) <= 0) {
          if (diff > 0) outside += 1;
        } else if (diff > 8) changedInside += 1;
      }
      expect(outside).toBe(0);
      expect(changedInside).toBeGreaterThan(100);
      // The region is the part's: its hull lies inside it, the far corners of the face do not.
      const hull = partMask(source.landmarks as Point[], [part], 256, 256, { dilation: 1, feather: 0 });
      let hullInside = 0;
      let hullPixels = 0;
      hull.forEach((v, p) => {
        if (v < 0.5) return;
        hullPixels += 1;
        if ((mask[p] as number) > 0.5) hullInside += 1;
      });
      expect(hullInside / hullPixels).toBeGreaterThan(0.95);
      expect(mask[10 * 256 + 10]).toBe(0);
      expect(mask[245 * 256 + 245]).toBe(0);
    },
  );
});
