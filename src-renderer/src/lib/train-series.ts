/**
 * Data shaping for the Train page's loss charts, kept pure (no DOM, no Svelte, no chart.js) so it can be tested
 * with exact numbers: the loss history as columns, exponential smoothing, the recent window, even downsampling and
 * the series a chart draws.
 */

export interface XY {
  x: number;
  y: number;
}

/** One recorded iteration: the values the engine sent (train.losses) or stored (train.history). */
export interface LossRecord {
  iteration: number;
  losses: Readonly<Record<string, number>>;
}

/** The four totals the engine reports: generators and discriminators of sides A and B. */
export const MAIN_LOSSES = ['GA', 'GB', 'DA', 'DB'] as const;
export type MainLoss = (typeof MAIN_LOSSES)[number];

/** The order components are listed in; others follow alphabetically. */
const COMPONENT_ORDER = ['adv', 'recon', 'edge', 'mask', 'tv'];

/** "GA_recon" -> "recon"; null for a key that is not a component of `main`. */
export function componentName(key: string, main: string): string | null {
  return key.startsWith(`${main}_`) && key.length > main.length + 1 ? key.slice(main.length + 1) : null;
}

/** The component keys of `main` among `keys` (e.g. GA_adv, GA_recon, GA_edge, GA_mask, GA_tv), in a stable order. */
export function componentKeys(keys: Iterable<string>, main: string): string[] {
  const found: string[] = [];
  for (const key of keys) if (componentName(key, main) !== null) found.push(key);
  const rank = (key: string): number => {
    const index = COMPONENT_ORDER.indexOf(componentName(key, main) ?? '');
    return index < 0 ? COMPONENT_ORDER.length : index;
  };
  return found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Exponential moving average: out[0] = v[0], out[i] = s * out[i-1] + (1 - s) * v[i]. `smoothing` s is clamped to
 * [0, 0.999]; 0 returns the values unchanged.
 */
export function ema(values: readonly number[], smoothing: number): number[] {
  const s = Math.min(0.999, Math.max(0, Number.isFinite(smoothing) ? smoothing : 0));
  const out = new Array<number>(values.length);
  let last = 0;
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i] as number;
    last = i === 0 ? value : s * last + (1 - s) * value;
    out[i] = last;
  }
  return out;
}

/**
 * Indexes of at most `max` items picked evenly from `length`: round(i * (length - 1) / (max - 1)), so the first and
 * the last are always kept (the engine thins train.history the same way).
 */
export function evenIndexes(length: number, max: number): number[] {
  const limit = Math.max(1, Math.floor(max));
  if (length <= limit) return Array.from({ length }, (_, i) => i);
  if (limit === 1) return [length - 1];
  return Array.from({ length: limit }, (_, i) => Math.round((i * (length - 1)) / (limit - 1)));
}

export function downsample<T>(items: readonly T[], max: number): T[] {
  return evenIndexes(items.length, max).map((i) => items[i] as T);
}

/**
 * The first index of the recent window: the points whose x is within the last `span` iterations of the newest one
 * (x > lastX - span). `xs` is ascending. 0 when span is null (everything) or the list is empty.
 */
export function recentStart(xs: readonly number[], span: number | null): number {
  if (span === null || xs.length === 0) return 0;
  const cutoff = (xs[xs.length - 1] as number) - Math.max(1, span);
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) > cutoff) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface SeriesOptions {
  /** EMA smoothing in [0, 1): 0 draws the raw values. */
  smoothing: number;
  /** Show only the last this many iterations; null for the whole run. */
  recent: number | null;
  /** Log scale: points at or below zero cannot be drawn and are left out. */
  log: boolean;
  /** The most points to hand the chart. */
  maxPoints: number;
}

/**
 * The points a chart draws for one loss: the finite values (missing ones are NaN), smoothed over the whole run (so
 * the recent window does not restart the average), cut to the recent window, without non-positive values on a log
 * scale, then thinned evenly to maxPoints.
 */
