/**
 * Rate and ETA over a sliding window: the last `windowMs` of updates, and never fewer than the last `minItems`
 * items. A window of seconds alone suits fast jobs (frames) but holds one or two slow training steps at most, which
 * made the ETA jump (41 min, then 73); the item floor averages those over many steps.
 */
export class RateMeter {
  private samples: Array<{ time: number; done: number }> = [];

  constructor(
    private readonly windowMs = 30_000,
    private readonly minItems = 20,
  ) {}

  update(done: number, time = Date.now()): { rate: number; basis: { items: number; seconds: number } } {
    this.samples.push({ time, done });
    // Drop the oldest sample while the window without it still spans windowMs and minItems.
    while (this.samples.length > 2) {
      const second = this.samples[1] as { time: number; done: number };
      if (second.time > time - this.windowMs || done - second.done < this.minItems) break;
      this.samples.shift();
    }
    const first = this.samples[0];
    if (!first || time === first.time) return { rate: 0, basis: { items: 0, seconds: 0 } };
    const items = Math.max(0, done - first.done);
    const seconds = (time - first.time) / 1000;
    return { rate: items / seconds, basis: { items, seconds } };
  }

  reset(): void {
    this.samples = [];
  }
}

export function etaSeconds(done: number, total: number, rate: number): number | null {
  if (rate <= 0 || total <= 0) return null;
  return Math.max(0, (total - done) / rate);
}
