/**
 * The swap of one real face, with a stand-in generator whose output is what a young model gives (a darker copy of
 * the face, a faint attention mask): the conversion keeps the source's lightness, frames the trained region so
 * brows and lips are inside the full-strength blend, and enhance scales only the change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConverterConfig } from '../../src-shared/contract/index.js';
import { templateInCrop } from '../../src-shared/math/face.js';
import { applyAffine, type Point } from '../../src-shared/math/geometry.js';
import { maskAt, regionLightness } from '../../src-shared/math/quality.js';
import { BORDER_FADE, patchTransform, swapFace } from '../../src-main/engine/convert/frame.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import type { Generator } from '../../src-main/engine/model/generator.js';
import { trainedRegion } from '../../src-main/engine/train/augment.js';
import { readStill } from '../helpers/stills.js';

const R = 64;

/** A generator stand-in: colour = the input face times `darken`, the same attention `alpha` everywhere. */
function youngModel(alpha: number, darken: number): Generator {
  return {
    arch: { resolution: R },
    decoderFor: () => 'B',
    run: (_side: string, faces: Float32Array) =>
      Promise.resolve({ alpha: new Float32Array(R * R).fill(alpha), color: faces.map((v) => v * darken) }),
  } as unknown as Generator;
}

describe('converting a real face with a young model', () => {
  let rgb: Uint8Array;
  let width: number;
  let height: number;
  let landmarks: Point[];

  beforeAll(async () => {
    ({ rgb, width, height } = await readStill('b_biden_2.jpg'));
    const detector = await FaceDetector.load();
    const faces = await detector.detectFrame(rgb, width, height, { threshold: 0.6, minFaceSide: 40 });
    const face = faces.sort((a, b) => b.box.width - a.box.width)[0];
    if (!face) throw new Error('no face on b_biden_2.jpg');
    landmarks = await (await FaceNets.load()).landmarks(rgb, width, height, face.box);
  });

  const swap = async (generator: Generator, overrides: Partial<ConverterConfig>) => {
    const config = ConverterConfig.parse(overrides);
    const toPatch = patchTransform(landmarks, R, config.roi_coverage);
    const result = Uint8Array.from(rgb);
    const out = await swapFace(result, width, height, landmarks, toPatch, generator, config);
    const light = regionLightness(rgb, result, width, height, out.region, R, toPatch);
    if (!light) throw new Error('the swap region covers no pixel');
    return { result, out, toPatch, deltaL: light.result - light.source };
  };

  it.each([
    ['HISTMATCH', 0.3],
    ['HISTMATCH', 0.02],
    ['ADAIN', 0.3],
    ['ADAIN_XYZ', 0.3],
  ] as const)(
    '%s with alpha %s: the face keeps its lightness (within 3 L*), it is not darkened',
    async (mode, alpha) => {
      const { deltaL } = await swap(youngModel(alpha, 0.55), { color_correction: mode, segmentation: 'ALL' });
      expect(Math.abs(deltaL), `L* moved by ${deltaL.toFixed(2)}`).toBeLessThan(3);
    },
  );

  it('a feathered eyes mask at full attention keeps the eyes region as light as the source', async () => {
    const { deltaL, out } = await swap(youngModel(1, 0.55), { segmentation: 'EYES_ONLY' });
    expect(out.region.some((v) => v > 0.99)).toBe(true);
    expect(Math.abs(deltaL), `L* moved by ${deltaL.toFixed(2)}`).toBeLessThan(3);
  });

  it('without colour correction the same young model does darken the face: the measure can fail', async () => {
    const { deltaL } = await swap(youngModel(1, 0.55), { color_correction: 'NONE', segmentation: 'ALL' });
    expect(deltaL).toBeLessThan(-10);
  });

  it("the brows' ends and the lower lip lie inside the full-strength blend (on this face and on the template)", () => {
    const toPatch = patchTransform(landmarks, R, 0.9);
    const margin = BORDER_FADE * R;
    const parts = [...Array.from({ length: 10 }, (_, i) => 17 + i), ...Array.from({ length: 12 }, (_, i) => 48 + i)];
    for (const i of parts) {
      const [u, v] = applyAffine(toPatch, landmarks[i] as Point);
      expect(u, `landmark ${i}`).toBeGreaterThan(margin);
      expect(v, `landmark ${i}`).toBeGreaterThan(margin);
      expect(u, `landmark ${i}`).toBeLessThan(R - 1 - margin);
      expect(v, `landmark ${i}`).toBeLessThan(R - 1 - margin);
    }
    // The template (aligned-crop pixels; its first point is landmark 17).
    const [from, to] = trainedRegion(0.9);
    const fade = BORDER_FADE * (to - from);
    const template = templateInCrop(256);
    for (const i of parts) {
      const [x, y] = template[i - 17] as Point;
      for (const c of [x, y]) {
        expect(c).toBeGreaterThan(from + fade);
        expect(c).toBeLessThan(to - fade);
      }
    }
  });

  it('enhance scales the change from the source by 1 + enhance inside the mask, and nothing outside it', async () => {
    const plain = await swap(youngModel(1, 0.8), { segmentation: 'EYES_ONLY', color_correction: 'NONE' });
    const boosted = await swap(youngModel(1, 0.8), {
      segmentation: 'EYES_ONLY',
      color_correction: 'NONE',
      enhance: 0.3,
    });
    let ratioSum = 0;
    let n = 0;
    let changedOutside = 0;
    for (let i = 0; i < rgb.length; i += 1) {
      const a = (plain.result[i] as number) - (rgb[i] as number);
      const b = (boosted.result[i] as number) - (rgb[i] as number);
      if (a === 0 && b === 0) continue;
      const p = Math.floor(i / 3);
      if (maskAt(plain.out.mask, R, plain.toPatch, p % width, Math.floor(p / width)) <= 1e-4) {
        changedOutside += 1;
        continue;
      }
      if (Math.abs(a) >= 20 && (boosted.result[i] as number) > 0) {
        ratioSum += b / a;
        n += 1;
      }
    }
    expect(changedOutside).toBe(0);
    expect(n).toBeGreaterThan(50);
    expect(ratioSum / n).toBeGreaterThan(1.2);
    expect(ratioSum / n).toBeLessThan(1.4);
  });
});
