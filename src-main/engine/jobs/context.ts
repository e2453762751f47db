import type { EngineEvent, JobSpec } from '../../../src-shared/contract/index.js';
import type { ProjectStore } from '../project/store.js';

/** What a running job gets from the engine: its project, its spec, a stop signal and reporting hooks. */
export interface JobContext<S extends JobSpec = JobSpec> {
  jobId: string;
  store: ProjectStore;
  spec: S;
  /** Aborted on cancel or engine shutdown; jobs stop at the next safe point and keep finished work. */
  signal: AbortSignal;
  /** True when the stop is a shutdown: the job should checkpoint before it returns. */
  readonly shutdownRequested: boolean;
  /** Resolves immediately unless the job is paused; jobs await it between steps. */
  waitWhilePaused(): Promise<void>;
  progress(stage: string, done: number, total: number): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  emit(event: EngineEvent): void;
}

export type JobRunner<S extends JobSpec = JobSpec> = (ctx: JobContext<S>) => Promise<Record<string, unknown>>;
