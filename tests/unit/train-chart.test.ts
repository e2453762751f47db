import { describe, expect, it } from 'vitest';
import {
  LossHistory,
  buildSeries,
  componentKeys,
  componentName,
  downsample,
  ema,
  evenIndexes,
  recentStart,
} from '../../src-renderer/src/lib/train-series.js';

const close = (values: readonly number[], expected: readonly number[]): void => {
  expect(values).toHaveLength(expected.length);
  values.forEach((value, i) => expect(value, `index ${i}`).toBeCloseTo(expected[i] as number, 12));
};

describe('ema', () => {
  it('starts at the first value and moves by (1 - s) of each step', () => {
    // 10; 0.5*10 + 0.5*20 = 15; 0.5*15 + 0.5*0 = 7.5; 0.5*7.5 + 0.5*10 = 8.75
    close(ema([10, 20, 0, 10], 0.5), [10, 15, 7.5, 8.75]);
    // 1; 0.9*1 + 0.1*2 = 1.1; 0.9*1.1 + 0.1*4 = 1.39
    close(ema([1, 2, 4], 0.9), [1, 1.1, 1.39]);
  });

  it('is the identity at 0, clamps the factor, and handles empty input', () => {
    expect(ema([3, 1, 2], 0)).toEqual([3, 1, 2]);
    expect(ema([3, 1, 2], -4)).toEqual([3, 1, 2]);
    expect(ema([3, 1, 2], Number.NaN)).toEqual([3, 1, 2]);
    // s = 1 would freeze the line at the first value; it is clamped to 0.999.
    close(ema([0, 1000], 1), [0, 1]);
    expect(ema([], 0.6)).toEqual([]);
  });
});

describe('downsampling and the recent window', () => {
  it('picks evenly, keeping the first and the last', () => {
    expect(evenIndexes(10, 4)).toEqual([0, 3, 6, 9]);
    expect(evenIndexes(7, 3)).toEqual([0, 3, 6]);
    // round(i * 4 / 2): 0, 2, 4 of 5; of 6 with 4 picks: round(0), round(5/3)=2, round(10/3)=3, 5
    expect(evenIndexes(6, 4)).toEqual([0, 2, 3, 5]);
    expect(evenIndexes(3, 10)).toEqual([0, 1, 2]);
    expect(evenIndexes(5, 1)).toEqual([4]);
    expect(evenIndexes(0, 5)).toEqual([]);
    expect(downsample(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], 4)).toEqual(['a', 'd', 'g', 'j']);
  });

  it('matches the engine: 50,000 iterations thinned to 20,000 keep iterations 1, 4 and 50,000', () => {
    const picks = evenIndexes(50_000, 20_000);
    expect(picks).toHaveLength(20_000);
    expect(picks.slice(0, 3)).toEqual([0, 3, 5]);
    expect(picks.at(-1)).toBe(49_999);
  });

  it('finds the points within the last N iterations', () => {
    const xs = [1, 2, 3, 5, 8, 13, 21];
    expect(recentStart(xs, null)).toBe(0);
    expect(recentStart(xs, 10)).toBe(5); // x > 11: 13 and 21
    expect(recentStart(xs, 8)).toBe(6); // x > 13: only 21
    expect(recentStart(xs, 9)).toBe(5); // x > 12: 13, 21
    expect(recentStart(xs, 1)).toBe(6);
    expect(recentStart(xs, 100)).toBe(0);
    expect(recentStart([], 5)).toBe(0);
  });
});

describe('buildSeries', () => {
  const xs = [1, 2, 3, 4, 5, 6];
  const ys = [4, Number.NaN, 2, 0, 8, 6];

  it('skips missing values, smooths over the whole run, then cuts the window', () => {
    expect(buildSeries(xs, ys, { smoothing: 0, recent: null, log: false, maxPoints: 100 })).toEqual([
      { x: 1, y: 4 },
      { x: 3, y: 2 },
      { x: 4, y: 0 },
      { x: 5, y: 8 },
      { x: 6, y: 6 },
    ]);
    // EMA 0.5 over 4, 2, 0, 8, 6: 4, 3, 1.5, 4.75, 5.375; the window of the last 2 iterations keeps x 5 and 6.
    expect(buildSeries(xs, ys, { smoothing: 0.5, recent: 2, log: false, maxPoints: 100 })).toEqual([
      { x: 5, y: 4.75 },
      { x: 6, y: 5.375 },
    ]);
  });

  it('drops values a log scale cannot show, and thins to maxPoints', () => {
    expect(buildSeries(xs, ys, { smoothing: 0, recent: null, log: true, maxPoints: 100 })).toEqual([
      { x: 1, y: 4 },
      { x: 3, y: 2 },
      { x: 5, y: 8 },
      { x: 6, y: 6 },
    ]);
    expect(buildSeries(xs, ys, { smoothing: 0, recent: null, log: false, maxPoints: 3 })).toEqual([
      { x: 1, y: 4 },
      { x: 4, y: 0 },
      { x: 6, y: 6 },
    ]);
  });
});

