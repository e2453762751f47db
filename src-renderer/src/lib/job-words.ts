import type { JobInfo, JobState, JobType } from '../../../src-shared/contract/index.js';
import type { PendingAction } from './app.svelte.js';

/**
 * The words for jobs and their states, the same in the status bar and on the pages: a cancelled job is "stopped"
 * everywhere (its work so far is kept, and starting it again resumes).
 */
export const JOB_NOUNS: Readonly<Record<JobType, string>> = {
  extract: 'Extraction',
  train: 'Training',
  convert: 'Conversion',
};

const STATE_WORDS: Readonly<Record<JobState, string>> = {
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  cancelling: 'Stopping…',
  cancelled: 'Stopped',
  completed: 'Completed',
  failed: 'Failed',
};

const PENDING_WORDS: Readonly<Record<PendingAction, string>> = {
  pausing: 'Pausing…',
  resuming: 'Resuming…',
  stopping: 'Stopping…',
};

/** "Stopped", "Pausing…" (an action the engine has not confirmed yet wins over the state it last reported). */
export function stateWord(state: JobState, pending: PendingAction | null = null): string {
  return pending ? PENDING_WORDS[pending] : STATE_WORDS[state];
}

/** "Training stopped", "Extraction completed". */
export function jobOutcome(job: Pick<JobInfo, 'spec' | 'state'>): string {
  return `${JOB_NOUNS[job.spec.type]} ${STATE_WORDS[job.state].toLowerCase()}`;
}