export function buildSeries(xs: readonly number[], ys: readonly number[], options: SeriesOptions): XY[] {
  const fx: number[] = [];
  const fy: number[] = [];
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i += 1) {
    const y = ys[i] as number;
    if (Number.isFinite(y)) {
      fx.push(xs[i] as number);
      fy.push(y);
    }
  }
  const smooth = ema(fy, options.smoothing);
  const points: XY[] = [];
  for (let i = recentStart(fx, options.recent); i < fx.length; i += 1) {
    const y = smooth[i] as number;
    if (options.log && !(y > 0)) continue;
    points.push({ x: fx[i] as number, y });
  }
  return downsample(points, options.maxPoints);
}

/**
 * One training run's loss history as columns: ascending unique iterations and, per loss key, a value per iteration
 * (NaN where a record lacked the key). Appending the next iteration is O(1); an older or repeated iteration (a
 * history merged under live events, a resumed run writing over its last iterations) is put in place.
 */
export class LossHistory {
  runId: number | null = null;
  private xs: number[] = [];
  private readonly columns = new Map<string, number[]>();

  get length(): number {
    return this.xs.length;
  }

  get iterations(): readonly number[] {
    return this.xs;
  }

  get lastIteration(): number | null {
    return this.xs.length > 0 ? (this.xs[this.xs.length - 1] as number) : null;
  }

  keys(): string[] {
    return [...this.columns.keys()];
  }

  /** The values of one key, aligned with `iterations`; empty for a key never seen. */
  values(key: string): readonly number[] {
    return this.columns.get(key) ?? [];
  }

  /** The newest finite value of a key. */
  latest(key: string): number | null {
    const column = this.columns.get(key);
    if (!column) return null;
    for (let i = column.length - 1; i >= 0; i -= 1) if (Number.isFinite(column[i])) return column[i] as number;
    return null;
  }

  /** Empties the history, for `runId` (a new run, or a different project). */
  reset(runId: number | null = null): void {
    this.runId = runId;
    this.xs = [];
    this.columns.clear();
  }

  add(record: LossRecord): void {
    const { iteration, losses } = record;
    let index = this.xs.length;
    let replace = false;
    const last = this.lastIteration;
    if (last !== null && iteration <= last) {
      index = this.searchIndex(iteration);
      replace = this.xs[index] === iteration;
    }
    if (!replace) this.xs.splice(index, 0, iteration);
    for (const key of Object.keys(losses)) {
      if (!this.columns.has(key))
        this.columns.set(key, new Array<number>(this.xs.length - (replace ? 0 : 1)).fill(NaN));
    }
    for (const [key, column] of this.columns) {
      const value = losses[key];
      const y = typeof value === 'number' && Number.isFinite(value) ? value : NaN;
      if (replace) column[index] = y;
      else if (index === column.length) column.push(y);
      else column.splice(index, 0, y);
    }
  }

  addAll(records: Iterable<LossRecord>): void {
    for (const record of records) this.add(record);
  }

  /**
   * Bounds memory on very long runs: past `limit` points, the older ones (all but the newest limit / 2) are thinned
   * evenly to limit / 4, so the recent window stays dense. Returns whether anything was dropped.
   */
  compact(limit: number): boolean {
    if (this.xs.length <= limit) return false;
    const keepNewest = Math.floor(limit / 2);
    const older = this.xs.length - keepNewest;
    const picks = evenIndexes(older, Math.floor(limit / 4));
    const take = (column: readonly number[]): number[] => [
      ...picks.map((i) => column[i] as number),
      ...column.slice(older),
    ];
    this.xs = take(this.xs);
    for (const [key, column] of this.columns) this.columns.set(key, take(column));
    return true;
  }

  /** The first index whose iteration is >= `iteration`. */
  private searchIndex(iteration: number): number {
    let lo = 0;
    let hi = this.xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.xs[mid] as number) < iteration) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
