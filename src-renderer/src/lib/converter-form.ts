import {
  ConverterConfig,
  type Segmentation,
  SegmentationName,
  segmentationOf,
  type FrameStatus,
  type ProjectSummary,
  type Side,
} from '../../../src-shared/contract/index.js';
import {
  choiceLabel,
  inputMin,
  inputProblem,
  numberOf,
  optionOf,
  optionsByKey,
  rangeHint,
  stepOf,
  type OptionField,
} from './option-form.js';

/**
 * The Convert page's converter form: every field of the contract's ConverterConfig except image_shape, which comes
 * from the trained model and is shown read-only. Numbers are null while their input is empty.
 */
export interface ConverterForm {
  segmentation: Segmentation;
  direction: DirectionName;
  color_correction: ColorCorrectionName;
  output_type: OutputTypeName;
  use_smoothed_bbox: boolean;
  use_kalman_filter: boolean;
  bbox_moving_avg_coef: number | null;
  kf_noise_coef: number | null;
  detection_threshold: number | null;
  min_face_area: number | null;
  use_auto_downscaling: boolean;
  roi_coverage: number | null;
  enhance: number | null;
  /** Empty: from the first frame. */
  start_frame: number | null;
  /** Empty: to the last frame. */
  end_frame: number | null;
  synthetic_label: boolean;
}

export type FieldName = keyof ConverterForm;
export type FormErrors = Partial<Record<FieldName, string>>;
export type ConverterOverrides = Partial<ConverterConfig>;

export type DirectionName = ConverterConfig['direction'];
export type ColorCorrectionName = ConverterConfig['color_correction'];
export type OutputTypeName = ConverterConfig['output_type'];

/** The contract's defaults (ConverterConfig with nothing set). */
export const CONVERTER_DEFAULTS: ConverterConfig = ConverterConfig.parse({});

/**
 * An end frame past any real video's last frame. The engine converts up to min(end_frame, last frame), so this means
 * "to the end"; it is only sent when the project's saved defaults hold an end frame that an empty field must clear
 * (a settings patch can set a field but not remove it).
 */
export const TO_THE_END = 2 ** 31 - 1;

interface Option<V extends string> {
  value: V;
  label: string;
}

type SwitchName = Extract<
  FieldName,
  'use_smoothed_bbox' | 'use_kalman_filter' | 'use_auto_downscaling' | 'synthetic_label'
>;
type NumberName = Extract<
  FieldName,
  | 'bbox_moving_avg_coef'
  | 'kf_noise_coef'
  | 'detection_threshold'
  | 'min_face_area'
  | 'roi_coverage'
  | 'enhance'
  | 'start_frame'
  | 'end_frame'
>;
type SelectName = Extract<FieldName, 'segmentation' | 'direction' | 'color_correction' | 'output_type'>;

/** What every field spec has: the option as declared (label, help, range, choices) under the form's own name. */
interface SpecBase {
  /** The option's declaration, derived from ConverterConfig (describeOptions). */
  option: OptionField;
  label: string;
  hint: string;
}

export interface SwitchSpec extends SpecBase {
  kind: 'switch';
  name: SwitchName;
}

export interface NumberSpec extends SpecBase {
  kind: 'number';
  name: NumberName;
  /** The input's min (an inclusive minimum only) and max, as the schema bounds them. */
  min: number | undefined;
  max: number | undefined;
  step: number | 'any';
  /** "0 – 1", "> 0", "≥ 0 px²". */
  range: string;
  /** May be left empty (start and end frame). */
  optional: boolean;
  /** What an empty optional field means (the input's placeholder). */
  emptyMeans?: string;
}

export interface SelectSpec extends SpecBase {
  kind: 'select';
  name: SelectName;
  /** Options, in groups where the list is long (segmentation). */
  groups: { label: string | null; options: Option<string>[] }[];
}

export type FieldSpec = SwitchSpec | NumberSpec | SelectSpec;

export interface FieldGroup {
  id: 'swap' | 'tracking' | 'detection' | 'range';
  title: string;
  blurb: string;
  fields: FieldSpec[];
}

// ---------------------------------------------------------------------------------------------------------------
// Options

