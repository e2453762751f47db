import { describe, expect, it } from 'vitest';
import { medianRun } from '../../src-main/bench/bench.js';

describe('bench: the conversion figure is its median run', () => {
  const run = (fps: unknown, reference: number) => ({ conversion: { fps }, decodeEncode: { fps: reference } });

  it('picks the middle rate, with its own reference', () => {
    const picked = medianRun([run(31.2, 210), run(27.9, 168), run(33.0, 230)]);
    expect(picked).toEqual(run(31.2, 210));
  });

  it('counts a failed run (no rate) as the slowest', () => {
    expect(medianRun([run(undefined, 200), run(30, 200), run(29, 190)])).toEqual(run(29, 190));
    expect(medianRun([run(28, 180)])).toEqual(run(28, 180));
  });
});
