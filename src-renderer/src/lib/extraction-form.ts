import { ExtractionSettings } from '../../../src-shared/contract/index.js';
import { inputProblem, numberOf, optionsByKey, type OptionField } from './option-form.js';

/**
 * The extraction settings form (Settings page): every field of the contract's ExtractionSettings, drawn from the
 * options registry. Numbers are null while their input is empty.
 */
export type ExtractionForm = {
  [K in keyof ExtractionSettings]: ExtractionSettings[K] extends number ? number | null : ExtractionSettings[K];
};
export type ExtractionKey = keyof ExtractionSettings;
export type ExtractionErrors = Partial<Record<ExtractionKey, string>>;

export const EXTRACTION_OPTIONS = optionsByKey(ExtractionSettings);

/** The everyday options, then the advanced ones (OptionInfo.advanced), each in declaration order. */
export const EXTRACTION_SECTIONS: { main: OptionField[]; advanced: OptionField[] } = {
  main: [...EXTRACTION_OPTIONS.values()].filter((field) => !field.advanced),
  advanced: [...EXTRACTION_OPTIONS.values()].filter((field) => field.advanced),
};

/**
 * The detector setting as a choice among the detectors the engine has (engine.info's registry names), keeping the
 * saved name when the engine lacks it (a plug-in not installed here) so that saving does not change it unasked.
 * Without the engine's list (an older engine) it stays a text field.
 */
export function withDetectorChoices(
  field: OptionField,
  available: readonly string[] | undefined,
  current: string,
): OptionField {
  if (field.key !== 'detector' || !available?.length) return field;
  const names = available.includes(current) || !current ? [...available] : [...available, current];
  return {
    ...field,
    kind: 'choice',
    choices: names.map((name) => ({ value: name, label: available.includes(name) ? name : `${name} (not here)` })),
  };
}

export function extractionForm(settings: ExtractionSettings): ExtractionForm {
  return { ...settings };
}

/** What is wrong with each number, in the options' own words (numberProblem). */
export function extractionErrors(form: ExtractionForm): ExtractionErrors {
  const errors: ExtractionErrors = {};
  for (const field of EXTRACTION_OPTIONS.values()) {
    if (field.kind !== 'integer' && field.kind !== 'number') continue;
    const key = field.key as ExtractionKey;
    const problem = inputProblem(field, form[key]);
    if (problem) errors[key] = problem;
  }
  return errors;
}

/** An input's value as the settings hold it: a switch or a text as it is, a number (null while empty). */
function valueOf(value: unknown): unknown {
  return typeof value === 'boolean' || typeof value === 'string' ? value : numberOf(value);
}

/** The settings a valid form says (for project.updateSettings), or null while a field is wrong. */
export function extractionPatch(form: ExtractionForm): ExtractionSettings | null {
  if (Object.keys(extractionErrors(form)).length > 0) return null;
  const candidate: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(form)) candidate[key] = valueOf(value);
  const parsed = ExtractionSettings.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}

/** Whether the form says the same as the saved settings. */
export function sameExtraction(form: ExtractionForm, saved: ExtractionSettings): boolean {
  return (Object.keys(saved) as ExtractionKey[]).every((key) => Object.is(valueOf(form[key]), saved[key]));
}