/** The converter's options as declared once beside ConverterConfig: labels, help, ranges and choices. */
export const CONVERTER_OPTIONS = optionsByKey(ConverterConfig);

/** The label a segmentation has where it is declared ("Whole face", "Eyes, eyebrows and nose"). */
export function segmentationLabel(value: Segmentation): string {
  return segmentationOf(value)?.label ?? value;
}

/** The face parts a segmentation swaps: "EYES_AND_MOUTH" -> ["eyes", "mouth"]; the whole face -> []. */
export function partsOf(value: Segmentation): string[] {
  return (segmentationOf(value)?.parts ?? []).filter((part) => part !== 'face');
}

/** The segmentations grouped by how many parts they swap: the whole face, one part, two, three, all four. */
export const SEGMENTATION_GROUPS: { label: string; options: Segmentation[] }[] = (() => {
  const names = ['Whole face', 'One part', 'Two parts', 'Three parts', 'All four parts'];
  const groups = names.map((label) => ({ label, options: [] as Segmentation[] }));
  for (const value of SegmentationName.options) groups[partsOf(value).length]?.options.push(value);
  return groups.filter((group) => group.options.length > 0);
})();

// ---------------------------------------------------------------------------------------------------------------
// Fields: the page's layout (groups, order, what an empty frame field means); all else is the option's.

const LAYOUT: ReadonlyArray<Omit<FieldGroup, 'fields'> & { keys: readonly FieldName[] }> = [
  {
    id: 'swap',
    title: 'Swap',
    blurb: 'What is swapped, which way, and how the result is laid out.',
    keys: ['segmentation', 'direction', 'color_correction', 'output_type', 'enhance'],
  },
  {
    id: 'tracking',
    title: 'Face tracking',
    blurb: 'Steadies the face box from frame to frame.',
    keys: ['use_smoothed_bbox', 'use_kalman_filter', 'bbox_moving_avg_coef', 'kf_noise_coef'],
  },
  {
    id: 'detection',
    title: 'Detection',
    blurb: 'Which faces are found in the video, and how much of the face is swapped.',
    keys: ['detection_threshold', 'min_face_area', 'roi_coverage', 'use_auto_downscaling'],
  },
  {
    id: 'range',
    title: 'Frames',
    blurb: 'Which part of the video to convert.',
    keys: ['start_frame', 'end_frame', 'synthetic_label'],
  },
];

/** The placeholder of an empty optional number. */
const EMPTY_MEANS: Partial<Record<FieldName, string>> = { start_frame: 'first', end_frame: 'last' };

/** A form field's spec from its option: a switch for a boolean, a select for a choice, else a number input. */
function specOf(name: FieldName): FieldSpec {
  const option = optionOf(CONVERTER_OPTIONS, name);
  const base = { option, label: option.label, hint: option.help };
  switch (option.kind) {
    case 'boolean':
      return { ...base, kind: 'switch', name: name as SwitchName };
    case 'choice': {
      const choices = (option.choices ?? []).map((choice) => ({ value: String(choice.value), label: choice.label }));
      const groups =
        name === 'segmentation'
          ? SEGMENTATION_GROUPS.map((group) => ({
              label: group.label,
              options: group.options.map((value) => ({ value, label: choiceLabel(option, value) })),
            }))
          : [{ label: null, options: choices }];
      return { ...base, kind: 'select', name: name as SelectName, groups };
    }
    case 'integer':
    case 'number': {
      const emptyMeans = EMPTY_MEANS[name];
      return {
        ...base,
        kind: 'number',
        name: name as NumberName,
        min: inputMin(option),
        max: option.max,
        step: stepOf(option),
        range: rangeHint(option),
        optional: option.optional,
        ...(emptyMeans === undefined ? {} : { emptyMeans }),
      };
    }
    default:
      throw new Error(`the converter form has no widget for ${name} (${option.kind})`);
  }
}

/** Every field of the form, grouped as the page shows them. */
export const FIELD_GROUPS: FieldGroup[] = LAYOUT.map(({ keys, ...group }) => ({ ...group, fields: keys.map(specOf) }));

