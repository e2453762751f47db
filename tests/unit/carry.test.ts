import { describe, expect, it } from 'vitest';
import { applyAffine, type Point } from '../../src-shared/math/geometry.js';
import { carryBox, faceLook, lookSimilarity, wellInside } from '../../src-main/engine/track/carry.js';
import { DETECTED_LANDMARKS_B_BIDEN_2 } from '../helpers/landmarks-fixture.js';
import { CARRY_LOOK_SIMILARITY } from '../../src-main/engine/track/follow.js';
import { readStill } from '../helpers/stills.js';

/** Whether a carried face would be kept: it still has a look, close enough to the last one. */
const keeps = (last: Float32Array, now: Float32Array | null): boolean =>
  now !== null && lookSimilarity(last, now) >= CARRY_LOOK_SIMILARITY;

describe('carrying a face by its landmarks', () => {
  it('moves the box as the landmarks moved: shifted, scaled about the face', () => {
    const from: Point[] = [
      [100, 100],
      [140, 100],
      [120, 130],
      [105, 150],
      [135, 150],
    ];
    // Scaled by 1.25 about (120, 125) and moved by (+30, -10).
    const move = (p: Point): Point => [120 + (p[0] - 120) * 1.25 + 30, 125 + (p[1] - 125) * 1.25 - 10];
    const to = from.map(move);
    const box = { x: 90, y: 85, width: 60, height: 80 };
    const carried = carryBox(box, from, to);
    const [cx, cy] = move([120, 125]);
    expect(carried.width).toBeCloseTo(75, 6);
    expect(carried.height).toBeCloseTo(100, 6);
    expect(carried.x + carried.width / 2).toBeCloseTo(cx, 6);
    expect(carried.y + carried.height / 2).toBeCloseTo(cy, 6);
  });

  it('a face keeps its look when it moves a little, and loses it when covered or replaced', async () => {
    const still = await readStill('b_biden_2.jpg');
    const landmarks = DETECTED_LANDMARKS_B_BIDEN_2.map(([x, y]): Point => [x, y]);
    const { rgb, width, height } = still;
    const look = faceLook(rgb, width, height, landmarks) as Float32Array;
    expect(look).not.toBeNull();
    // The same face two pixels further and 3 % larger (landmarks moved with it).
    const shift: [number, number, number, number, number, number] = [1.03, 0, 2, 0, 1.03, 1];
    const moved = new Uint8Array(rgb.length);
    for (let y = 0; y < height; y += 1)
      for (let x = 0; x < width; x += 1) {
        // Nearest source pixel of the inverse move.
        const sx = Math.round((x - 2) / 1.03);
        const sy = Math.round((y - 1) / 1.03);
        if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue;
        for (let c = 0; c < 3; c += 1) moved[(y * width + x) * 3 + c] = rgb[(sy * width + sx) * 3 + c] as number;
      }
    const movedLook = faceLook(
      moved,
      width,
      height,
      landmarks.map((p) => applyAffine(shift, p)),
    ) as Float32Array;
    expect(lookSimilarity(look, movedLook)).toBeGreaterThan(0.95);
    expect(keeps(look, movedLook)).toBe(true);
    // Covered by a flat patch: the look is gone (the detector is asked).
    const covered = Uint8Array.from(rgb);
    const xs = landmarks.map((p) => p[0]);
    const ys = landmarks.map((p) => p[1]);
    for (let y = Math.floor(Math.min(...ys)) - 10; y < Math.max(...ys) + 10; y += 1)
      for (let x = Math.floor(Math.min(...xs)) - 10; x < Math.max(...xs) + 10; x += 1)
        for (let c = 0; c < 3; c += 1) covered[(y * width + x) * 3 + c] = 128;
    expect(keeps(look, faceLook(covered, width, height, landmarks))).toBe(false);
    // The landmarks' place shown something else (the picture turned upside down): far below the limit.
    const flipped = new Uint8Array(rgb.length);
    for (let p = 0; p < width * height; p += 1)
      for (let c = 0; c < 3; c += 1) flipped[p * 3 + c] = rgb[(width * height - 1 - p) * 3 + c] as number;
    expect(keeps(look, faceLook(flipped, width, height, landmarks))).toBe(false);
  });

  it('carries only faces well inside the picture', () => {
    expect(wellInside({ x: 50, y: 50, width: 100, height: 100 }, 640, 360, 0.1)).toBe(true);
    expect(wellInside({ x: 5, y: 50, width: 100, height: 100 }, 640, 360, 0.1)).toBe(false);
    expect(wellInside({ x: 400, y: 200, width: 100, height: 155 }, 640, 360, 0.1)).toBe(false);
  });
});
