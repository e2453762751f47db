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
