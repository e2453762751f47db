import { z } from 'zod';

/**
 * What a user sees of an option, declared once beside its schema (settings.ts) as FaceFusion's choices: the CLI's
 * flags, the studio's forms and their checks all derive from the schema and this.
 */
export interface OptionInfo {
  /** Short name in the studio ("Batch size"). */
  label: string;
  /** One or two sentences: what it does and when to change it; the CLI's help and the form's hint. */
  help: string;
  unit?: string;
  /** A number input's step (the schema's integer flag gives 1). */
  step?: number;
  /** For experts; forms show it in an "advanced" part. */
  advanced?: boolean;
  /** Changing it changes the model's shape (a new training run). */
  modelShape?: boolean;
  /** Labels of an enum's or a union's values, where the value itself is not the word to show. */
  choiceLabels?: Readonly<Record<string, string>>;
  /** The CLI flag without its dashes, where it differs from the key (kebab-case of a camelCase key). */
  flag?: string;
  /** Not a CLI flag (set by a command of its own, or not meant for the command line). */
  noFlag?: boolean;
}

/** The registry the settings' fields register in: `schema.register(OPTION_INFO, { label, help })`. */
export const OPTION_INFO = z.registry<OptionInfo>();

export type OptionKind = 'integer' | 'number' | 'boolean' | 'choice' | 'text' | 'json';

export interface OptionChoice {
  value: string | number;
  label: string;
}

/** One option, as derived from its schema and info: enough to draw a form field, a CLI flag and check a value. */
export interface OptionField extends OptionInfo {
  key: string;
  kind: OptionKind;
  /** Inclusive bounds of a number (exclusiveMin for "more than"). */
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  /** An enum's values, or a union's literals (threads: 'auto' beside a number). */
  choices?: OptionChoice[];
  /** The value the schema fills in; undefined where the field is optional without a default. */
  defaultValue: unknown;
  /** May be left out (no default). */
  optional: boolean;
}

type AnySchema = z.core.$ZodType;

function defOf(schema: AnySchema): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

/** The schema under default/optional/prefault/preprocess wrappers, with what the wrappers said. */
function unwrap(schema: AnySchema): { inner: AnySchema; defaultValue: unknown; optional: boolean } {
  let inner = schema;
  let defaultValue: unknown = undefined;
  let optional = false;
  for (;;) {
    const def = defOf(inner);
    if (def.type === 'default' || def.type === 'prefault') {
      defaultValue = (def as unknown as { defaultValue: unknown }).defaultValue;
      inner = (def as unknown as { innerType: AnySchema }).innerType;
    } else if (def.type === 'optional' || def.type === 'nullable') {
      optional = true;
      inner = (def as unknown as { innerType: AnySchema }).innerType;
    } else if (def.type === 'pipe') {
      // A preprocess (accepted spellings) in front of the real type: the output side is the option.
      const { in: input, out } = def as unknown as { in: AnySchema; out: AnySchema };
      inner = defOf(input).type === 'transform' ? out : input;
    } else return { inner, defaultValue, optional };
  }
}

/** A number schema's bounds from its checks (min/max/positive/int). */
function numberBounds(schema: AnySchema): { integer: boolean; min?: number; max?: number; exclusiveMin?: boolean } {
  const out: { integer: boolean; min?: number; max?: number; exclusiveMin?: boolean } = { integer: false };
  for (const check of (defOf(schema).checks ?? []) as z.core.$ZodCheck[]) {
    const def = check._zod.def as unknown as { check: string; value?: number; inclusive?: boolean; format?: string };
    if (def.check === 'greater_than' && def.value !== undefined) {
      out.min = def.value;
      if (def.inclusive === false) out.exclusiveMin = true;
    } else if (def.check === 'less_than' && def.value !== undefined) out.max = def.value;
    else if (def.check === 'number_format' && (def.format === 'safeint' || def.format === 'int32')) {
      out.integer = true;
      // z.int() also bounds to the safe integers: not a bound a user needs to see.
    }
  }
  return out;
}

function literalValues(schema: AnySchema): Array<string | number> | null {
  const def = defOf(schema);
  if (def.type === 'literal') return [...(def as unknown as { values: Array<string | number> }).values];
  if (def.type === 'enum') return Object.values((def as unknown as { entries: Record<string, string> }).entries);
  return null;
}

/** The field of one option: its kind, bounds and choices from the schema, its words from OPTION_INFO. */
export function describeOption(key: string, schema: AnySchema): OptionField {
  const info = OPTION_INFO.get(schema as z.ZodType) ?? { label: key, help: '' };
  const { inner, defaultValue, optional } = unwrap(schema);
  const base = { ...info, key, defaultValue, optional };
  const choiceOf = (value: string | number): OptionChoice => ({
    value,
    label: info.choiceLabels?.[String(value)] ?? String(value),
  });
  const def = defOf(inner);
  switch (def.type) {
    case 'boolean':
      return { ...base, kind: 'boolean' };
    case 'string':
      return { ...base, kind: 'text' };
    case 'number': {
      const bounds = numberBounds(inner);
      return { ...base, kind: bounds.integer ? 'integer' : 'number', ...bounds };
    }
    case 'enum':
    case 'literal':
      return { ...base, kind: 'choice', choices: (literalValues(inner) ?? []).map(choiceOf) };
    case 'union': {
      // Literals (64 | 128 | 256), or literals beside one number ('auto' | 1..64): choices, plus the number's bounds.
      const options = (def as unknown as { options: AnySchema[] }).options;
      const literals = options.flatMap((o) => literalValues(o) ?? []);
      const numbers = options.filter((o) => defOf(o).type === 'number');
      if (numbers.length === 0) return { ...base, kind: 'choice', choices: literals.map(choiceOf) };
      const bounds = numberBounds(numbers[0] as AnySchema);
      return { ...base, kind: bounds.integer ? 'integer' : 'number', ...bounds, choices: literals.map(choiceOf) };
    }
    default:
      return { ...base, kind: 'json' };
  }
}

/** Every option of a settings object, in declaration order. */
export function describeOptions(schema: z.ZodObject): OptionField[] {
  return Object.entries(schema.shape).map(([key, field]) => describeOption(key, field as AnySchema));
}

/** The words that say a number's range ("1 to 256", "more than 0", "0 or more"), for help and errors. */
export function rangeText(field: OptionField): string {
  const { min, max, exclusiveMin } = field;
  if (min !== undefined && max !== undefined) return `${min} to ${max}`;
  if (min !== undefined) return exclusiveMin ? `more than ${min}` : `${min} or more`;
  if (max !== undefined) return `at most ${max}`;
  return 'any number';
}

/**
 * What is wrong with a number typed into a form or on the command line, in words; null when it fits. Empty (null)
 * fits only an optional field.
 */
export function numberProblem(field: OptionField, value: number | null): string | null {
  if (value === null) return field.optional ? null : `${field.label} is needed`;
  if (!Number.isFinite(value)) return `${field.label} must be a number`;
  if (field.kind === 'integer' && !Number.isInteger(value)) return `${field.label} must be a whole number`;
  const below = field.min !== undefined && (field.exclusiveMin ? value <= field.min : value < field.min);
  const above = field.max !== undefined && value > field.max;
  return below || above ? `${field.label} must be ${rangeText(field)}` : null;
}
