import { describe, expect, it } from 'vitest';
import { ColorCorrection, ConverterConfig, SegmentationName } from '../../src-shared/contract/index.js';
import { patchCorners, type Affine, type Point } from '../../src-shared/math/geometry.js';
import { partMask, segmentationParts } from '../../src-shared/math/masks.js';
import { blendPatch, borderFeather } from '../../src-shared/math/blend.js';
import { COLOUR_MODES, correctColour, type ColourMode } from '../../src-shared/math/colour/index.js';
import { patchTransform } from '../../src-main/engine/convert/frame.js';
import {
  jitter,
  placementFromAnchors,
  placementJitter,
  smoothBoxes,
  smoothPlacements,
} from '../../src-shared/math/smoothing.js';
import { Rng } from '../../src-shared/math/rng.js';
import { rateArgument } from '../../src-main/engine/media/encoder.js';
import { DETECTED_LANDMARKS_B_BIDEN_2 } from '../helpers/landmarks-fixture.js';

const landmarks = DETECTED_LANDMARKS_B_BIDEN_2 as Point[];

describe('segmentation', () => {
  it.each(SegmentationName.options)('%s yields a non-empty mask on a frontal face', (segmentation) => {
    const parts = segmentationParts(segmentation);
    expect(parts.length).toBeGreaterThan(0);
    const mask = partMask(landmarks, parts, 256, 256, { dilation: 9, feather: 0 });
    expect(mask.reduce((n, v) => n + (v > 0.5 ? 1 : 0), 0)).toBeGreaterThan(100);
  });

  it("accepts the face-parts fork's SegmentationType names, and the names earlier versions wrote", () => {
    const parse = (segmentation: string): string => ConverterConfig.parse({ segmentation }).segmentation;
    for (const name of [
      'ALL',
      'EYES_ONLY',
      'EYEBROWS_ONLY',
      'NOSE_ONLY',
      'MOUTH_ONLY',
      'EYES_AND_EYEBROWS',
      'EYES_AND_MOUTH',
      'EYES_AND_NOSE',
      'EYEBROWS_AND_NOSE',
      'MOUTH_AND_NOSE',
      'MOUTH_AND_EYEBROWS',
    ])
      expect(parse(name)).toBe(name);
    expect(parse('FACE')).toBe('ALL');
    expect(parse('eyes')).toBe('EYES_ONLY');
    expect(parse('NOSE_AND_MOUTH')).toBe('MOUTH_AND_NOSE');
    expect(ConverterConfig.parse({}).segmentation).toBe('ALL');
    expect(ConverterConfig.safeParse({ segmentation: 'EARS' }).success).toBe(false);
  });

  it('MOUTH_AND_EYEBROWS has both parts (the fork left it empty)', () => {
    expect(segmentationParts('MOUTH_AND_EYEBROWS').sort()).toEqual(['eyebrows', 'mouth']);
    expect(() => segmentationParts('EARS')).toThrow();
  });
});

describe('box smoothing', () => {
  const noisy = Array.from({ length: 120 }, (_, i) => ({
    x: 100 + i * 2 + Math.sin(i * 2.3) * 4,
    y: 50 + Math.cos(i * 1.7) * 4,
    width: 80,
    height: 80,
  }));

  it('the Kalman track jitters less than the raw detections and follows the motion', () => {
    const smooth = smoothBoxes(noisy, { enabled: true, useKalman: true, kfNoiseCoef: 3e-3, movingAverageCoef: 0.65 });
    expect(jitter(smooth)).toBeLessThan(jitter(noisy) / 3);
    const last = smooth[119] as { x: number };
    expect(Math.abs(last.x - (100 + 119 * 2))).toBeLessThan(8);
  });

  it('the moving average smooths too, and a gap restarts smoothing', () => {
    const withGap = [...noisy.slice(0, 50), null, ...noisy.slice(51)];
    const smooth = smoothBoxes(withGap, {
      enabled: true,
      useKalman: false,
      kfNoiseCoef: 3e-3,
      movingAverageCoef: 0.65,
    });
    expect(smooth[50]).toBeNull();
    expect(smooth[51]).toEqual(withGap[51]);
    expect(jitter(smooth)).toBeLessThan(jitter(withGap));
    expect(smoothBoxes(noisy, { enabled: false, useKalman: true, kfNoiseCoef: 1, movingAverageCoef: 1 })).toEqual(
      noisy,
    );
  });
});

describe('colour correction', () => {
  const src = Float32Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 0.2 : 0.5) + ((i * 37) % 11) / 100);
  const gen = Float32Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 0.7 : 0.3) + ((i * 13) % 7) / 50);
  const channelMean = (img: Float32Array, c: number): number =>
    img.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / 100;

  it.each(['ADAIN', 'ADAIN_XYZ', 'HISTMATCH'] as const)(
    '%s moves the generated colours to the source statistics',
    (mode) => {
      const out = correctColour(gen, src, mode, null);
      for (let c = 0; c < 3; c += 1) expect(Math.abs(channelMean(out, c) - channelMean(src, c))).toBeLessThan(0.03);
    },
  );

  it('NONE leaves the colours', () => {
    expect(correctColour(gen, src, 'NONE', null)).toBe(gen);
  });
});

