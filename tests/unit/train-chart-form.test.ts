import { describe, expect, it } from 'vitest';
import { TrainingPatch, TrainingSettings, describeOptions, numberProblem } from '../../src-shared/contract/index.js';
import {
  SHAPE_FIELDS,
  TRAIN_SECTIONS,
  emptyMeans,
  formErrors,
  formFromSettings,
  overridesFromForm,
  runLabel,
  runOverrides,
  runTarget,
  shapeChanges,
  trainOption,
} from '../../src-renderer/src/lib/train-form.js';
import { compactNumber, rangeHint } from '../../src-renderer/src/lib/option-form.js';

const defaults = TrainingSettings.parse({});

describe('Train page settings form', () => {
  it('is prefilled from the project settings, an unset or default width shown empty', () => {
    expect(formFromSettings(defaults)).toEqual({
      iterations: 20_000,
      batchSize: 8,
      resolution: 64,
      capacity: 'lite',
      backend: 'auto',
      useSelfAttention: true,
      norm: 'instancenorm',
      learningRateFactor: 1,
      previewEvery: 300,
      checkpointEvery: 500,
      keepCheckpoints: 3,
      seed: 1,
      modelWidth: null,
      discriminatorWidth: null,
      threads: null,
      adversarialLoss: 'mixup-lsgan',
      perceptualLoss: true,
      cycleLoss: false,
      motionBlur: false,
      lossWeights: '',
      partsMethod: 'masks',
      augmentedPart: 'eyes',
    });
    expect(formFromSettings({ ...defaults, threads: 4, lossWeights: { wEyes: 30 } })).toMatchObject({
      threads: 4,
      lossWeights: '{"wEyes":30}',
    });
    expect(formFromSettings({ ...defaults, modelWidth: 32 }).modelWidth).toBeNull();
    expect(formFromSettings({ ...defaults, modelWidth: 8 }).modelWidth).toBe(8);
    // 32 is not standard's default (64), so it is shown.
    expect(formFromSettings({ ...defaults, capacity: 'standard', modelWidth: 32 }).modelWidth).toBe(32);
  });

  it('turns the form into job overrides the contract accepts, with an explicit width', () => {
    const form = {
      ...formFromSettings(defaults),
      iterations: 4,
      batchSize: 2,
      useSelfAttention: false,
      previewEvery: 2,
      adversarialLoss: 'ralsgan' as const,
      cycleLoss: true,
    };
    const overrides = overridesFromForm(form);
    expect(overrides).toEqual({
      iterations: 4,
      batchSize: 2,
      resolution: 64,
      capacity: 'lite',
      backend: 'auto',
      useSelfAttention: false,
      norm: 'instancenorm',
      learningRateFactor: 1,
      previewEvery: 2,
      checkpointEvery: 500,
      keepCheckpoints: 3,
      seed: 1,
      modelWidth: 32,
      discriminatorWidth: 64,
      threads: 'auto',
      adversarialLoss: 'ralsgan',
      perceptualLoss: true,
      cycleLoss: true,
      motionBlur: false,
      lossWeights: {},
      partsMethod: 'masks',
      augmentedPart: 'eyes',
    });
    expect(TrainingSettings.strict().parse(overrides)).toMatchObject(overrides);
    expect(overridesFromForm({ ...form, capacity: 'standard' }).modelWidth).toBe(64);
    expect(overridesFromForm({ ...form, modelWidth: 8 }).modelWidth).toBe(8);
  });

  it('names every field out of range, and accepts an empty width', () => {
    const form = formFromSettings(defaults);
    expect(formErrors(form)).toEqual({});
    expect(
      formErrors({
        ...form,
        iterations: 0,
        batchSize: 2.5,
        previewEvery: null,
        checkpointEvery: 1_000_001,
        modelWidth: 3,
      }),
    ).toEqual({
      iterations: 'Iterations must be 1 to 1000000',
      batchSize: 'Batch size must be a whole number',
      previewEvery: 'Preview every is needed',
      checkpointEvery: 'Checkpoint every must be 1 to 1000000',
      modelWidth: 'Model width must be 4 to 128',
    });
    // An emptied number input may bind undefined rather than null.
    expect(formErrors({ ...form, batchSize: undefined as unknown as null })).toEqual({
      batchSize: 'Batch size is needed',
    });
  });
});

