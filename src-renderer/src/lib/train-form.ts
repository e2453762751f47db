import type { AdversarialLoss, BackendChoice, TrainingSettings } from '../../../src-shared/contract/index.js';

/** The Train page's settings form. Numbers are null while a field is empty. */
export interface TrainForm {
  iterations: number | null;
  batchSize: number | null;
  resolution: 64 | 128 | 256;
  capacity: 'lite' | 'standard';
  backend: BackendChoice;
  useSelfAttention: boolean;
  previewEvery: number | null;
  checkpointEvery: number | null;
  /** Advanced: filters of the first encoder layer; null for the capacity's default. */
  modelWidth: number | null;
  adversarialLoss: AdversarialLoss;
  perceptualLoss: boolean;
  cycleLoss: boolean;
  motionBlur: boolean;
}

export type TrainOverrides = Partial<TrainingSettings>;
export type TrainFormErrors = Partial<Record<keyof TrainForm, string>>;

export const RESOLUTIONS = [64, 128, 256] as const;
export const CAPACITIES = ['lite', 'standard'] as const;
export const ADVERSARIAL_LOSSES: ReadonlyArray<{ value: AdversarialLoss; label: string }> = [
  { value: 'mixup-lsgan', label: 'mixup' },
  { value: 'ralsgan', label: 'relativistic' },
];
export const BACKEND_CHOICES: readonly BackendChoice[] = [
  'auto',
  'tfjs-node-gpu',
  'webgpu',
  'tfjs-node',
  'wasm',
  'cpu',
];

/** The engine's model width when none is set (model/config.ts): 32 lite, 64 standard. */
export function defaultModelWidth(capacity: TrainForm['capacity']): number {
  return capacity === 'lite' ? 32 : 64;
}

export function formFromSettings(settings: TrainingSettings): TrainForm {
  return {
    iterations: settings.iterations,
    batchSize: settings.batchSize,
    resolution: settings.resolution,
    capacity: settings.capacity,
    backend: settings.backend,
    useSelfAttention: settings.useSelfAttention,
    previewEvery: settings.previewEvery,
    checkpointEvery: settings.checkpointEvery,
    modelWidth:
      settings.modelWidth === undefined || settings.modelWidth === defaultModelWidth(settings.capacity)
        ? null
        : settings.modelWidth,
    adversarialLoss: settings.adversarialLoss,
    perceptualLoss: settings.perceptualLoss,
    cycleLoss: settings.cycleLoss,
    motionBlur: settings.motionBlur,
  };
}

/** The input value as a number; null when empty (a number input binds empty as null or undefined). */
function numberOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const LIMITS: Array<{ field: keyof TrainForm; label: string; min: number; max: number; optional?: boolean }> = [
  { field: 'iterations', label: 'Iterations', min: 1, max: 1_000_000 },
  { field: 'batchSize', label: 'Batch size', min: 1, max: 256 },
  { field: 'previewEvery', label: 'Preview every', min: 1, max: 1_000_000 },
  { field: 'checkpointEvery', label: 'Checkpoint every', min: 1, max: 1_000_000 },
  { field: 'modelWidth', label: 'Model width', min: 4, max: 128, optional: true },
];

/** What is wrong with each field, in words; empty when the form can start training. */
export function formErrors(form: TrainForm): TrainFormErrors {
  const errors: TrainFormErrors = {};
  for (const { field, label, min, max, optional } of LIMITS) {
    const raw: unknown = form[field];
    const value = numberOf(raw);
    if (value === null) {
      if (!optional) errors[field] = `${label}: enter a whole number`;
    } else if (!Number.isInteger(value) || value < min || value > max) {
      errors[field] = `${label}: a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`;
    }
  }
  return errors;
}

/**
 * The job's overrides (and the project settings saved with them). The model width is always explicit (the
 * capacity's default when empty), so a width saved earlier cannot linger unseen.
 */
export function overridesFromForm(form: TrainForm): TrainOverrides {
  const whole = (value: unknown, fallback: number): number => numberOf(value) ?? fallback;
  return {
    iterations: whole(form.iterations, 1),
    batchSize: whole(form.batchSize, 1),
    resolution: form.resolution,
    capacity: form.capacity,
    backend: form.backend,
    useSelfAttention: form.useSelfAttention,
    previewEvery: whole(form.previewEvery, 1),
    checkpointEvery: whole(form.checkpointEvery, 1),
    modelWidth: numberOf(form.modelWidth) ?? defaultModelWidth(form.capacity),
    adversarialLoss: form.adversarialLoss,
    perceptualLoss: form.perceptualLoss,
    cycleLoss: form.cycleLoss,
    motionBlur: form.motionBlur,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Runs: which settings a run keeps, and when a change needs a new one.

/** What a training run looks like to the form (the contract's TrainingRunSummary). */
export interface RunLike {
  id: number;
  iteration: number;
  targetIterations: number;
  state: string;
  settings?: TrainingSettings | null | undefined;
}

/**
 * The settings that fix the networks' shapes (the engine's archFromSettings): a run's checkpoints hold weights of
 * that shape, so changing one of these needs a new run from iteration 0.
 */
export const SHAPE_FIELDS: ReadonlyArray<{ key: keyof TrainingSettings; label: string }> = [
  { key: 'resolution', label: 'Resolution' },
  { key: 'capacity', label: 'Capacity' },
  { key: 'useSelfAttention', label: 'Self-attention' },
  { key: 'norm', label: 'Normalisation' },
  { key: 'modelWidth', label: 'Model width' },
  { key: 'discriminatorWidth', label: 'Discriminator width' },
];

/** The engine's widths when none is set: the capacity's model width, 64 for the discriminators. */
function shapeValue(settings: Partial<TrainingSettings>, key: keyof TrainingSettings): unknown {
  if (key === 'modelWidth') return settings.modelWidth ?? defaultModelWidth(settings.capacity ?? 'lite');
  if (key === 'discriminatorWidth') return settings.discriminatorWidth ?? 64;
  return settings[key];
}

/** The labels of the shape settings that `overrides` change from the run's own ("Resolution", "Self-attention"). */
export function shapeChanges(run: TrainingSettings, overrides: TrainOverrides): string[] {
  const next = { ...run, ...overrides };
  return SHAPE_FIELDS.filter(({ key }) => shapeValue(run, key) !== shapeValue(next, key)).map(({ label }) => label);
}

/**
 * The overrides that train a run with the form's values: the run's own settings (also those the form does not
 * show, such as its discriminator width) under the form's. Without recorded settings, the form's alone.
 */
export function runOverrides(run: RunLike | null, form: TrainForm): TrainOverrides {
  const own = run?.settings ?? null;
  return own ? { ...own, ...overridesFromForm(form) } : overridesFromForm(form);
}

/** Where a run stops: its target, or where it is when asked to stop short of it (the demo's "146 / 3"). */
export function runTarget(run: Pick<RunLike, 'iteration' | 'targetIterations'>): number {
  return Math.max(run.iteration, run.targetIterations);
}

/** A run's state in words; `live` says whether a job is training it now (a "running" run without one was cut off). */
export function runState(run: Pick<RunLike, 'state'>, live: boolean): string {
  if (live) return 'training';
  return run.state === 'running' ? 'interrupted' : run.state;
}

/** "Run 2 · 146 / 20,000 · stopped", for the run picker. */
export function runLabel(run: RunLike, live: boolean, format: (n: number) => string): string {
  return `Run ${run.id} · ${format(run.iteration)} / ${format(runTarget(run))} · ${runState(run, live)}`;
}
