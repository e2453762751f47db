import { describe, expect, it } from 'vitest';
import {
  ConverterConfig,
  SegmentationName,
  describeOptions,
  type ProjectSummary,
} from '../../src-shared/contract/index.js';
import {
  CONVERTER_DEFAULTS,
  FIELDS,
  FIELD_GROUPS,
  SEGMENTATION_GROUPS,
  TO_THE_END,
  defaultInputPath,
  defaultOutputPath,
  defaultPreviewPosition,
  exportMetrics,
  exportPathErrors,
  fieldOfError,
  fieldSpec,
  formFromConfig,
  isAbsolutePath,
  jitterReduction,
  nextPreviewable,
  overridesFromForm,
  sameAsConfig,
  segmentationLabel,
  slug,
  pathInsideProject,
  splitPath,
  validateForm,
  type ConverterForm,
} from '../../src-renderer/src/lib/converter-form.js';

const defaults = formFromConfig(CONVERTER_DEFAULTS);

describe('converter form: fields and defaults', () => {
  it('has one field for every ConverterConfig key but the model-owned image_shape', () => {
    const keys = Object.keys(ConverterConfig.shape).filter((key) => key !== 'image_shape');
    expect(FIELDS.map((field) => field.name).sort()).toEqual(keys.sort());
    expect(new Set(FIELDS.map((field) => field.name)).size).toBe(FIELDS.length);
    expect(Object.keys(defaults).sort()).toEqual(keys.sort());
    expect(FIELD_GROUPS.map((group) => group.id)).toEqual(['swap', 'tracking', 'detection', 'range']);
  });

  it('starts from the contract defaults, with empty start and end frames', () => {
    expect(defaults).toMatchObject({
      segmentation: 'ALL',
      direction: 'AtoB',
      color_correction: 'HISTMATCH',
      output_type: 'SINGLE',
      use_smoothed_bbox: true,
      use_kalman_filter: true,
      bbox_moving_avg_coef: 0.65,
      kf_noise_coef: 0.1,
      detection_threshold: 0.6,
      min_face_area: 35 * 35,
      roi_coverage: 0.9,
      start_frame: null,
      end_frame: null,
      synthetic_label: false,
      use_auto_downscaling: false,
    });
    // A saved "to the end" sentinel reads back as an empty field.
    expect(formFromConfig({ ...CONVERTER_DEFAULTS, end_frame: TO_THE_END }).end_frame).toBeNull();
    expect(formFromConfig({ ...CONVERTER_DEFAULTS, start_frame: 5, end_frame: 40 })).toMatchObject({
      start_frame: 5,
      end_frame: 40,
    });
  });

  it('offers all 16 segmentations once, grouped by how many parts they swap', () => {
    const listed = SEGMENTATION_GROUPS.flatMap((group) => group.options);
    expect([...listed].sort()).toEqual([...SegmentationName.options].sort());
    expect(SEGMENTATION_GROUPS.map((group) => [group.label, group.options.length])).toEqual([
      ['Whole face', 1],
      ['One part', 4],
      ['Two parts', 6],
      ['Three parts', 4],
      ['All four parts', 1],
    ]);
    expect(segmentationLabel('ALL')).toBe('Whole face');
    expect(segmentationLabel('EYES_ONLY')).toBe('Eyes');
    expect(segmentationLabel('MOUTH_AND_EYEBROWS')).toBe('Eyebrows and mouth');
    expect(segmentationLabel('EYES_EYEBROWS_NOSE_AND_MOUTH')).toBe('Eyes, eyebrows, nose and mouth');
    // The select offers the same choices.
    const select = FIELDS.find((field) => field.name === 'segmentation');
    expect(select?.kind === 'select' && select.groups.flatMap((g) => g.options).length).toBe(16);
  });
});

