import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  StudioError,
  toErrorInfo,
  type EngineEvent,
  type ErrorInfo,
  type JobInfo,
  type JobSpec,
  type JobState,
} from '../../../src-shared/contract/index.js';
import type { ProjectStore } from '../project/store.js';
import type { JobContext, JobRunner } from './context.js';
import { runExtract } from './extract.js';
import { runTrain } from './train.js';
import { runConvert } from './convert.js';
import { acquireProjectLock } from './lock.js';
import { RateMeter, etaSeconds } from './progress.js';

interface LiveJob {
  info: JobInfo;
  store: ProjectStore;
  abort: AbortController;
  shutdown: boolean;
  paused: boolean;
  resumeWaiters: Array<() => void>;
  finished: Promise<void>;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['cancelled', 'completed', 'failed']);

const runners: { [T in JobSpec['type']]: JobRunner<Extract<JobSpec, { type: T }>> } = {
  extract: runExtract,
  train: runTrain,
  convert: runConvert,
};

/** Jobs run one at a time per project, in order; each reports progress and can be cancelled or paused. */
export class JobManager {
  private readonly jobs = new Map<string, LiveJob>();
  private readonly tails = new Map<string, Promise<void>>();
  private running = 0;

  constructor(
    private readonly deps: {
      emit: (event: EngineEvent) => void;
      store: (dir: string) => ProjectStore;
      onBusyChange: (busy: boolean) => void;
    },
  ) {}

  start(store: ProjectStore, spec: JobSpec): JobInfo {
    const now = new Date().toISOString();
    const info: JobInfo = {
      id: randomUUID(),
      projectDir: store.dir,
      spec,
      state: 'queued',
      stage: null,
      done: 0,
      total: 0,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      error: null,
      result: null,
    };
    const job: LiveJob = {
      info,
      store,
      abort: new AbortController(),
      shutdown: false,
      paused: false,
      resumeWaiters: [],
      finished: Promise.resolve(),
    };
    this.jobs.set(info.id, job);
    this.persist(job);
    this.deps.emit({ type: 'job.state', job: { ...info }, previous: null });
    const previous = this.tails.get(store.dir) ?? Promise.resolve();
    job.finished = previous.then(() => this.run(job));
    this.tails.set(store.dir, job.finished);
    return { ...info };
  }

  private async run(job: LiveJob): Promise<void> {
    if (job.abort.signal.aborted) {
      this.transition(job, job.shutdown ? 'failed' : 'cancelled', { error: cancelledInfo(job) });
      return;
    }
    let release: (() => void) | null = null;
    this.running += 1;
    if (this.running === 1) this.deps.onBusyChange(true);
    try {
      release = acquireProjectLock(job.store.dir);
      job.info.startedAt = new Date().toISOString();
      this.transition(job, 'running');
      const meter = new RateMeter();
      let lastStage = '';
      let lastEmit = 0;
      const ctx: JobContext = {
        jobId: job.info.id,
        store: job.store,
        spec: job.info.spec,
        signal: job.abort.signal,
        get shutdownRequested() {
          return job.shutdown;
        },
        waitWhilePaused: async () => {
          if (!job.paused) return;
          await new Promise<void>((resolve) => job.resumeWaiters.push(resolve));
          // The time spent paused is not a slow rate: measure afresh.
          meter.reset();
        },
        progress: (stage, done, total) => {
          if (stage !== lastStage) {
            meter.reset();
            lastStage = stage;
          }
          const { rate, basis } = meter.update(done);
          job.info.stage = stage;
          job.info.done = done;
          job.info.total = total;
          const time = Date.now();
          // Throttle: the UI needs a few updates a second, not one per frame.
          if (time - lastEmit < 200 && done < total) return;
          lastEmit = time;
          this.deps.emit({
            type: 'job.progress',
            jobId: job.info.id,
            projectDir: job.store.dir,
            jobType: job.info.spec.type,
            stage,
            done,
            total,
            rate,
            etaSeconds: etaSeconds(done, total, rate),
            rateBasis: { items: basis.items, seconds: Math.round(basis.seconds * 10) / 10 },
          });
        },
        log: (level, message) =>
          this.deps.emit({ type: 'log', level, message, jobId: job.info.id, time: new Date().toISOString() }),
        emit: (event) => this.deps.emit(event),
      };
      const runner = runners[job.info.spec.type] as JobRunner;
      let result: Record<string, unknown>;
      try {
        result = await runner(ctx);
      } finally {
        // A fresh copy of the index after every job, before anyone hears it ended: what a damaged index is
        // restored from.
        await job.store.backupIndex().catch((error: unknown) =>
          this.deps.emit({
            type: 'log',
            level: 'warn',
            message: `could not back up the project index: ${(error as Error).message}`,
            jobId: job.info.id,
            time: new Date().toISOString(),
          }),
        );
      }
      if (job.abort.signal.aborted)
        this.transition(job, job.shutdown ? 'failed' : 'cancelled', { result, error: cancelledInfo(job) });
      else this.transition(job, 'completed', { result });
    } catch (error) {
      this.transition(job, job.abort.signal.aborted && !job.shutdown ? 'cancelled' : 'failed', {
        error: toErrorInfo(error),
      });
    } finally {
      release?.();
      this.running -= 1;
      if (this.running === 0) this.deps.onBusyChange(false);
    }
  }

