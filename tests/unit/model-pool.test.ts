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

describe('model workers while one loads a model', () => {
  let pool: ModelPool;
  beforeAll(async () => {
    pool = await ModelPool.start(2, { detector: 'blazeface' });
  }, 60_000);
  afterAll(() => pool?.close());

  it('sends a frame to the worker that answers now, not behind a load', async () => {
    const face = await sharedStill('b_biden_1.jpg');
    const halves: Box[] = [
      { x: 0, y: 0, width: face.width, height: face.height },
      { x: 0, y: 0, width: face.width / 2, height: face.height },
    ];
    const order: string[] = [];
    // The identity net takes a few hundred milliseconds to load; the second worker holds it until then.
    const loading = pool.loadOn(1, { identity: true }).then(() => order.push('load'));
    const detected = pool
      .detector()
      .detect(face, halves, 0.6)
      .then((found) => {
        order.push('detect');
        return found;
      });
    const [found] = await Promise.all([detected, loading]);
    expect(found[0]?.length).toBeGreaterThan(0);
    // Split over both workers, the second piece would have waited for the load.
    expect(order).toEqual(['detect', 'load']);
  }, 60_000);
});