describe('Train page settings form: derived from the options registry', () => {
  const declared = describeOptions(TrainingSettings);

  it('shows every training setting once, the advanced ones (and only those) in the Advanced part', () => {
    const shown = [...TRAIN_SECTIONS.main, ...TRAIN_SECTIONS.advanced].map((field) => field.key);
    expect([...shown].sort()).toEqual(Object.keys(TrainingSettings.shape).sort());
    expect(new Set(shown).size).toBe(shown.length);
    expect(Object.keys(formFromSettings(defaults)).sort()).toEqual([...shown].sort());
    expect(TRAIN_SECTIONS.advanced.map((field) => field.key)).toEqual(
      declared.filter((field) => field.advanced).map((field) => field.key),
    );
    expect(TRAIN_SECTIONS.advanced.map((field) => field.key)).toEqual(
      expect.arrayContaining(['discriminatorWidth', 'threads', 'lossWeights', 'norm', 'seed']),
    );
    expect(TRAIN_SECTIONS.main.map((field) => field.key)).toEqual(
      expect.arrayContaining(['partsMethod', 'augmentedPart', 'iterations', 'batchSize']),
    );
    expect(TRAIN_SECTIONS.main.some((field) => field.advanced)).toBe(false);
  });

  it("takes labels, bounds and choice labels from the schema's declaration", () => {
    for (const field of declared) expect(trainOption(field.key as never)).toEqual(field);
    expect(trainOption('batchSize')).toMatchObject({ label: 'Batch size', min: 1, max: 256, kind: 'integer' });
    expect(trainOption('discriminatorWidth')).toMatchObject({ min: 4, max: 128, optional: true, modelShape: true });
    expect(trainOption('threads').choices).toEqual([{ value: 'auto', label: 'one per core' }]);
    expect(trainOption('partsMethod').choices?.map((choice) => choice.label)).toEqual([
      'Masks at conversion',
      "B's part in A's faces",
    ]);
    // The range beside the label, short: the schema's bounds.
    expect(rangeHint(trainOption('iterations'))).toBe('1 – 1M');
    expect(rangeHint(trainOption('batchSize'))).toBe('1 – 256');
    expect(compactNumber(1000)).toBe('1000');
    expect(compactNumber(20_000)).toBe('20k');
    expect(compactNumber(2 ** 31 - 1)).toBe('2147483647');
    expect(rangeHint(trainOption('learningRateFactor'))).toBe('> 0');
    expect(rangeHint(trainOption('resolution'))).toBe('px');
    // Empty inputs say what they mean.
    expect(emptyMeans(trainOption('threads'), { capacity: 'lite' })).toBe('one per core');
    expect(emptyMeans(trainOption('modelWidth'), { capacity: 'standard' })).toBe('64');
    // The shape settings are the ones the registry marks.
    expect(SHAPE_FIELDS.map((field) => field.label)).toEqual(
      declared.filter((field) => field.modelShape).map((field) => field.label),
    );
  });

  it("words a typed value out of range as numberProblem does, and checks the loss weights' JSON", () => {
    const form = formFromSettings(defaults);
    expect(formErrors({ ...form, threads: 65 }).threads).toBe(numberProblem(trainOption('threads'), 65));
    expect(formErrors({ ...form, threads: 65 }).threads).toBe('CPU threads must be 1 to 64');
    expect(formErrors({ ...form, learningRateFactor: 0 }).learningRateFactor).toBe(
      'Learning-rate factor must be more than 0',
    );
    expect(formErrors({ ...form, discriminatorWidth: 200 }).discriminatorWidth).toBe(
      'Discriminator width must be 4 to 128',
    );
    // Empty: threads auto, widths their defaults, a learning-rate factor is needed.
    expect(formErrors({ ...form, threads: null, discriminatorWidth: null })).toEqual({});
    expect(formErrors({ ...form, learningRateFactor: null }).learningRateFactor).toBe('Learning-rate factor is needed');
    expect(formErrors({ ...form, lossWeights: '{wEyes: 30}' }).lossWeights).toMatch(/^Loss weights must be JSON/);
    expect(formErrors({ ...form, lossWeights: '{"wEyes": -1}' }).lossWeights).toMatch(/^Loss weights: wEyes: /);
    expect(formErrors({ ...form, lossWeights: '{"wNose": 1}' }).lossWeights).toMatch(/^Loss weights: /);
    const overrides = overridesFromForm({
      ...form,
      threads: 3,
      lossWeights: '{"wEyes": 30}',
      partsMethod: 'augmented',
    });
    expect(overrides).toMatchObject({ threads: 3, lossWeights: { wEyes: 30 }, partsMethod: 'augmented' });
    expect(TrainingPatch.parse(overrides)).toMatchObject(overrides);
  });
});

