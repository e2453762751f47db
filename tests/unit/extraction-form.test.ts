import { describe, expect, it } from 'vitest';
import { ExtractionSettings, describeOptions, numberProblem } from '../../src-shared/contract/index.js';
import {
  EXTRACTION_SECTIONS,
  extractionErrors,
  extractionForm,
  extractionPatch,
  sameExtraction,
  withDetectorChoices,
} from '../../src-renderer/src/lib/extraction-form.js';
import type { OptionField } from '../../src-renderer/src/lib/option-form.js';

const defaults = ExtractionSettings.parse({});

describe('extraction settings form (Settings page): derived from the options registry', () => {
  it('shows every extraction setting once, the advanced ones apart', () => {
    const keys = [...EXTRACTION_SECTIONS.main, ...EXTRACTION_SECTIONS.advanced].map((field) => field.key);
    expect([...keys].sort()).toEqual(Object.keys(ExtractionSettings.shape).sort());
    expect(EXTRACTION_SECTIONS.advanced.map((field) => field.key)).toEqual([
      'detector',
      'blurThreshold',
      'maskDilation',
      'maskFeather',
    ]);
    const declared = describeOptions(ExtractionSettings);
    expect(EXTRACTION_SECTIONS.main.find((field) => field.key === 'frameStride')).toEqual(
      declared.find((field) => field.key === 'frameStride'),
    );
    expect(EXTRACTION_SECTIONS.main.find((field) => field.key === 'frameStride')).toMatchObject({
      label: 'Frame stride',
      min: 1,
      max: 1000,
    });
  });

  it('words a bad number as numberProblem does, and saves only a valid, changed form', () => {
    const form = extractionForm(defaults);
    expect(extractionErrors(form)).toEqual({});
    expect(sameExtraction(form, defaults)).toBe(true);
    const bad = { ...form, frameStride: 0, maskFeather: 65, detectionThreshold: null };
    const stride = describeOptions(ExtractionSettings).find((field) => field.key === 'frameStride');
    expect(extractionErrors(bad)).toEqual({
      frameStride: stride && numberProblem(stride, 0),
      maskFeather: 'Mask feather must be 0 to 64',
      detectionThreshold: 'Detection threshold is needed',
    });
    expect(extractionErrors(bad).frameStride).toBe('Frame stride must be 1 to 1000');
    expect(extractionPatch(bad)).toBeNull();
    const changed = { ...form, frameStride: 5, useAutoDownscaling: true };
    expect(sameExtraction(changed, defaults)).toBe(false);
    expect(extractionPatch(changed)).toEqual({ ...defaults, frameStride: 5, useAutoDownscaling: true });
    // A text option (the detector's name) is kept as typed.
    expect(extractionPatch({ ...form, detector: 'blazeface' })).toEqual(defaults);
    expect(sameExtraction({ ...form, detector: 'other' }, defaults)).toBe(false);
  });

  it('offers the detectors the engine has as a choice, keeping a saved one the engine lacks', () => {
    const field = EXTRACTION_SECTIONS.advanced
      .concat(EXTRACTION_SECTIONS.main)
      .find((f) => f.key === 'detector') as OptionField;
    expect(field.kind).toBe('text');
    // An older engine that does not list them: the text field stays.
    expect(withDetectorChoices(field, undefined, 'blazeface')).toBe(field);
    const choice = withDetectorChoices(field, ['blazeface', 'toy'], 'blazeface');
    expect(choice.kind).toBe('choice');
    expect(choice.choices?.map((c) => c.value)).toEqual(['blazeface', 'toy']);
    const kept = withDetectorChoices(field, ['blazeface'], 'retina');
    expect(kept.choices).toEqual([
      { value: 'blazeface', label: 'blazeface' },
      { value: 'retina', label: 'retina (not here)' },
    ]);
    // Other fields are left as they are.
    const stride = EXTRACTION_SECTIONS.main.find((f) => f.key === 'frameStride') as OptionField;
    expect(withDetectorChoices(stride, ['blazeface'], 'blazeface')).toBe(stride);
  });
});