describe('converter form: derived from the options registry', () => {
  const options = new Map(describeOptions(ConverterConfig).map((field) => [field.key, field]));
  const number = (name: string) => {
    const spec = FIELDS.find((field) => field.name === name);
    if (spec?.kind !== 'number') throw new Error(`${name} is not a number field`);
    return spec;
  };

  it("takes every field's label and hint from the option's declaration", () => {
    for (const spec of FIELDS) {
      const option = options.get(spec.name);
      expect(option, spec.name).toBeDefined();
      expect(spec.label, spec.name).toBe(option?.label);
      expect(spec.hint, spec.name).toBe(option?.help);
      expect(spec.hint.length, spec.name).toBeGreaterThan(0);
    }
    expect(fieldSpec('roi_coverage').label).toBe('Face coverage');
    expect(fieldSpec('direction').hint).toMatch(/^AtoB \(the default\) converts a video of A/);
  });

  it('takes the bounds, steps and units from the schema', () => {
    expect(number('roi_coverage')).toMatchObject({ min: 0.5, max: 1, step: 0.01, range: '0.5 – 1' });
    expect(number('min_face_area')).toMatchObject({ min: 0, max: undefined, step: 25, range: '≥ 0 px²' });
    // "More than 0" is not an input's min (that would allow 0): checked, and shown as "> 0".
    expect(number('kf_noise_coef')).toMatchObject({ min: undefined, range: '> 0', step: 0.001 });
    expect(number('start_frame')).toMatchObject({ optional: true, emptyMeans: 'first', step: 1 });
    expect(number('enhance')).toMatchObject({ optional: false });
  });

  it("offers each select's choices with the labels the option declares", () => {
    const select = (name: string) => {
      const spec = FIELDS.find((field) => field.name === name);
      if (spec?.kind !== 'select') throw new Error(`${name} is not a select`);
      return spec.groups.flatMap((group) => group.options);
    };
    expect(select('output_type')).toEqual([
      { value: 'SINGLE', label: 'Result only' },
      { value: 'COMBINED', label: 'Source | result' },
      { value: 'TRIPLE', label: 'Source | result | mask' },
    ]);
    expect(select('direction').map((option) => option.label)).toEqual([
      'A → B: A wears B’s face',
      'B → A: B wears A’s face',
    ]);
    expect(select('color_correction')).toEqual(options.get('color_correction')?.choices);
    expect(select('segmentation').find((option) => option.value === 'MOUTH_AND_NOSE')?.label).toBe('Nose and mouth');
  });
});

describe('converter form: validation against the contract schema', () => {
  it('accepts the defaults and returns the full config with the model shape', () => {
    const result = validateForm(defaults, 128);
    expect(result.errors).toEqual({});
    expect(result.config).toEqual({ ...CONVERTER_DEFAULTS, image_shape: [128, 128, 3] });
  });

  it('names each field that is out of range, not whole, or empty', () => {
    const form: ConverterForm = {
      ...defaults,
      roi_coverage: 0.4,
      bbox_moving_avg_coef: 1.5,
      kf_noise_coef: 0,
      min_face_area: 12.5,
      detection_threshold: null,
      start_frame: -1,
    };
    const { config, errors } = validateForm(form);
    expect(config).toBeNull();
    // The words are the option's own (numberProblem on the field describeOptions derives from the schema).
    expect(errors.roi_coverage).toBe('Face coverage must be 0.5 to 1');
    expect(errors.bbox_moving_avg_coef).toBe('Moving-average weight must be 0 to 1');
    expect(errors.kf_noise_coef).toBe('Kalman noise must be more than 0');
    expect(errors.min_face_area).toBe('Smallest face must be a whole number');
    expect(errors.detection_threshold).toBe('Detection threshold is needed');
    expect(errors.start_frame).toBe('Start frame must be 0 or more');
    expect(Object.keys(errors).sort()).toEqual(
      [
        'bbox_moving_avg_coef',
        'detection_threshold',
        'kf_noise_coef',
        'min_face_area',
        'roi_coverage',
        'start_frame',
      ].sort(),
    );
  });

  it('rejects an enum value the contract does not list, and an end before the start', () => {
    const bad = { ...defaults, segmentation: 'CHIN' } as unknown as ConverterForm;
    expect(validateForm(bad).errors.segmentation).toMatch(/^Face parts: choose one of ALL, EYES_ONLY,/);
    const backwards = validateForm({ ...defaults, start_frame: 50, end_frame: 10 });
    expect(backwards.config).toBeNull();
    expect(backwards.errors).toEqual({ end_frame: 'End frame must not be before the start frame (50)' });
    expect(validateForm({ ...defaults, start_frame: 10, end_frame: 10 }).config).not.toBeNull();
  });

  it('maps the engine’s error fields to form fields', () => {
    expect(fieldOfError('params.job.config.roi_coverage')).toBe('roi_coverage');
    expect(fieldOfError('params.config.segmentation')).toBe('segmentation');
    expect(fieldOfError('settings.converter.end_frame')).toBe('end_frame');
    expect(fieldOfError('params.job.input')).toBeNull();
    expect(fieldOfError(undefined)).toBeNull();
  });
});