export const FIELDS: FieldSpec[] = FIELD_GROUPS.flatMap((group) => group.fields);

export function fieldSpec(name: FieldName): FieldSpec {
  const spec = FIELDS.find((field) => field.name === name);
  if (!spec) throw new Error(`no converter field ${name}`);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------------
// Form <-> config

export function formFromConfig(config: ConverterConfig): ConverterForm {
  return {
    segmentation: config.segmentation,
    direction: config.direction,
    color_correction: config.color_correction,
    output_type: config.output_type,
    use_smoothed_bbox: config.use_smoothed_bbox,
    use_kalman_filter: config.use_kalman_filter,
    bbox_moving_avg_coef: config.bbox_moving_avg_coef,
    kf_noise_coef: config.kf_noise_coef,
    detection_threshold: config.detection_threshold,
    min_face_area: config.min_face_area,
    use_auto_downscaling: config.use_auto_downscaling,
    roi_coverage: config.roi_coverage,
    enhance: config.enhance,
    start_frame: config.start_frame === undefined || config.start_frame === 0 ? null : config.start_frame,
    end_frame: config.end_frame === undefined || config.end_frame >= TO_THE_END ? null : config.end_frame,
    synthetic_label: config.synthetic_label,
  };
}

/** The model's input shape, [r, r, 3], from the training resolution. */
export function imageShape(resolution: number): [number, number, 3] {
  return [resolution, resolution, 3];
}

export interface Validated {
  /** The full config when the form is valid, else null. */
  config: ConverterConfig | null;
  errors: FormErrors;
}

/**
 * Checks the form against the contract's ConverterConfig schema (and that the end frame is not before the start),
 * with each problem in words under its field.
 */
export function validateForm(form: ConverterForm, resolution = CONVERTER_DEFAULTS.image_shape[0]): Validated {
  const errors: FormErrors = {};
  const candidate: Record<string, unknown> = { image_shape: imageShape(resolution) };
  for (const spec of FIELDS) {
    const raw: unknown = form[spec.name];
    if (spec.kind === 'number') {
      // The option's own words: "Face coverage must be 0.5 to 1", "Detection threshold is needed".
      const problem = inputProblem(spec.option, raw);
      if (problem) errors[spec.name] = problem;
      const value = numberOf(raw);
      if (value !== null) candidate[spec.name] = value;
    } else {
      candidate[spec.name] = raw;
    }
  }
  const parsed = ConverterConfig.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path[0];
      if (typeof name !== 'string' || !isFieldName(name) || errors[name]) continue;
      const spec = fieldSpec(name);
      errors[name] =
        spec.kind === 'number'
          ? `${spec.label}: ${issue.message}`
          : spec.kind === 'select'
            ? `${spec.label}: choose one of ${spec.groups.flatMap((g) => g.options.map((o) => o.value)).join(', ')}`
            : `${spec.label}: on or off`;
    }
  }
  const start = numberOf(form.start_frame);
  const end = numberOf(form.end_frame);
  if (start !== null && end !== null && end < start && !errors.start_frame && !errors.end_frame)
    errors.end_frame = `${fieldSpec('end_frame').label} must not be before the start frame (${start})`;
  const valid = parsed.success && Object.keys(errors).length === 0;
  return { config: valid ? parsed.data : null, errors };
}

export function isFieldName(name: string): name is FieldName {
  return FIELDS.some((field) => field.name === name);
}

/**
 * The overrides sent with convert.preview, jobs.start and project.updateSettings: every field of a valid form
 * (image_shape is the model's and never sent). An empty start or end frame is left out, unless `saved` (the
 * project's defaults, which the engine merges under the overrides) holds one: then it is cleared explicitly (start
 * 0, end TO_THE_END).
 */
