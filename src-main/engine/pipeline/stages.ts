/**
 * CPU time per pipeline stage, summed over every thread that worked on it (main thread, model workers, ffmpeg), so
 * that the bench can show each stage's cost per frame and the next bottleneck.
 */
import { readFileSync } from 'node:fs';

export const STAGE_NAMES = [
  // Loading the models into the workers (building their graphs, creating sessions): once a job, not a frame.
  'load',
  'decode',
  'detect',
  'landmarks',
  'identity',
  'align/mask',
  'generate',
  'blend',
  'encode',
  'metrics',
  'other',
] as const;
export type Stage = (typeof STAGE_NAMES)[number];

/** CPU milliseconds of the calling thread so far (user + system). */
export function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU milliseconds of this process's finished (waited-for) child processes, from /proc; null off Linux. */
export function childrenCpuMs(): number | null {
  try {
    // Fields after the command name: state is field 3; cutime and cstime are fields 16 and 17, in clock ticks.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    return null;
  }
}

export class StageClock {
  private readonly ms = new Map<Stage, number>();
  /** The part of the total spent in child processes (ffmpeg). */
  childMs = 0;

  add(stage: Stage, ms: number): void {
    this.ms.set(stage, (this.ms.get(stage) ?? 0) + ms);
  }

  /** CPU time of a child process (ffmpeg) that did a stage's work. */
  addChild(stage: Stage, ms: number): void {
    this.add(stage, ms);
    this.childMs += ms;
  }

  /** Time a synchronous section of the calling thread. */
  time<T>(stage: Stage, work: () => T): T {
    const start = threadCpuMs();
    try {
      return work();
    } finally {
      this.add(stage, threadCpuMs() - start);
    }
  }

  /** Milliseconds per frame for each stage that did any work. */
  perFrame(frames: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const stage of STAGE_NAMES) {
      const ms = this.ms.get(stage);
      if (ms !== undefined && frames > 0) out[stage] = Math.round((ms / frames) * 100) / 100;
    }
    return out;
  }

  totalMs(): number {
    let sum = 0;
    for (const v of this.ms.values()) sum += v;
    return sum;
  }
}

/** CPU milliseconds of the whole process so far (every thread). */
export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * A pass's figures for reports and the bench: wall time, CPU time (process and its finished children), and each
 * stage's CPU ms per frame; what no stage claims (main-thread bookkeeping, the database, image encoding threads,
 * garbage collection) is 'other'.
 */
export function pipelineReport(
  clock: StageClock,
  frames: number,
  startedMs: number,
  cpuAtStartMs: number,
): Record<string, unknown> {
  const wallMs = performance.now() - startedMs;
  const processMs = processCpuMs() - cpuAtStartMs;
  clock.add('other', Math.max(0, processMs - (clock.totalMs() - clock.childMs)));
  return {
    frames,
    wallSeconds: Math.round(wallMs) / 1000,
    cpuSeconds: Math.round(processMs + clock.childMs) / 1000,
    msPerFrame: clock.perFrame(frames),
  };
}

/** Time the child processes (ffmpeg) that finish during `work` as `stage`. */
export async function childStage<T>(clock: StageClock, stage: Stage, work: () => Promise<T>): Promise<T> {
  const before = childrenCpuMs();
  try {
    return await work();
  } finally {
    const after = childrenCpuMs();
    if (before !== null && after !== null) clock.addChild(stage, after - before);
  }
}