describe('converter form: overrides', () => {
  it('sends every field but image_shape, leaving empty frames out', () => {
    const overrides = overridesFromForm({ ...defaults, segmentation: 'EYES_ONLY', roi_coverage: 0.8 });
    expect(overrides).not.toHaveProperty('image_shape');
    expect(overrides).not.toHaveProperty('start_frame');
    expect(overrides).not.toHaveProperty('end_frame');
    expect(overrides.segmentation).toBe('EYES_ONLY');
    expect(overrides.roi_coverage).toBe(0.8);
    expect(Object.keys(overrides)).toHaveLength(FIELDS.length - 2);
    // What the contract accepts as a partial config, unchanged. (Zod fills the defaults of fields left out, so the
    // form always sends them all: the project's saved defaults would otherwise be overridden unseen.)
    expect(ConverterConfig.partial().parse(overrides)).toMatchObject(overrides);
    expect(overridesFromForm({ ...defaults, start_frame: 3, end_frame: 9 })).toMatchObject({
      start_frame: 3,
      end_frame: 9,
    });
  });

  it('clears saved start and end frames explicitly when the fields are emptied', () => {
    const saved = { ...CONVERTER_DEFAULTS, start_frame: 20, end_frame: 80 };
    const overrides = overridesFromForm(defaults, saved);
    expect(overrides.start_frame).toBe(0);
    expect(overrides.end_frame).toBe(TO_THE_END);
    // Merged over the saved defaults the way the engine does, it reads back as empty fields.
    const merged = ConverterConfig.parse({ ...saved, ...overrides });
    expect(formFromConfig(merged)).toEqual(defaults);
    // Nothing to clear: nothing sent.
    expect(overridesFromForm(defaults, CONVERTER_DEFAULTS)).not.toHaveProperty('end_frame');
  });

  it('knows when the form differs from the saved defaults', () => {
    expect(sameAsConfig(defaults, CONVERTER_DEFAULTS)).toBe(true);
    expect(sameAsConfig({ ...defaults, segmentation: 'NOSE_ONLY' }, CONVERTER_DEFAULTS)).toBe(false);
    expect(sameAsConfig({ ...defaults, start_frame: 0 }, CONVERTER_DEFAULTS)).toBe(false);
    // An input bound as undefined when emptied counts as empty.
    expect(sameAsConfig({ ...defaults, end_frame: undefined as unknown as null }, CONVERTER_DEFAULTS)).toBe(true);
  });
});