export function overridesFromForm(form: ConverterForm, saved?: Partial<ConverterConfig>): ConverterOverrides {
  const value = (name: NumberName, fallback: number): number => numberOf(form[name]) ?? fallback;
  const overrides: ConverterOverrides = {
    segmentation: form.segmentation,
    direction: form.direction,
    color_correction: form.color_correction,
    output_type: form.output_type,
    use_smoothed_bbox: form.use_smoothed_bbox,
    use_kalman_filter: form.use_kalman_filter,
    bbox_moving_avg_coef: value('bbox_moving_avg_coef', CONVERTER_DEFAULTS.bbox_moving_avg_coef),
    kf_noise_coef: value('kf_noise_coef', CONVERTER_DEFAULTS.kf_noise_coef),
    detection_threshold: value('detection_threshold', CONVERTER_DEFAULTS.detection_threshold),
    min_face_area: value('min_face_area', CONVERTER_DEFAULTS.min_face_area),
    use_auto_downscaling: form.use_auto_downscaling,
    roi_coverage: value('roi_coverage', CONVERTER_DEFAULTS.roi_coverage),
    enhance: value('enhance', CONVERTER_DEFAULTS.enhance),
    synthetic_label: form.synthetic_label,
  };
  const start = numberOf(form.start_frame);
  const end = numberOf(form.end_frame);
  if (start !== null) overrides.start_frame = start;
  else if (saved?.start_frame !== undefined && saved.start_frame !== 0) overrides.start_frame = 0;
  if (end !== null) overrides.end_frame = end;
  else if (saved?.end_frame !== undefined && saved.end_frame < TO_THE_END) overrides.end_frame = TO_THE_END;
  return overrides;
}

/** Whether the form says the same as a saved config (what "Save as project defaults" would change). */
export function sameAsConfig(form: ConverterForm, config: ConverterConfig): boolean {
  const a = formFromConfig(config);
  return FIELDS.every((spec) => {
    const left: unknown = spec.kind === 'number' ? numberOf(form[spec.name]) : form[spec.name];
    return Object.is(left, a[spec.name]);
  });
}