  private transition(
    job: LiveJob,
    state: JobState,
    extra: { result?: Record<string, unknown>; error?: ErrorInfo } = {},
  ): void {
    const previous = job.info.state;
    job.info.state = state;
    if (extra.result !== undefined) job.info.result = extra.result;
    if (extra.error !== undefined) job.info.error = extra.error;
    if (TERMINAL.has(state)) job.info.finishedAt = new Date().toISOString();
    this.persist(job);
    this.deps.emit({ type: 'job.state', job: { ...job.info }, previous });
  }

  private persist(job: LiveJob): void {
    const i = job.info;
    try {
      job.store.db
        .prepare(
          `INSERT INTO jobs (id, type, spec, state, stage, done, total, created_at, started_at, finished_at, error, result)
           VALUES (@id, @type, @spec, @state, @stage, @done, @total, @createdAt, @startedAt, @finishedAt, @error, @result)
           ON CONFLICT (id) DO UPDATE SET state = excluded.state, stage = excluded.stage, done = excluded.done, total = excluded.total,
             started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error, result = excluded.result`,
        )
        .run({
          id: i.id,
          type: i.spec.type,
          spec: JSON.stringify(i.spec),
          state: i.state,
          stage: i.stage,
          done: i.done,
          total: i.total,
          createdAt: i.createdAt,
          startedAt: i.startedAt,
          finishedAt: i.finishedAt,
          error: i.error ? JSON.stringify(i.error) : null,
          result: i.result ? JSON.stringify(i.result) : null,
        });
    } catch {
      /* the job record is informative; a failed write must not fail the job */
    }
  }

  private live(jobId: string): LiveJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new StudioError(ErrorCode.notFound, `no job ${jobId} in this engine`, { field: 'params.jobId' });
    return job;
  }

  get(jobId: string): JobInfo {
    return { ...this.live(jobId).info };
  }

  list(dir?: string): JobInfo[] {
    return [...this.jobs.values()].filter((j) => !dir || j.store.dir === dir).map((j) => ({ ...j.info }));
  }

  cancel(jobId: string): JobInfo {
    const job = this.live(jobId);
    if (TERMINAL.has(job.info.state)) return { ...job.info };
    job.abort.abort();
    this.wake(job);
    if (job.info.state === 'running' || job.info.state === 'paused') this.transition(job, 'cancelling');
    return { ...job.info };
  }

  pause(jobId: string): JobInfo {
    const job = this.live(jobId);
    if (job.info.spec.type !== 'train') {
      throw new StudioError(
        ErrorCode.invalidParams,
        `only training jobs can be paused (this is ${job.info.spec.type})`,
        { field: 'params.jobId' },
      );
    }
    if (job.info.state === 'running') {
      job.paused = true;
      this.transition(job, 'paused');
    }
    return { ...job.info };
  }

  resume(jobId: string): JobInfo {
    const job = this.live(jobId);
    if (job.info.state === 'paused') {
      this.wake(job);
      this.transition(job, 'running');
    }
    return { ...job.info };
  }

  private wake(job: LiveJob): void {
    job.paused = false;
    for (const resolve of job.resumeWaiters.splice(0)) resolve();
  }

  projectHasLiveJob(dir: string): boolean {
    return [...this.jobs.values()].some((j) => j.store.dir === dir && !TERMINAL.has(j.info.state));
  }

  /** Ask every job to stop (checkpointing first when asked) and wait for them. */
  async stopAll(checkpoint: boolean): Promise<void> {
    const live = [...this.jobs.values()].filter((j) => !TERMINAL.has(j.info.state));
    for (const job of live) {
      job.shutdown = checkpoint;
      job.abort.abort();
      this.wake(job);
    }
    await Promise.allSettled(live.map((j) => j.finished));
  }
}

function cancelledInfo(job: LiveJob): ErrorInfo {
  return job.shutdown
    ? { code: ErrorCode.cancelled, message: 'stopped because the engine shut down; start the job again to resume' }
    : { code: ErrorCode.cancelled, message: 'cancelled; start the job again to resume where it stopped' };
}
