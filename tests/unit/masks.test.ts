import { describe, expect, it } from 'vitest';
import { PART_HULLS, alignmentTransform } from '../../src-shared/math/face.js';
import { applyAffine, mean, pointInPolygon, type Affine, type Point } from '../../src-shared/math/geometry.js';
import { MASK_PARTS, partMask, partPolygons, swapPartsMask, trainingEyeMask } from '../../src-shared/math/masks.js';
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

describe('hand-edited masks in a swap', () => {
  const CROP = 256;
  const PATCH = 64;
  const toCrop = alignmentTransform(landmarks, CROP);
  const cropLandmarks = landmarks.map((p) => applyAffine(toCrop, p));
  const cropToPatch: Affine = [PATCH / CROP, 0, 0, 0, PATCH / CROP, 0];
  const patchLandmarks = cropLandmarks.map((p) => applyAffine(cropToPatch, p));
  const options = { dilation: 3, iterations: 1, feather: 0 };
  const at = (mask: Float32Array, [x, y]: Point): number => mask[Math.floor(y) * PATCH + Math.floor(x)] as number;
  const mouthCentre = applyAffine(cropToPatch, cropLandmarks[62] as Point);
  const leftEye = applyAffine(cropToPatch, mean(cropLandmarks.slice(36, 42)));

  it('without edits it is the automatic part mask', () => {
    const automatic = partMask(patchLandmarks, ['eyes', 'mouth'], PATCH, PATCH, options);
    expect(swapPartsMask(patchLandmarks, ['eyes', 'mouth'], PATCH, options)).toEqual(automatic);
  });

  it("an edited polygon replaces that part's hull, carried from crop to patch pixels; other parts stay automatic", () => {
    // The user moved the mouth mask to a square in the forehead (crop pixels 100..150, 30..60).
    const square: Point[] = [
      [100, 30],
      [150, 30],
      [150, 60],
      [100, 60],
    ];
    const mask = swapPartsMask(
      patchLandmarks,
      ['eyes', 'mouth'],
      PATCH,
      options,
      { cropSize: CROP, parts: { mouth: { polygon: square, raster: null } } },
      cropToPatch,
    );
    expect(at(mask, [31, 11])).toBe(1); // inside the square (crop 125, 45)
    expect(at(mask, mouthCentre)).toBe(0); // the automatic mouth is gone
    expect(at(mask, leftEye)).toBe(1); // the eyes are untouched
    expect(at(mask, [10, 55])).toBe(0);
  });

  it('a painted raster is the part as painted (an eraser stroke through the eyes removes them)', () => {
    const raster = new Uint8Array(CROP * CROP);
    const eyesCrop = partPolygons(cropLandmarks, 'eyes');
    for (const polygon of eyesCrop) rasterizePolygon(polygon, CROP, CROP, raster);
    const leftEyeCrop = cropLandmarks[37] as Point;
    // Erase a band across the left eye only.
    for (let y = 0; y < CROP; y += 1) for (let x = 0; x < leftEyeCrop[0] + 12; x += 1) raster[y * CROP + x] = 0;
    const mask = swapPartsMask(
      patchLandmarks,
      ['eyes'],
      PATCH,
      options,
      { cropSize: CROP, parts: { eyes: { polygon: null, raster } } },
      cropToPatch,
    );
    const rightEye = applyAffine(cropToPatch, mean(cropLandmarks.slice(42, 48)));
    expect(at(mask, leftEye)).toBe(0);
    expect(at(mask, rightEye)).toBeGreaterThan(0.9);
  });
});
