import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { startLoader } from '../../src-main/engine/train/loader.js';
import { drawIteration } from '../../src-main/engine/train/batch.js';
import { FaceSet } from '../../src-main/engine/train/dataset.js';
import { Rng } from '../../src-shared/math/rng.js';

// The compiled worker (npm test builds first): a thread cannot run the TypeScript source.
const WORKER = path.resolve('dist/src-main/engine/train/loader-worker.js');

function face(seed: number): { rgb: Uint8Array; eyes: Uint8Array } {
  const rgb = new Uint8Array(256 * 256 * 3).map((_, i) => (i * 7 + seed * 31) % 251);
  const eyes = new Uint8Array(256 * 256).map((_, i) => (i % 256 > 100 && i % 256 < 140 ? 255 : 0));
  return { rgb, eyes };
}

describe('batch loader', () => {
  it('prepares on a worker thread exactly the batches, in order, that the data RNG draws inline', async () => {
    const faces = new FaceSet({ a: [face(1), face(2), face(3)], b: [face(4), face(5)] });
    const loader = startLoader(faces, { count: 2, size: 32 }, 1234, WORKER);
    expect(loader.threaded).toBe(true);
    const rng = new Rng(1234);
    try {
      for (let i = 0; i < 3; i += 1) {
        const prepared = await loader.next();
        const inline = drawIteration(faces.faces, { count: 2, size: 32 }, rng);
        expect(prepared.rngStateAfter).toBe(rng.seedState);
        for (const step of ['d', 'g'] as const) {
          const got = prepared.batches[step];
          const want = inline[step];
          expect(Buffer.from(got.a.warped.buffer).equals(Buffer.from(want.a.warped.buffer))).toBe(true);
          expect(Buffer.from(got.b.target.buffer).equals(Buffer.from(want.b.target.buffer))).toBe(true);
          expect(Buffer.from(got.b.eyes.buffer).equals(Buffer.from(want.b.eyes.buffer))).toBe(true);
        }
        // The discriminators' and the generators' batches are drawn apart, as upstream's two get_next_batch calls.
        expect(
          Buffer.from(prepared.batches.d.a.warped.buffer).equals(Buffer.from(prepared.batches.g.a.warped.buffer)),
        ).toBe(false);
      }
    } finally {
      await loader.close();
    }
  });
});