describe('converter form: export paths', () => {
  it('defaults the output to <project>/exports/<name>-<segmentation>.mp4, skipping earlier exports', () => {
    expect(defaultOutputPath('/home/me/Swap', 'Obama → Biden (take 2)', 'EYES_AND_NOSE')).toBe(
      '/home/me/Swap/exports/obama-biden-take-2-eyes-and-nose.mp4',
    );
    expect(
      defaultOutputPath('/p/', 'Clip', 'ALL', ['/p/exports/clip-whole-face.mp4', '/p/exports/clip-whole-face-2.mp4']),
    ).toBe('/p/exports/clip-whole-face-3.mp4');
    expect(defaultOutputPath('C:\\Users\\me\\Swap', 'Clip', 'EYES_ONLY')).toBe(
      'C:\\Users\\me\\Swap\\exports\\clip-eyes.mp4',
    );
    expect(slug('***')).toBe('export');
    expect(slug('Café Scène')).toBe('cafe-scene');
  });

  it('defaults the input to the source side’s video, if it is one', () => {
    const media = {
      width: 640,
      height: 360,
      displayWidth: 640,
      displayHeight: 360,
      rotation: 0,
      fps: 25,
      frameCount: 275,
      durationSeconds: 11,
      hasAudio: true,
      codec: 'h264',
    };
    const sources: ProjectSummary['sources'] = {
      a: { side: 'a', kind: 'video', path: '/media/a.mp4', media },
      b: { side: 'b', kind: 'images', path: '/media/b stills', media },
    };
    expect(defaultInputPath(sources, 'AtoB')).toBe('/media/a.mp4');
    expect(defaultInputPath(sources, 'BtoA')).toBe('');
  });

  it('checks the paths before an export starts', () => {
    expect(isAbsolutePath('/x/y.mp4')).toBe(true);
    expect(isAbsolutePath('C:\\x\\y.mp4')).toBe(true);
    expect(isAbsolutePath('\\\\server\\share\\y.mp4')).toBe(true);
    expect(isAbsolutePath('x/y.mp4')).toBe(false);
    expect(exportPathErrors('/in.mp4', '/out/x.mp4')).toEqual({});
    expect(exportPathErrors('', '')).toEqual({
      input: 'Enter the path of the video to convert.',
      output: 'Enter where the converted video goes.',
    });
    expect(exportPathErrors('in.mp4', '/out/x.txt')).toEqual({
      input: expect.stringMatching(/full path/) as unknown as string,
      output: 'End the output file name with .mp4.',
    });
    expect(exportPathErrors('/v.mp4', '/v.mp4').output).toMatch(/overwrite/);
    expect(splitPath('/p/exports/a.mp4')).toEqual({ folder: '/p/exports', file: 'a.mp4' });
    expect(splitPath('a.mp4')).toEqual({ folder: '', file: 'a.mp4' });
    expect(pathInsideProject('/p', '/p/exports/a.mp4')).toBe('exports/a.mp4');
    expect(pathInsideProject('C:\\p\\', 'C:\\p\\exports\\a.mp4')).toBe('exports/a.mp4');
    expect(pathInsideProject('/p', '/pq/a.mp4')).toBeNull();
    expect(pathInsideProject('/p', '/p/../etc/a.mp4')).toBeNull();
    expect(pathInsideProject('/p', '/elsewhere/a.mp4')).toBeNull();
  });
});

describe('converter form: results and preview frames', () => {
  it('reads a finished export’s metrics from the job result', () => {
    const result = {
      output: '/p/exports/clip-eyes.mp4',
      metricsFile: '/p/exports/clip-eyes.mp4.metrics.json',
      frames: 275,
      framesSwapped: 250,
      jitterRawPx: 2.5,
      jitterSmoothedPx: 1,
      segmentation: 'EYES_ONLY',
      direction: 'AtoB',
      colorCorrection: 'HISTMATCH',
    };
    const metrics = exportMetrics(result);
    expect(metrics).toEqual(result);
    expect(jitterReduction(metrics ?? result)).toBe(60);
    expect(jitterReduction({ jitterRawPx: 0, jitterSmoothedPx: 0 })).toBe(0);
    // A cancelled job's result, or none.
    expect(exportMetrics({ stopped: true })).toBeNull();
    expect(exportMetrics(null)).toBeNull();
    expect(exportMetrics({ output: '/x.mp4', frames: 'many' })).toBeNull();
  });

  it('previews the kept frame nearest the middle first, and steps between previewable frames', () => {
    expect(defaultPreviewPosition(['kept', 'no_face', 'no_face', 'no_face', 'kept', 'kept', 'absent'])).toBe(4);
    expect(defaultPreviewPosition(['no_face', 'skipped', 'no_face'])).toBe(1);
    expect(defaultPreviewPosition(['no_face', 'absent'])).toBe(0);
    expect(defaultPreviewPosition([])).toBe(0);
    const statuses = ['kept', 'no_face', 'skipped', 'absent', 'kept'] as const;
    expect(nextPreviewable(statuses, 0, 1)).toBe(2);
    expect(nextPreviewable(statuses, 2, 1)).toBe(4);
    expect(nextPreviewable(statuses, 4, 1)).toBeNull();
    expect(nextPreviewable(statuses, 4, -1)).toBe(2);
    expect(nextPreviewable(statuses, 0, -1)).toBeNull();
  });
});
