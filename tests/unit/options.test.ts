import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addFlags, flagSet, valuesFromFlags } from '../../src-main/cli/options.js';
import {
  ConverterConfig,
  ExtractionSettings,
  TrainingSettings,
  describeOption,
  describeOptions,
  numberProblem,
  rangeText,
  StudioError,
} from '../../src-shared/contract/index.js';

const SETTINGS = { ExtractionSettings, TrainingSettings, ConverterConfig } as const;

describe('options declared once (contract/options.ts)', () => {
  it.each(Object.entries(SETTINGS))('every field of %s has its own label and help', (_name, schema) => {
    for (const field of describeOptions(schema)) {
      // describeOption falls back to the key with no help when a field was never registered.
      expect(field.label, field.key).not.toBe(field.key);
      expect(field.help.length, field.key).toBeGreaterThan(10);
    }
  });

  it('derives kind, bounds, default and choices from the schema', () => {
    const batch = describeOption('batchSize', TrainingSettings.shape.batchSize);
    expect(batch).toMatchObject({ kind: 'integer', min: 1, max: 256, defaultValue: 8, label: 'Batch size' });
    const resolution = describeOption('resolution', TrainingSettings.shape.resolution);
    expect(resolution.kind).toBe('choice');
    expect(resolution.choices?.map((c) => c.value)).toEqual([64, 128, 256]);
    const rate = describeOption('learningRateFactor', TrainingSettings.shape.learningRateFactor);
    expect(rate).toMatchObject({ kind: 'number', min: 0, exclusiveMin: true });
    expect(rangeText(rate)).toBe('more than 0');
    // A union of a literal and a number: a number field with 'auto' as a choice.
    const threads = describeOption('threads', TrainingSettings.shape.threads);
    expect(threads.kind).toBe('integer');
    expect(threads.choices?.map((c) => c.value)).toContain('auto');
    const direction = describeOption('direction', ConverterConfig.shape.direction);
    expect(direction.choices?.map((c) => c.value)).toEqual(['AtoB', 'BtoA']);
    expect(direction.choices?.[0]?.label).not.toBe('AtoB');
  });

  it('says what is wrong with a number in words, and accepts what fits', () => {
    const batch = describeOption('batchSize', TrainingSettings.shape.batchSize);
    expect(numberProblem(batch, 8)).toBeNull();
    expect(numberProblem(batch, 0)).toBe('Batch size must be 1 to 256');
    expect(numberProblem(batch, 2.5)).toBe('Batch size must be a whole number');
    expect(numberProblem(batch, null)).toBe('Batch size is needed');
    const rate = describeOption('learningRateFactor', TrainingSettings.shape.learningRateFactor);
    expect(numberProblem(rate, 0)).toBe('Learning-rate factor must be more than 0');
    expect(numberProblem(rate, 0.5)).toBeNull();
  });
});

describe('CLI flags derived from the settings (cli/options.ts)', () => {
  function parse(args: string[]): { values: Record<string, unknown>; error?: unknown } {
    const set = flagSet(TrainingSettings, 'kebab', 'params.job.overrides');
    const command = addFlags(new Command('train').exitOverride(), set);
    try {
      command.parse(args, { from: 'user' });
      return { values: valuesFromFlags(command, set) };
    } catch (error) {
      return { values: {}, error };
    }
  }

  it('turns flags into the settings keys, leaving out what was not given', () => {
    const { values, error } = parse(['--batch-size', '4', '--no-self-attention', '--resolution', '128']);
    expect(error).toBeUndefined();
    expect(values).toEqual({ batchSize: 4, useSelfAttention: false, resolution: 128 });
    expect(TrainingSettings.partial().safeParse(values).success).toBe(true);
  });

  it('rejects a value the contract would reject, naming the flag, the range and the field', () => {
    const { error } = parse(['--batch-size', '0']);
    const cause = error instanceof StudioError ? error : (error as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(StudioError);
    expect((cause as StudioError).message).toBe('--batch-size must be a whole number, 1 to 256 (got "0")');
    expect((cause as StudioError).field).toBe('params.job.overrides.batchSize');
  });

  it('keeps the converter flags as the original names them and accepts its older spellings', () => {
    const set = flagSet(ConverterConfig, 'key', 'params.job.config');
    const command = addFlags(new Command('convert').exitOverride(), set);
    command.parse(['--segmentation', 'eyes_only', '--color_correction', 'ADAIN', '--no-use_kalman_filter'], {
      from: 'user',
    });
    const values = valuesFromFlags(command, set);
    expect(ConverterConfig.partial().safeParse(values).success).toBe(true);
    expect(Object.keys(values).sort()).toEqual(['color_correction', 'segmentation', 'use_kalman_filter']);
  });

  it('takes a boolean as a bare flag, --no-flag, or with a value as the original config writes it', () => {
    expect(parse(['--self-attention']).values).toEqual({ useSelfAttention: true });
    expect(parse(['--self-attention', 'False']).values).toEqual({ useSelfAttention: false });
    expect(parse(['--no-self-attention']).values).toEqual({ useSelfAttention: false });
    const { error } = parse(['--self-attention', 'maybe']);
    const cause = error instanceof StudioError ? error : (error as { cause?: unknown }).cause;
    expect((cause as StudioError).message).toBe('--self-attention takes true or false, or nothing (got "maybe")');
  });
});
