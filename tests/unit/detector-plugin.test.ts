import { describe, expect, it } from 'vitest';
import type { Box } from '../../src-shared/math/geometry.js';
import { FaceDetector } from '../../src-main/engine/detect/detector.js';
import { detectorNames, loadDetector, registerDetector } from '../../src-main/engine/detect/registry.js';
import type { Detection, Detector, Frame } from '../../src-main/engine/detect/types.js';

/**
 * #15: a new detector is one file implementing Detector plus one registry line. Here the "file" is a toy that
 * calls the brightest 8 x 8 block of each region a face; FaceDetector tiles, merges and filters for it as for
 * BlazeFace.
 */
const brightest: Detector = {
  name: 'brightest-block',
  inputSize: 64,
  minFaceInput: 8,
  detect(frame: Frame, regions: readonly Box[], threshold: number): Promise<Detection[][]> {
    return Promise.resolve(
      regions.map((region) => {
        let best = { x: 0, y: 0, sum: -1 };
        for (
          let y = Math.max(0, Math.floor(region.y));
          y + 8 <= Math.min(frame.height, region.y + region.height);
          y += 4
        )
          for (
            let x = Math.max(0, Math.floor(region.x));
            x + 8 <= Math.min(frame.width, region.x + region.width);
            x += 4
          ) {
            let sum = 0;
            for (let j = 0; j < 8; j += 1)
              for (let i = 0; i < 8; i += 1) sum += frame.rgb[((y + j) * frame.width + x + i) * 3] as number;
            if (sum > best.sum) best = { x, y, sum };
          }
        const score = best.sum / (64 * 255);
        return score >= threshold ? [{ box: { x: best.x, y: best.y, width: 8, height: 8 }, score, keypoints: [] }] : [];
      }),
    );
  },
  dispose: () => Promise.resolve(),
};

describe('detectors as plug-ins (detect/registry.ts)', () => {
  it('a registered detector is found by name and runs behind FaceDetector', async () => {
    registerDetector('brightest-block', () => Promise.resolve(brightest));
    expect(detectorNames()).toEqual(expect.arrayContaining(['blazeface', 'brightest-block']));
    const detector = await FaceDetector.load('brightest-block');
    const width = 64;
    const height = 48;
    const rgb = new Uint8Array(width * height * 3).fill(20);
    for (let y = 20; y < 28; y += 1) for (let x = 36; x < 44; x += 1) rgb[(y * width + x) * 3] = 250;
    const found = await detector.detectFrame(rgb, width, height, { threshold: 0.5, minFaceSide: 4 });
    expect(found).toHaveLength(1);
    expect(found[0]?.box).toMatchObject({ x: 36, y: 20, width: 8, height: 8 });
    // Nothing bright enough: nothing found.
    const dark = await detector.detectFrame(new Uint8Array(width * height * 3).fill(20), width, height, {
      threshold: 0.5,
      minFaceSide: 4,
    });
    expect(dark).toEqual([]);
  });

  it('an unknown name is refused with the names there are', async () => {
    await expect(loadDetector('mtcnn')).rejects.toMatchObject({
      message: 'there is no face detector called "mtcnn"',
      fix: expect.stringMatching(/^use one of: blazeface/),
    });
  });
});
