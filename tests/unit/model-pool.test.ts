import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../src-shared/math/geometry.js';
import type { Detection } from '../../src-main/engine/detect/types.js';
import { sharedBuffer } from '../../src-main/engine/media/decode.js';
import { ModelPool, keepModelPools } from '../../src-main/engine/pipeline/workers.js';
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

describe('a pool kept between jobs (an engine process keeps the last one a while)', () => {
  afterAll(() => keepModelPools(0));

  it('hands the same workers to the next job with the same models, and closes them when idle or not asked for', async () => {
    const face = await sharedStill('b_biden_1.jpg');
    const whole: Box[] = [{ x: 0, y: 0, width: face.width, height: face.height }];
    keepModelPools(60_000);
    const first = await ModelPool.acquire(1, { detector: 'blazeface' });
    expect(first.reused).toBe(false);
    const found = await first.detector().detect(face, whole, 0.6);
    await first.release(true);
    expect(first.workers.every((w) => w.running)).toBe(true);

    const again = await ModelPool.acquire(1, { detector: 'blazeface' });
    expect(again).toBe(first);
    expect(again.reused).toBe(true);
    expect(await again.detector().detect(face, whole, 0.6)).toEqual(found);
    // A job that did not complete leaves nothing kept: its workers close.
    await again.release(false);
    expect(first.workers.some((w) => w.running)).toBe(false);

    // Other models: the kept pool closes, a new one starts.
    const one = await ModelPool.acquire(1, { detector: 'blazeface' });
    await one.release(true);
    const two = await ModelPool.acquire(2, { detector: 'blazeface' });
    expect(two).not.toBe(one);
    expect(two.reused).toBe(false);
    expect(one.workers.some((w) => w.running)).toBe(false);

    // Idle for longer than the keeping time: closed.
    keepModelPools(300);
    await two.release(true);
    expect(two.workers.every((w) => w.running)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(two.workers.some((w) => w.running)).toBe(false);
    const fresh = await ModelPool.acquire(2, { detector: 'blazeface' });
    expect(fresh).not.toBe(two);
    keepModelPools(0);
    await fresh.release(true);
    expect(fresh.workers.some((w) => w.running)).toBe(false);
  }, 60_000);
});
