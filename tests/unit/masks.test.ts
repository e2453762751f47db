import { describe, expect, it } from 'vitest';
import { PART_HULLS } from '../../src-shared/math/face.js';
import { pointInPolygon, type Point } from '../../src-shared/math/geometry.js';
import { MASK_PARTS, partMask, partPolygons, trainingEyeMask } from '../../src-shared/math/masks.js';
import { maskIoU, rasterizePolygon } from '../../src-shared/math/raster.js';
import { DETECTED_LANDMARKS_B_BIDEN_2 } from '../helpers/landmarks-fixture.js';

const SIZE = 256;
const landmarks = DETECTED_LANDMARKS_B_BIDEN_2 as Point[];

function hard(mask: Float32Array): Uint8Array {
  return Uint8Array.from(mask, (v) => (v > 0.5 ? 255 : 0));
}

describe('part masks from real landmarks', () => {
  it.each(MASK_PARTS)('%s: the undilated mask matches its landmark hulls (IoU >= 0.9)', (part) => {
    const mask = hard(partMask(landmarks, [part], SIZE, SIZE, { dilation: 0, feather: 0 }));
    const hull = new Uint8Array(SIZE * SIZE);
    for (const polygon of partPolygons(landmarks, part)) {
      for (let y = 0; y < SIZE; y += 1)
        for (let x = 0; x < SIZE; x += 1) if (pointInPolygon([x + 0.5, y + 0.5], polygon)) hull[y * SIZE + x] = 255;
    }
    expect(hull.some((v) => v > 0)).toBe(true);
    expect(maskIoU(mask, hull)).toBeGreaterThanOrEqual(0.9);
  });

  it.each(['eyes', 'eyebrows', 'nose', 'mouth'] as const)(
    '%s: covers its own landmarks and none of the other parts',
    (part) => {
      const mask = hard(partMask(landmarks, [part], SIZE, SIZE, { dilation: 5, feather: 0 }));
      const at = ([x, y]: Point): number => mask[Math.floor(y) * SIZE + Math.floor(x)] as number;
      for (const group of PART_HULLS[part])
        for (const i of group) expect(at(landmarks[i] as Point), `own landmark ${i}`).toBe(255);
      for (const other of ['eyes', 'eyebrows', 'nose', 'mouth'] as const) {
        if (other === part) continue;
        // Landmark 27 (nose bridge top) sits between the eyebrows; skip that shared border point.
        for (const group of PART_HULLS[other])
          for (const i of group) if (i !== 27) expect(at(landmarks[i] as Point), `${other} landmark ${i}`).toBe(0);
      }
    },
  );

  it('the training eye mask is dilated and feathered around both eyes', () => {
    const mask = trainingEyeMask(landmarks, SIZE, SIZE);
    const eyes = rasterizePolygon(partPolygons(landmarks, 'eyes')[0] as Point[], SIZE, SIZE);
    let insideMin = 1;
    for (let i = 0; i < eyes.length; i += 1) if (eyes[i]) insideMin = Math.min(insideMin, mask[i] as number);
    expect(insideMin).toBeGreaterThan(0.9);
    const values = new Set(Array.from(mask, (v) => Math.round(v * 20)));
    expect(values.size).toBeGreaterThan(5); // feathered, not binary
  });
});
