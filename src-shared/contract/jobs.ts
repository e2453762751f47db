import { z } from 'zod';
import { OPTION_INFO } from './options.js';
import { ConverterPatch, TrainingPatch, type Side } from './settings.js';

export const JobType = z.enum(['extract', 'train', 'convert']);
export type JobType = z.infer<typeof JobType>;

export const JobState = z.enum(['queued', 'running', 'paused', 'cancelling', 'cancelled', 'completed', 'failed']);
export type JobState = z.infer<typeof JobState>;

export const ExtractJobSpec = z.object({
  type: z.literal('extract'),
  side: z.enum(['a', 'b', 'both']).default('both'),
});
/** What a warm start takes from the earlier model: its encoder, its generator, or everything (a checkpoint). */
export const WarmStartParts = z.enum(['encoder', 'generator', 'all']).register(OPTION_INFO, {
  label: 'Take',
  help: 'What the new run takes from the earlier model: its encoder, its generator (encoder and both decoders), or everything with the discriminators (a checkpoint only).',
  choiceLabels: {
    encoder: 'Encoder only',
    generator: 'Encoder and decoders',
    all: 'Everything, with the discriminators',
  },
});
export type WarmStartParts = z.infer<typeof WarmStartParts>;

export const TrainJobSpec = z.object({
  type: z.literal('train'),
  overrides: TrainingPatch.default({}),
  /**
   * Begin a new run from a model trained before (a project folder, a checkpoint .fpck or an exported model .fpm)
   * instead of random weights; only when the run starts from iteration 0.
   */
  from: z.strictObject({ path: z.string().min(1), parts: WarmStartParts.default('generator') }).optional(),
  /**
   * Which run to train: a run id continues that run (its model shape must stay the same), 'new' starts a new run
   * from iteration 0. Absent: the newest run with the same model shape that is unfinished or below the new target,
   * else a new one (what the CLI does).
   */
  run: z.union([z.literal('new'), z.number().int().positive()]).optional(),
});
export const ConvertJobSpec = z.object({
  type: z.literal('convert'),
  input: z.string().min(1),
  output: z.string().min(1),
  config: ConverterPatch.default({}),
  metricsOnly: z.boolean().default(false),
});
export const JobSpec = z.discriminatedUnion('type', [ExtractJobSpec, TrainJobSpec, ConvertJobSpec]);
export type JobSpec = z.infer<typeof JobSpec>;

export const ErrorInfo = z.object({
  code: z.string(),
  message: z.string(),
  /** Dotted path of the offending field for validation errors. */
  field: z.string().optional(),
  /** The file the error is about, when there is one. */
  file: z.string().optional(),
  /** What the user can do about it. */
  fix: z.string().optional(),
  /** A tool's own words (ffmpeg's or a driver's output): kept out of the message, shown behind a "details" disclosure. */
  details: z.string().optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const JobInfo = z.object({
  id: z.string(),
  projectDir: z.string(),
  spec: JobSpec,
  state: JobState,
  stage: z.string().nullable(),
  done: z.number().nonnegative(),
  total: z.number().nonnegative(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: ErrorInfo.nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
});
export type JobInfo = z.infer<typeof JobInfo>;

export const sideList = (side: 'a' | 'b' | 'both'): Side[] => (side === 'both' ? ['a', 'b'] : [side]);
