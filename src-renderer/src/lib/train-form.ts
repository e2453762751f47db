import {
  TrainingSettings,
  WarmStartParts,
  describeOption,
  type AdversarialLoss,
  type BackendChoice,
} from '../../../src-shared/contract/index.js';
import { isAbsolutePath } from './converter-form.js';
import { inputProblem, numberOf, optionOf, optionsByKey, type OptionField } from './option-form.js';

/**
 * The Train page's settings form: every field of the contract's TrainingSettings. Numbers are null while a field is
 * empty; the loss weights are their JSON text ('' for the defaults).
 */
export interface TrainForm {
  resolution: TrainingSettings['resolution'];
  capacity: TrainingSettings['capacity'];
  iterations: number | null;
  batchSize: number | null;
  backend: BackendChoice;
  useSelfAttention: boolean;
  norm: TrainingSettings['norm'];
  learningRateFactor: number | null;
  checkpointEvery: number | null;
  previewEvery: number | null;
  keepCheckpoints: number | null;
  seed: number | null;
  /** Null for the capacity's default. */
  modelWidth: number | null;
  /** Null for the original's 64. */
  discriminatorWidth: number | null;
  /** Null for 'auto'. */
  threads: number | null;
  adversarialLoss: AdversarialLoss;
  perceptualLoss: boolean;
  cycleLoss: boolean;
  motionBlur: boolean;
  lossWeights: string;
  partsMethod: TrainingSettings['partsMethod'];
  augmentedPart: TrainingSettings['augmentedPart'];
}

export type TrainOverrides = Partial<TrainingSettings>;
export type TrainFormErrors = Partial<Record<keyof TrainForm, string>>;
export type TrainKey = keyof TrainForm;

/** The training options as declared once beside TrainingSettings: labels, help, ranges, choices, advanced. */
export const TRAIN_OPTIONS = optionsByKey(TrainingSettings);

export const TRAIN_DEFAULTS: TrainingSettings = TrainingSettings.parse({});

export function trainOption(key: TrainKey): OptionField {
  return optionOf(TRAIN_OPTIONS, key);
}

/**
 * The page's order of the everyday fields (UI); every other option that is not advanced follows them, so a new
 * option shows up without a change here. Advanced options (OptionInfo.advanced) go to the collapsed Advanced part,
 * in their declaration order.
 */
const MAIN_ORDER: readonly TrainKey[] = [
  'iterations',
  'batchSize',
  'resolution',
  'capacity',
  'useSelfAttention',
  'backend',
  'previewEvery',
  'checkpointEvery',
  'adversarialLoss',
  'perceptualLoss',
  'cycleLoss',
  'motionBlur',
  'partsMethod',
  'augmentedPart',
];

export const TRAIN_SECTIONS: { main: OptionField[]; advanced: OptionField[] } = (() => {
  const all = [...TRAIN_OPTIONS.values()];
  const everyday = all.filter((field) => !field.advanced);
  const main = [
    ...MAIN_ORDER.map((key) => trainOption(key)).filter((field) => !field.advanced),
    ...everyday.filter((field) => !MAIN_ORDER.includes(field.key as TrainKey)),
  ];
  return { main, advanced: all.filter((field) => field.advanced) };
})();

/** The engine's model width when none is set (model/config.ts): 32 lite, 64 standard. */
export function defaultModelWidth(capacity: TrainForm['capacity']): number {
  return capacity === 'lite' ? 32 : 64;
}

/** The engine's discriminator width when none is set: the original's 64. */
export const DEFAULT_DISCRIMINATOR_WIDTH = 64;

/** What an empty number field means, as its placeholder ("32" for the model width of lite, "auto" threads). */
export function emptyMeans(field: OptionField, form: Pick<TrainForm, 'capacity'>): string {
  if (field.key === 'modelWidth') return String(defaultModelWidth(form.capacity));
  if (field.key === 'discriminatorWidth') return String(DEFAULT_DISCRIMINATOR_WIDTH);
  const literal = field.choices?.[0];
  return literal ? literal.label : '';
}