/** The form field an engine error names: "params.job.config.roi_coverage" or "settings.converter.segmentation". */
export function fieldOfError(field: string | null | undefined): FieldName | null {
  if (!field) return null;
  const last = field.split('.').at(-1) ?? '';
  return isFieldName(last) ? last : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Export paths

/** POSIX "/x", Windows "C:\x" or "C:/x", UNC "\\server\share". */
export function isAbsolutePath(value: string): boolean {
  return value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith('\\\\');
}

/** A file-name-safe form of a project name: "Obama → Biden (take 2)" -> "obama-biden-take-2". */
export function slug(name: string): string {
  const text = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return text || 'export';
}

function separatorOf(dir: string): '/' | '\\' {
  return dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
}

/**
 * <project>/exports/<name>-<parts>.mp4, e.g. /p/exports/my-swap-eyes-and-nose.mp4 (the segmentation's label); "-2", "-3" … are added
 * while the name is taken by an earlier export.
 */
export function defaultOutputPath(
  dir: string,
  name: string,
  segmentation: Segmentation,
  taken: readonly string[] = [],
): string {
  const sep = separatorOf(dir);
  const folder = `${dir.replace(/[\\/]+$/, '')}${sep}exports${sep}`;
  const stem = `${slug(name)}-${slug(segmentationLabel(segmentation))}`;
  const used = new Set(taken.map((p) => p.replace(/\\/g, '/')));
  for (let n = 1; ; n += 1) {
    const candidate = `${folder}${stem}${n === 1 ? '' : `-${n}`}.mp4`;
    if (!used.has(candidate.replace(/\\/g, '/'))) return candidate;
  }
}

/** The video to convert: the source side's path when it is a video (A for AtoB, B for BtoA), else empty. */
export function defaultInputPath(sources: ProjectSummary['sources'], direction: DirectionName): string {
  const source = sources[sourceSide(direction)];
  return source.kind === 'video' ? source.path : '';
}

/** The side whose person is converted: A for AtoB, B for BtoA. */
export function sourceSide(direction: DirectionName): Side {
  return direction === 'AtoB' ? 'a' : 'b';
}

export interface ExportPathErrors {
  input?: string;
  output?: string;
}

export function exportPathErrors(input: string, output: string): ExportPathErrors {
  const errors: ExportPathErrors = {};
  const i = input.trim();
  const o = output.trim();
  if (!i) errors.input = 'Enter the path of the video to convert.';
  else if (!isAbsolutePath(i)) errors.input = 'Enter the full path of the video (starting at the root of the disk).';
  if (!o) errors.output = 'Enter where the converted video goes.';
  else if (!isAbsolutePath(o)) errors.output = 'Enter the full path of the output file.';
  else if (!/\.(mp4|mov|mkv|webm|m4v)$/i.test(o)) errors.output = 'End the output file name with .mp4.';
  else if (i && o === i) errors.output = 'The output must not overwrite the input video.';
  return errors;
}

/** "/p/exports/a.mp4" -> { folder: "/p/exports", file: "a.mp4" }. */
export function splitPath(value: string): { folder: string; file: string } {
  const cut = Math.max(value.lastIndexOf('/'), value.lastIndexOf('\\'));
  return cut < 0 ? { folder: '', file: value } : { folder: value.slice(0, cut), file: value.slice(cut + 1) };
}

// ---------------------------------------------------------------------------------------------------------------
// Results and frames

export interface ExportMetrics {
  output: string;
  metricsFile: string | null;
  frames: number;
  framesSwapped: number;
  jitterRawPx: number;
  jitterSmoothedPx: number;
  segmentation: string | null;
  direction: string | null;
  colorCorrection: string | null;
}

/** A finished convert job's result, or null when it has none (cancelled, failed, metrics missing). */
export function exportMetrics(result: Record<string, unknown> | null | undefined): ExportMetrics | null {
  if (!result || typeof result['output'] !== 'string') return null;
  const num = (key: string): number | null => {
    const value = result[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const str = (key: string): string | null => (typeof result[key] === 'string' ? (result[key] as string) : null);
  const frames = num('frames');
  const framesSwapped = num('framesSwapped');
  if (frames === null || framesSwapped === null) return null;
  return {
    output: result['output'],
    metricsFile: str('metricsFile'),
    frames,
    framesSwapped,
    jitterRawPx: num('jitterRawPx') ?? 0,
    jitterSmoothedPx: num('jitterSmoothedPx') ?? 0,
    segmentation: str('segmentation'),
    direction: str('direction'),
    colorCorrection: str('colorCorrection'),
  };
}

/** How much smoothing cut the jitter, in percent (0 when there was none to cut). */
export function jitterReduction(metrics: Pick<ExportMetrics, 'jitterRawPx' | 'jitterSmoothedPx'>): number {
  if (!(metrics.jitterRawPx > 0)) return 0;
  return Math.round((1 - metrics.jitterSmoothedPx / metrics.jitterRawPx) * 100);
}

/** Frames where the side's chosen person is aligned: the ones a preview can convert. */
export function previewable(status: FrameStatus | null | undefined): boolean {
  return status === 'kept' || status === 'skipped';
}

/** The list position to preview first: the kept frame nearest the middle, else any previewable one, else 0. */
export function defaultPreviewPosition(statuses: readonly (FrameStatus | null)[]): number {
  const middle = (statuses.length - 1) / 2;
  let best = -1;
  for (const wanted of [(s: FrameStatus | null) => s === 'kept', previewable]) {
    statuses.forEach((status, position) => {
      if (wanted(status) && (best < 0 || Math.abs(position - middle) < Math.abs(best - middle))) best = position;
    });
    if (best >= 0) return best;
  }
  return 0;
}

/** The next previewable position after (step 1) or before (step -1) `from`, or null. */
export function nextPreviewable(statuses: readonly (FrameStatus | null)[], from: number, step: 1 | -1): number | null {
  for (let position = from + step; position >= 0 && position < statuses.length; position += step)
    if (previewable(statuses[position])) return position;
  return null;
}

/**
 * The export's path relative to the project folder, when it lies inside it (the media route serves only project
 * files); null otherwise. Either separator; no "..".
 */
export function pathInsideProject(dir: string, file: string): string | null {
  const norm = (p: string): string => p.replace(/\\/g, '/').replace(/\/+$/, '');
  const root = `${norm(dir)}/`;
  const target = norm(file);
  if (!target.startsWith(root)) return null;
  const rel = target.slice(root.length);
  return rel === '' || rel.split('/').includes('..') ? null : rel;
}