describe('Train page runs', () => {
  const run = (settings: Partial<TrainingSettings>) => ({
    id: 1,
    iteration: 146,
    targetIterations: 3,
    state: 'completed',
    settings: { ...defaults, ...settings },
  });

  it("shows a run's real target: never below where it is (the demo's 146 / 3)", () => {
    expect(runTarget(run({}))).toBe(146);
    expect(runTarget({ iteration: 8, targetIterations: 200 })).toBe(200);
    expect(runLabel(run({}), false, String)).toBe('Run 1 · 146 / 146 · completed');
    expect(runLabel({ ...run({}), state: 'running' }, false, String)).toMatch(/interrupted$/);
    expect(runLabel({ ...run({}), state: 'running' }, true, String)).toMatch(/training$/);
  });

  it('names the model-shape settings a form changes from the run: those need a new run', () => {
    const trained = run({ useSelfAttention: false, modelWidth: 8, discriminatorWidth: 8 });
    const same = formFromSettings(trained.settings);
    expect(shapeChanges(trained.settings, overridesFromForm(same))).toEqual([]);
    // Batch size, iterations, losses: the same run goes on.
    expect(
      shapeChanges(trained.settings, overridesFromForm({ ...same, batchSize: 4, iterations: 500, cycleLoss: true })),
    ).toEqual([]);
    expect(
      shapeChanges(trained.settings, overridesFromForm({ ...same, useSelfAttention: true, resolution: 128 })),
    ).toEqual(['Resolution', 'Self-attention']);
    // An empty width means the capacity's default: 32 for lite, so clearing 8 changes the shape, clearing 32 not.
    expect(shapeChanges(trained.settings, overridesFromForm({ ...same, modelWidth: null }))).toEqual(['Model width']);
    expect(shapeChanges({ ...defaults, modelWidth: 32 }, overridesFromForm(formFromSettings(defaults)))).toEqual([]);
  });

  it("continues a run with its own settings under the form's (also those the form does not show)", () => {
    const trained = run({ useSelfAttention: false, modelWidth: 8, discriminatorWidth: 8, seed: 7 });
    const overrides = runOverrides(trained, { ...formFromSettings(trained.settings), iterations: 300 });
    expect(overrides).toMatchObject({ discriminatorWidth: 8, seed: 7, iterations: 300, useSelfAttention: false });
    expect(TrainingPatch.safeParse(overrides).success).toBe(true);
    expect(runOverrides(null, formFromSettings(defaults))).toEqual(overridesFromForm(formFromSettings(defaults)));
  });
});
