import { describe, expect, it } from 'vitest';
import type { Point } from '../../src-shared/math/geometry.js';
import { maskAt, patchBox, sampleMask } from '../../src-shared/math/quality.js';
import { blendRegion, patchTransform } from '../../src-main/engine/convert/frame.js';
import { compareFrame, ENCODED_TOLERANCE, type ComparisonJob } from '../../src-main/engine/metrics/frame-comparison.js';
import { DETECTED_LANDMARKS_B_BIDEN_2 } from '../helpers/landmarks-fixture.js';

// A 320 x 288 frame with the fixture's face (its 256 px crop's coordinates) placed 40 px right, 20 px down.
const W = 320;
const H = 288;
const landmarks: Point[] = DETECTED_LANDMARKS_B_BIDEN_2.map(([x, y]) => [x + 40, y + 20]);
const R = 64;
const toPatch = patchTransform(landmarks, R, 0.9);

function job(encoded: Uint8Array, source: Uint8Array, segmentation: 'EYES_ONLY' | 'ALL'): ComparisonJob {
  return {
    source,
    encoded,
    width: W,
    height: H,
    columns: 1,
    placement: { landmarks, toPatch },
    resolution: R,
    segmentation,
    override: null,
    label: null,
  };
}

function picture(): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < rgb.length; i += 1) rgb[i] = (i * 37 + ((i / 3) | 0) * 11) % 200;
  return rgb;
}

/** The topmost frame pixel the region covers (where a box-local mask's first row is). */
function topOfRegion(segmentation: 'EYES_ONLY' | 'ALL'): [number, number] {
  const region = blendRegion(landmarks, toPatch, R, { segmentation }, null);
  for (let y = 0; y < H; y += 1)
    for (let x = 0; x < W; x += 1) if (maskAt(region, R, toPatch, x, y) > 1e-4) return [x, y];
  throw new Error('empty region');
}

describe("the export check's frame comparison", () => {
  it("samples the region over the patch's box exactly as maskAt does per pixel, and nothing lies outside the box", () => {
    const region = blendRegion(landmarks, toPatch, R, { segmentation: 'ALL' }, null);
    const box = patchBox(toPatch, R, W, H, 3);
    expect(box).not.toBeNull();
    const { x0, y0, x1, y1 } = box as NonNullable<typeof box>;
    const sampled = sampleMask(region, R, toPatch, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    let inside = 0;
    for (let y = 0; y < H; y += 1)
      for (let x = 0; x < W; x += 1) {
        const value = maskAt(region, R, toPatch, x, y);
        if (x < x0 || x > x1 || y < y0 || y > y1) expect(value).toBe(0);
        else {
          expect(sampled[(y - y0) * (x1 - x0 + 1) + (x - x0)]).toBe(Math.fround(value));
          if (value > 0.5) inside += 1;
        }
      }
    expect(inside).toBeGreaterThan(1000);
  });

  const source = picture();
  const change = (rgb: Uint8Array, [x, y]: readonly [number, number]): void => {
    const o = (Math.round(y) * W + Math.round(x)) * 3;
    rgb[o] = ((rgb[o] as number) + ENCODED_TOLERANCE + 60) % 256;
  };

  it('an unchanged frame: every pixel outside the region compared, none changed', () => {
    const c = compareFrame(job(Uint8Array.from(source), source, 'ALL'));
    expect(c.changed).toBe(0);
    expect(c.absSum).toBe(0);
    // The face's region (dilated) is left out, the rest of the frame is compared.
    expect(c.pixels).toBeLessThan(W * H - 5000);
    expect(c.pixels).toBeGreaterThan((W * H) / 3);
  });

  it('counts a change outside the region and not one inside it, its topmost pixel included', () => {
    for (const segmentation of ['EYES_ONLY', 'ALL'] as const) {
      const encoded = Uint8Array.from(source);
      // Inside: an eye's corner, and the topmost pixel of the region (the first row of its box).
      change(encoded, landmarks[36] as Point);
      change(encoded, topOfRegion(segmentation));
      expect(compareFrame(job(encoded, source, segmentation)).changed).toBe(0);
      // Outside: the frame's corners, and the chin for the eyes-only region.
      change(encoded, [0, 0]);
      change(encoded, [W - 1, H - 1]);
      const outside = segmentation === 'EYES_ONLY' ? 3 : 2;
      if (segmentation === 'EYES_ONLY') change(encoded, landmarks[8] as Point);
      expect(compareFrame(job(encoded, source, segmentation)).changed).toBe(outside);
    }
  });

  it('a frame without a face: every pixel compared', () => {
    const encoded = Uint8Array.from(source);
    change(encoded, landmarks[36] as Point);
    const c = compareFrame({ ...job(encoded, source, 'ALL'), placement: null });
    expect(c.pixels).toBe(W * H);
    expect(c.changed).toBe(1);
  });
});
