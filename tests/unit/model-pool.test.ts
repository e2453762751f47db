import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../src-shared/math/geometry.js';
import type { Detection } from '../../src-main/engine/detect/types.js';
import { sharedBuffer } from '../../src-main/engine/media/decode.js';
import { ModelPool } from '../../src-main/engine/pipeline/workers.js';
import { readStill } from '../helpers/stills.js';

/** A still in shared memory, as decoded frames are. */
async function sharedStill(name: string) {
  const still = await readStill(name);
  const rgb = sharedBuffer(still.rgb.length);
  rgb.set(still.rgb);
  return { rgb, width: still.width, height: still.height };
}

describe('model workers', () => {
  let pool: ModelPool;
  beforeAll(async () => {
    pool = await ModelPool.start(1, { detector: 'blazeface' });
  }, 60_000);
  afterAll(() => pool?.close());

  it('answers requests that arrive together as it answers them one by one', async () => {
    const face = await sharedStill('b_biden_1.jpg');
    const blank = { rgb: sharedBuffer(face.rgb.length), width: face.width, height: face.height };
    const whole: Box[] = [{ x: 0, y: 0, width: face.width, height: face.height }];
    const detect = pool.detector().detect;
    const alone = [await detect(face, whole, 0.6), await detect(blank, whole, 0.6)];
    expect((alone[0] as Detection[][])[0]?.length).toBeGreaterThan(0);
    expect((alone[1] as Detection[][])[0]).toHaveLength(0);
    // Both at once on the one worker: the detector's input buffer must not be shared between them.
    const together = await Promise.all([detect(face, whole, 0.6), detect(blank, whole, 0.6)]);
    expect(together).toEqual(alone);
  }, 60_000);
});
