import { z } from 'zod';
import { BackendName } from './settings.js';
import { ErrorInfo, JobInfo, JobState, JobType } from './jobs.js';

export const BackendAttempt = z.object({
  name: BackendName,
  ok: z.boolean(),
  /** Why, in plain words ("not installed", "no Vulkan driver on this machine"). */
  reason: z.string(),
  /** The library's or driver's own message, when there was one (for a "details" disclosure). */
  detail: z.string().optional(),
});
export const BackendReport = z.object({
  selected: BackendName.nullable(),
  forcedBy: z.enum(['env', 'setting']).nullable(),
  attempts: z.array(BackendAttempt),
});
export type BackendReport = z.infer<typeof BackendReport>;

export const EngineStatus = z.enum(['starting', 'ready', 'busy', 'stopping']);

export const JobProgressEvent = z.object({
  type: z.literal('job.progress'),
  jobId: z.string(),
  projectDir: z.string(),
  jobType: JobType,
  stage: z.string(),
  done: z.number().nonnegative(),
  total: z.number().nonnegative(),
  /** Items per second over the recent window. */
  rate: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** What the rate (and so the ETA) is averaged over: this many items done in this many seconds. */
  rateBasis: z.object({ items: z.number().nonnegative(), seconds: z.number().nonnegative() }).optional(),
});
export const JobStateEvent = z.object({
  type: z.literal('job.state'),
  job: JobInfo,
  previous: JobState.nullable(),
});
export const LogEvent = z.object({
  type: z.literal('log'),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
  jobId: z.string().nullable(),
  time: z.string(),
});
export const TrainLossesEvent = z.object({
  type: z.literal('train.losses'),
  jobId: z.string(),
  projectDir: z.string(),
  runId: z.number().int(),
  iteration: z.number().int().nonnegative(),
  losses: z.record(z.string(), z.number()),
  iterationsPerSecond: z.number().nonnegative(),
});
export const TrainPreviewEvent = z.object({
  type: z.literal('train.preview'),
  jobId: z.string(),
  projectDir: z.string(),
  runId: z.number().int(),
  iteration: z.number().int().nonnegative(),
  /** Project-relative PNG path. */
  path: z.string(),
});
export const EngineStateEvent = z.object({
  type: z.literal('engine.state'),
  status: EngineStatus,
  backend: BackendReport.nullable(),
});
export const ProjectChangedEvent = z.object({
  type: z.literal('project.changed'),
  projectDir: z.string(),
  what: z.enum(['settings', 'frames', 'faces', 'masks', 'training', 'exports', 'renamed', 'deleted']),
});
export const ProtocolErrorEvent = z.object({
  type: z.literal('protocol.error'),
  error: ErrorInfo,
});

export const EngineEvent = z.discriminatedUnion('type', [
  JobProgressEvent,
  JobStateEvent,
  LogEvent,
  TrainLossesEvent,
  TrainPreviewEvent,
  EngineStateEvent,
  ProjectChangedEvent,
  ProtocolErrorEvent,
]);
export type EngineEvent = z.infer<typeof EngineEvent>;
export type EngineEventOf<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;