function weightsText(weights: TrainingSettings['lossWeights']): string {
  return Object.keys(weights).length === 0 ? '' : JSON.stringify(weights);
}

export function formFromSettings(settings: TrainingSettings): TrainForm {
  return {
    resolution: settings.resolution,
    capacity: settings.capacity,
    iterations: settings.iterations,
    batchSize: settings.batchSize,
    backend: settings.backend,
    useSelfAttention: settings.useSelfAttention,
    norm: settings.norm,
    learningRateFactor: settings.learningRateFactor,
    checkpointEvery: settings.checkpointEvery,
    previewEvery: settings.previewEvery,
    keepCheckpoints: settings.keepCheckpoints,
    seed: settings.seed,
    modelWidth:
      settings.modelWidth === undefined || settings.modelWidth === defaultModelWidth(settings.capacity)
        ? null
        : settings.modelWidth,
    discriminatorWidth:
      settings.discriminatorWidth === undefined || settings.discriminatorWidth === DEFAULT_DISCRIMINATOR_WIDTH
        ? null
        : settings.discriminatorWidth,
    threads: settings.threads === 'auto' ? null : settings.threads,
    adversarialLoss: settings.adversarialLoss,
    perceptualLoss: settings.perceptualLoss,
    cycleLoss: settings.cycleLoss,
    motionBlur: settings.motionBlur,
    lossWeights: weightsText(settings.lossWeights),
    partsMethod: settings.partsMethod,
    augmentedPart: settings.augmentedPart,
  };
}

/** The loss weights typed as JSON, checked by their own schema: the weights, or what is wrong in words. */
export function parseWeights(text: string): { weights: TrainingSettings['lossWeights'] } | { problem: string } {
  const label = trainOption('lossWeights').label;
  if (text.trim() === '') return { weights: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: `${label} must be JSON, e.g. {"wEyes": 30}` };
  }
  const parsed = TrainingSettings.shape.lossWeights.safeParse(value);
  if (parsed.success) return { weights: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { problem: `${label}: ${where}${issue?.message ?? 'not valid'}` };
}

/** Number fields whose empty input means a default (optional fields, and 'auto' beside a number). */
function emptyIsFine(field: OptionField): boolean {
  return field.optional || (field.choices?.length ?? 0) > 0;
}

/** What is wrong with each field, in the options' own words (numberProblem); empty when training can start. */
export function formErrors(form: TrainForm): TrainFormErrors {
  const errors: TrainFormErrors = {};
  for (const field of TRAIN_OPTIONS.values()) {
    const key = field.key as TrainKey;
    if (field.kind === 'integer' || field.kind === 'number') {
      const problem = inputProblem(field, form[key], emptyIsFine(field));
      if (problem) errors[key] = problem;
    } else if (field.kind === 'json') {
      const weights = parseWeights(form.lossWeights);
      if ('problem' in weights) errors[key] = weights.problem;
    }
  }
  return errors;
}

/**
 * The job's overrides (and the project settings saved with them): every setting. The model and discriminator
 * widths are always explicit (their defaults when empty), so a width saved earlier cannot linger unseen.
 */
