import { describeOptions, numberProblem, type OptionField } from '../../../src-shared/contract/index.js';

/**
 * The studio's forms draw each option from its one declaration (src-shared/contract/options.ts): label, help, unit,
 * range, step and choices come from the schema and OPTION_INFO. The renderer adds only what is UI: which group a
 * field sits in, its order and its widget.
 */
export type { OptionField };

/** The options of a settings schema, by key. */
export function optionsByKey(schema: Parameters<typeof describeOptions>[0]): ReadonlyMap<string, OptionField> {
  return new Map(describeOptions(schema).map((field) => [field.key, field]));
}

/** One option of a schema; throws when the key is not one of its fields (a typo in a form's layout). */
export function optionOf(options: ReadonlyMap<string, OptionField>, key: string): OptionField {
  const field = options.get(key);
  if (!field) throw new Error(`no option ${key}`);
  return field;
}

/** The input's value as a number; null when empty (a number input binds empty as null or undefined). */
export function numberOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * What is wrong with a number field's input, in the option's own words (numberProblem); null when it fits. `empty`
 * says whether an empty input is fine (an optional field, or one whose empty input means a default).
 */
export function inputProblem(field: OptionField, raw: unknown, empty = field.optional): string | null {
  const value = numberOf(raw);
  if (value === null) return empty ? null : numberProblem({ ...field, optional: false }, null);
  return numberProblem(field, value);
}

/** A number's step in its input: the option's own, else 1 for whole numbers, else "any". */
export function stepOf(field: OptionField): number | 'any' {
  return field.step ?? (field.kind === 'integer' ? 1 : 'any');
}

/** A bound, short enough to sit beside a label: 1000000 -> "1M", 20000 -> "20k"; below 10,000 as it is. */
export function compactNumber(value: number): string {
  if (Math.abs(value) < 10_000) return String(value);
  for (const [size, suffix] of [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    const scaled = value / size;
    if (Math.abs(scaled) >= 1 && Number.isInteger(scaled * 10)) return `${scaled}${suffix}`;
  }
  return String(value);
}

/** The short range shown beside a label: "0 – 1", "1 – 1M", "> 0", "≥ 0 px²", "" when unbounded. */
export function rangeHint(field: OptionField): string {
  const unit = field.unit ? ` ${field.unit}` : '';
  const { min, max, exclusiveMin } = field;
  if (min !== undefined && max !== undefined) return `${compactNumber(min)} – ${compactNumber(max)}${unit}`;
  if (min !== undefined) return `${exclusiveMin ? '>' : '≥'} ${compactNumber(min)}${unit}`;
  if (max !== undefined) return `≤ ${compactNumber(max)}${unit}`;
  return unit.trim();
}

/** The label of one of an option's choices ("A → B: A wears B’s face"); the value itself when it has none. */
export function choiceLabel(field: OptionField, value: unknown): string {
  return field.choices?.find((choice) => choice.value === value)?.label ?? String(value);
}

/** The input's min attribute: only an inclusive minimum (a "more than" bound is checked, not enforced). */
export function inputMin(field: OptionField): number | undefined {
  return field.exclusiveMin ? undefined : field.min;
}