describe('component keys', () => {
  it('lists a total’s components in the usual order', () => {
    const keys = ['GA', 'GB', 'DA', 'DB', 'GA_tv', 'GB_recon', 'GA_recon', 'GA_zeta', 'GA_adv', 'GA_mask', 'GA_edge'];
    expect(componentKeys(keys, 'GA')).toEqual(['GA_adv', 'GA_recon', 'GA_edge', 'GA_mask', 'GA_tv', 'GA_zeta']);
    expect(componentKeys(keys, 'GB')).toEqual(['GB_recon']);
    expect(componentKeys(keys, 'DA')).toEqual([]);
    expect(componentName('GA_recon', 'GA')).toBe('recon');
    expect(componentName('GA_', 'GA')).toBeNull();
    expect(componentName('GAB', 'GA')).toBeNull();
  });
});

describe('LossHistory', () => {
  it('appends, keeps columns aligned, and fills a key a record lacked with NaN', () => {
    const history = new LossHistory();
    history.add({ iteration: 1, losses: { GA: 1, DA: 0.5 } });
    history.add({ iteration: 2, losses: { GA: 0.8 } });
    history.add({ iteration: 3, losses: { GA: 0.7, DA: 0.4, GA_recon: 0.2 } });
    expect(history.iterations).toEqual([1, 2, 3]);
    expect(history.values('GA')).toEqual([1, 0.8, 0.7]);
    expect(history.values('DA')).toEqual([0.5, Number.NaN, 0.4]);
    expect(history.values('GA_recon')).toEqual([Number.NaN, Number.NaN, 0.2]);
    expect(history.values('nothing')).toEqual([]);
    expect(history.keys().sort()).toEqual(['DA', 'GA', 'GA_recon']);
    expect(history.latest('DA')).toBe(0.4);
    expect(history.lastIteration).toBe(3);
  });

  it('puts older iterations in place and replaces repeated ones', () => {
    const history = new LossHistory();
    history.addAll([
      { iteration: 5, losses: { GA: 5 } },
      { iteration: 7, losses: { GA: 7 } },
    ]);
    // A history fetched while events were arriving, and a resumed run rewriting iteration 7.
    history.addAll([
      { iteration: 1, losses: { GA: 1 } },
      { iteration: 6, losses: { GA: 6, DB: 0.6 } },
      { iteration: 7, losses: { GA: 7.5 } },
    ]);
    expect(history.iterations).toEqual([1, 5, 6, 7]);
    expect(history.values('GA')).toEqual([1, 5, 6, 7.5]);
    expect(history.values('DB')).toEqual([Number.NaN, Number.NaN, 0.6, Number.NaN]);
    expect(history.latest('DB')).toBe(0.6);
    history.reset(4);
    expect(history.runId).toBe(4);
    expect(history.length).toBe(0);
    expect(history.lastIteration).toBeNull();
  });

  it('compacts the older part of a long run and keeps the newest half dense', () => {
    const history = new LossHistory();
    for (let it = 1; it <= 12; it += 1) history.add({ iteration: it, losses: { GA: it * 10 } });
    expect(history.compact(12)).toBe(false);
    history.add({ iteration: 13, losses: { GA: 130 } });
    // limit 12: the newest 6 (8..13) stay; the older 7 (1..7) are thinned to 3 (indexes 0, 3, 6).
    expect(history.compact(12)).toBe(true);
    expect(history.iterations).toEqual([1, 4, 7, 8, 9, 10, 11, 12, 13]);
    expect(history.values('GA')).toEqual([10, 40, 70, 80, 90, 100, 110, 120, 130]);
  });
});