export function overridesFromForm(form: TrainForm): TrainOverrides {
  const number = (value: unknown, fallback: number): number => numberOf(value) ?? fallback;
  const weights = parseWeights(form.lossWeights);
  return {
    resolution: form.resolution,
    capacity: form.capacity,
    iterations: number(form.iterations, TRAIN_DEFAULTS.iterations),
    batchSize: number(form.batchSize, TRAIN_DEFAULTS.batchSize),
    backend: form.backend,
    useSelfAttention: form.useSelfAttention,
    norm: form.norm,
    learningRateFactor: number(form.learningRateFactor, TRAIN_DEFAULTS.learningRateFactor),
    checkpointEvery: number(form.checkpointEvery, TRAIN_DEFAULTS.checkpointEvery),
    previewEvery: number(form.previewEvery, TRAIN_DEFAULTS.previewEvery),
    keepCheckpoints: number(form.keepCheckpoints, TRAIN_DEFAULTS.keepCheckpoints),
    seed: number(form.seed, TRAIN_DEFAULTS.seed),
    modelWidth: numberOf(form.modelWidth) ?? defaultModelWidth(form.capacity),
    discriminatorWidth: numberOf(form.discriminatorWidth) ?? DEFAULT_DISCRIMINATOR_WIDTH,
    threads: numberOf(form.threads) ?? 'auto',
    adversarialLoss: form.adversarialLoss,
    perceptualLoss: form.perceptualLoss,
    cycleLoss: form.cycleLoss,
    motionBlur: form.motionBlur,
    lossWeights: 'weights' in weights ? weights.weights : {},
    partsMethod: form.partsMethod,
    augmentedPart: form.augmentedPart,
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
export const SHAPE_FIELDS: ReadonlyArray<{ key: keyof TrainingSettings; label: string }> = [...TRAIN_OPTIONS.values()]
  .filter((field) => field.modelShape)
  .map((field) => ({ key: field.key as keyof TrainingSettings, label: field.label }));

/** The engine's widths when none is set: the capacity's model width, 64 for the discriminators. */
function shapeValue(settings: Partial<TrainingSettings>, key: keyof TrainingSettings): unknown {
  if (key === 'modelWidth') return settings.modelWidth ?? defaultModelWidth(settings.capacity ?? 'lite');
  if (key === 'discriminatorWidth') return settings.discriminatorWidth ?? DEFAULT_DISCRIMINATOR_WIDTH;
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

// ---------------------------------------------------------------------------------------------------------------
// Warm start: a new run from a model trained before (an earlier run of this project, or a file or project folder).

/** What "Take" offers, as the contract declares it (encoder, generator, everything). */
export const WARM_PARTS: OptionField = describeOption('parts', WarmStartParts);

export interface WarmStartForm {
  source: 'none' | 'run' | 'path';
  /** The earlier run of this project (source 'run'). */
  runId: number | null;
  /** A project folder, a checkpoint (.fpck) or an exported model (.fpm) (source 'path'). */
  path: string;
  parts: WarmStartParts;
}

export const NO_WARM_START: WarmStartForm = { source: 'none', runId: null, path: '', parts: 'generator' };

/** A run as the warm-start picker sees it: one with a checkpoint can be started from. */
export type WarmRun = Pick<RunLike, 'id' | 'iteration'> & { checkpoint?: string | null | undefined };

/** The project's runs that have a checkpoint to start from, newest first. */
export function warmRuns<R extends WarmRun>(runs: readonly R[]): R[] {
  return runs.filter((run) => !!run.checkpoint).sort((a, b) => b.id - a.id);
}

function joinPath(dir: string, rel: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return `${dir.replace(/[\\/]+$/, '')}${sep}${rel.split('/').join(sep)}`;
}

/**
 * The job's `from` for the form: null without a warm start; `problem` says in words what is missing. An earlier
 * run is taken at its newest checkpoint.
 */
export function warmStartOf(
  form: WarmStartForm,
  dir: string,
  runs: readonly WarmRun[],
): { from: { path: string; parts: WarmStartParts } | null; problem: string | null } {
  if (form.source === 'none') return { from: null, problem: null };
  if (form.source === 'run') {
    const run = runs.find((item) => item.id === form.runId);
    if (!run) return { from: null, problem: 'Pick the run to start from.' };
    if (!run.checkpoint) return { from: null, problem: `Run ${run.id} has no checkpoint yet.` };
    return { from: { path: joinPath(dir, run.checkpoint), parts: form.parts }, problem: null };
  }
  const path = form.path.trim();
  if (!path) return { from: null, problem: 'Enter the model file or project folder to start from.' };
  if (!isAbsolutePath(path))
    return { from: null, problem: 'Enter the full path of the model or project (starting at the root of the disk).' };
  return { from: { path, parts: form.parts }, problem: null };
}