describe('blending', () => {
  it('changes pixels only where the mask is non-zero, and leaves the rest bit-identical', () => {
    const w = 64;
    const frame = Uint8Array.from({ length: w * w * 3 }, (_, i) => (i * 7) % 256);
    const before = Uint8Array.from(frame);
    const size = 16;
    const patch = new Float32Array(size * size * 3).fill(1);
    const mask = new Float32Array(size * size);
    for (let y = 4; y < 12; y += 1) for (let x = 4; x < 12; x += 1) mask[y * size + x] = 1;
    // Frame region x,y in [20, 36) maps onto the patch.
    const { changed } = blendPatch(frame, w, w, patch, mask, size, [1, 0, -20, 0, 1, -20]);
    expect(changed).toBeGreaterThan(40);
    for (let y = 0; y < w; y += 1)
      for (let x = 0; x < w; x += 1) {
        const inside = x >= 23 && x <= 32 && y >= 23 && y <= 32;
        if (inside) continue;
        for (let c = 0; c < 3; c += 1) expect(frame[(y * w + x) * 3 + c]).toBe(before[(y * w + x) * 3 + c]);
      }
    expect(frame[(28 * w + 28) * 3]).toBe(255);
    expect(borderFeather(10, 2)[0]).toBe(0);
  });

  it('maps the face into the generator input with the trained region centred', () => {
    const m = patchTransform(landmarks, 64, 0.9);
    // Landmarks are in a 256 aligned crop already: the nose tip lands near the patch centre.
    const nose = landmarks[30] as Point;
    const u = m[0] * nose[0] + m[1] * nose[1] + m[2];
    const v = m[3] * nose[0] + m[4] * nose[1] + m[5];
    expect(Math.abs(u - 32)).toBeLessThan(6);
    expect(Math.abs(v - 36)).toBeLessThan(10);
  });

  it('writes NTSC rates as exact fractions', () => {
    expect(rateArgument(29.97002997)).toBe('30000/1001');
    expect(rateArgument(25)).toBe('25');
    expect(rateArgument(29.97, '2997/100')).toBe('2997/100');
  });
});

describe('placing the face', () => {
  // A face drifting right at 1.5 px a frame and turning slowly, its landmark fit shaken by +-2 px of noise.
  const size = 64;
  const truth = (i: number): Affine => {
    const angle = 0.002 * i;
    const s = 0.5;
    const [c, n] = [Math.cos(angle) * s, Math.sin(angle) * s];
    // frame -> patch: rotate/scale about the face, the face at (200 + 1.5 i, 150).
    return [c, n, -(c * (200 + 1.5 * i) + n * 150) + 32, -n, c, -(-n * (200 + 1.5 * i) + c * 150) + 32];
  };
  const rng = new Rng(11);
  const measured = Array.from({ length: 150 }, (_, i) => {
    const t = truth(i);
    return [t[0], t[1], t[2] + rng.normal() * 1, t[3], t[4], t[5] + rng.normal() * 1] as Affine;
  });
  const options = { enabled: true, useKalman: true, kfNoiseCoef: 0.1, movingAverageCoef: 0.65 };

  it("the Kalman smoother halves the per-frame landmark fit's jitter at least, and does not lag the moving face", () => {
    const smoothed = smoothPlacements(measured, options, size);
    const raw = placementJitter(measured, size);
    const smooth = placementJitter(smoothed, size);
    expect(raw).toBeGreaterThan(1);
    expect(smooth).toBeLessThan(0.5 * raw);
    // It follows the drift (1.5 px a frame) without lag: the placed corners sit on the truth, closer than the
    // per-frame fit (2 px of noise) does.
    const error = (placements: ReadonlyArray<Affine | null>): number => {
      let sum = 0;
      placements.forEach((t, i) => {
        const got = patchCorners(t as Affine, size);
        const want = patchCorners(truth(i), size);
        got.forEach((p, k) => (sum += Math.hypot(p[0] - (want[k] as Point)[0], p[1] - (want[k] as Point)[1])));
      });
      return sum / (placements.length * 4);
    };
    expect(error(smoothed)).toBeLessThan(0.5 * error(measured));
    // A gap splits the runs; both sides are smoothed, the gap stays empty.
    const gapped = smoothPlacements([...measured.slice(0, 60), null, ...measured.slice(61)], options, size);
    expect(gapped[60]).toBeNull();
    expect(placementJitter(gapped, size)).toBeLessThan(0.5 * raw);
  });

  it('is a similarity made from two anchors: an unshaken placement comes back as it went in', () => {
    const t = truth(40);
    const back = placementFromAnchors(...(patchCorners(t, size).slice(0, 2) as [Point, Point]), size);
    back.forEach((v, i) => expect(v).toBeCloseTo(t[i] as number, 9));
    expect(smoothPlacements(measured, { ...options, enabled: false }, size)).toEqual(measured);
  });
});

describe('colour modes as plug-ins', () => {
  it('a new mode is one object in the list: the converter takes it by name, and falls back when it cannot measure', () => {
    const invert: ColourMode = {
      name: 'INVERT',
      label: 'Invert',
      help: 'a toy mode for this test',
      correct: (generated, _source, weight) => (weight ? null : generated.map((v) => 1 - v)),
    };
    const modes = [...COLOUR_MODES, invert];
    const gen = Float32Array.from({ length: 300 }, (_, i) => (i % 10) / 10);
    const src = new Float32Array(300).fill(0.5);
    expect(correctColour(gen, src, 'INVERT', null, modes)[0]).toBeCloseTo(1, 6);
    // A region the mode cannot use: the whole patch instead.
    expect(correctColour(gen, src, 'INVERT', new Float32Array(100).fill(1), modes)[1]).toBeCloseTo(0.9, 6);
    expect(() => correctColour(gen, src, 'SEPIA', null, modes)).toThrow(/unknown colour correction/);
    // The contract's choices are the list's names.
    expect(ColorCorrection.options).toEqual(COLOUR_MODES.map((m) => m.name));
  });
});
