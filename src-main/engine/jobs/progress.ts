/** Rate and ETA over a sliding window, so a slow start or a pause does not skew them for long. */
export class RateMeter {
  private samples: Array<{ time: number; done: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  update(done: number, time = Date.now()): { rate: number } {
    this.samples.push({ time, done });
    while (this.samples.length > 2 && (this.samples[0]?.time ?? time) < time - this.windowMs) this.samples.shift();
    const first = this.samples[0];
    if (!first || time === first.time) return { rate: 0 };
    return { rate: Math.max(0, ((done - first.done) * 1000) / (time - first.time)) };
  }

  reset(): void {
    this.samples = [];
  }
}

export function etaSeconds(done: number, total: number, rate: number): number | null {
  if (rate <= 0 || total <= 0) return null;
  return Math.max(0, (total - done) / rate);
}
