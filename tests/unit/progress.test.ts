import { describe, expect, it } from 'vitest';
import { RateMeter, etaSeconds } from '../../src-main/engine/jobs/progress.js';

/** ETAs (minutes) of a 300-step run whose steps alternate between `fast` and `slow` seconds, after step `from`. */
function etas(meter: RateMeter, fast: number, slow: number, from = 30): number[] {
  const out: number[] = [];
  let time = 0;
  for (let done = 1; done <= 120; done += 1) {
    time += (done % 2 ? fast : slow) * 1000;
    const { rate } = meter.update(done, time);
    const eta = etaSeconds(done, 300, rate);
    if (done >= from && eta !== null) out.push(eta / 60);
  }
  return out;
}

describe('RateMeter', () => {
  it('keeps the ETA of slow, uneven training steps steady', () => {
    // Steps of 9 s and 17 s (a CPU run with the loader hiccuping): a window of 5 s alone holds one step, and its
    // ETA jumps between the two speeds, as the issue saw (41 min, then 73).
    const jumpy = etas(new RateMeter(5_000, 0), 9, 17);
    expect(Math.max(...jumpy) / Math.min(...jumpy)).toBeGreaterThan(1.5);
    const steady = etas(new RateMeter(), 9, 17);
    // 20 steps or more: the average of the two speeds, within a few percent.
    const spread = steady.map((eta, i) => eta / (((300 - (30 + i)) * 13) / 60));
    expect(Math.max(...spread)).toBeLessThan(1.05);
    expect(Math.min(...spread)).toBeGreaterThan(0.95);
  });

  it('says what the rate is based on', () => {
    const meter = new RateMeter(30_000, 20);
    let result = meter.update(0, 0);
    for (let done = 1; done <= 100; done += 1) result = meter.update(done, done * 100);
    // Fast items: the time window (30 s) holds them all, more than the 20-item floor.
    expect(result.basis).toEqual({ items: 100, seconds: 10 });
    expect(result.rate).toBeCloseTo(10);
    for (let done = 101; done <= 1000; done += 1) result = meter.update(done, done * 100);
    expect(result.basis.seconds).toBeCloseTo(30, 0);
    expect(result.rate).toBeCloseTo(10);
  });

  it('starts afresh after a reset (a pause is not a slow rate)', () => {
    const meter = new RateMeter();
    meter.update(1, 0);
    meter.update(2, 10_000);
    meter.reset();
    meter.update(3, 600_000);
    expect(meter.update(4, 610_000).rate).toBeCloseTo(0.1);
  });
});
