import { describe, expect, it } from 'vitest';
import { TrainingPatch, TrainingSettings } from '../../src-shared/contract/index.js';
import {
  formErrors,
  formFromSettings,
  overridesFromForm,
  runLabel,
  runOverrides,
  runTarget,
  shapeChanges,
} from '../../src-renderer/src/lib/train-form.js';

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
      previewEvery: 300,
      checkpointEvery: 500,
      modelWidth: null,
      adversarialLoss: 'mixup-lsgan',
      perceptualLoss: true,
      cycleLoss: false,
      motionBlur: false,
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
      previewEvery: 2,
      checkpointEvery: 500,
      modelWidth: 32,
      adversarialLoss: 'ralsgan',
      perceptualLoss: true,
      cycleLoss: true,
      motionBlur: false,
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
      iterations: 'Iterations: a whole number from 1 to 1,000,000',
      batchSize: 'Batch size: a whole number from 1 to 256',
      previewEvery: 'Preview every: enter a whole number',
      checkpointEvery: 'Checkpoint every: a whole number from 1 to 1,000,000',
      modelWidth: 'Model width: a whole number from 4 to 128',
    });
    // An emptied number input may bind undefined rather than null.
    expect(formErrors({ ...form, batchSize: undefined as unknown as null })).toEqual({
      batchSize: 'Batch size: enter a whole number',
    });
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
