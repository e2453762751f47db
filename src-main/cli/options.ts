import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { describeOptions, rangeText, type OptionField } from '../../src-shared/contract/index.js';
import { usageError } from './output.js';

/**
 * CLI flags derived from a settings schema (the options' labels, help, ranges and choices are declared once, in
 * src-shared/contract/settings.ts). Values are checked by the field's own schema, so the CLI accepts exactly what
 * the contract does (a segmentation's older names, any case) and says what was wrong before any work starts.
 */
export interface FlagSet {
  fields: OptionField[];
  /** A field's flag, without dashes. */
  flagOf(field: OptionField): string;
  /** The contract path its values go to, for errors ("params.job.overrides"). */
  fieldPath: string;
  schema: z.ZodObject;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The flags of a settings object. `naming` 'kebab' turns batchSize into --batch-size; 'key' keeps the key (the
 * converter's flags are the original's own names: --color_correction).
 */
export function flagSet(schema: z.ZodObject, naming: 'kebab' | 'key', fieldPath: string): FlagSet {
  const fields = describeOptions(schema).filter((field) => !field.noFlag);
  return {
    fields,
    flagOf: (field) => field.flag ?? (naming === 'kebab' ? kebab(field.key) : field.key),
    fieldPath,
    schema,
  };
}

function defaultText(field: OptionField): string {
  if (field.defaultValue === undefined) return '';
  const value = field.defaultValue;
  const shown = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `default ${shown}`;
}

function helpOf(field: OptionField): string {
  const facts: string[] = [];
  if (field.kind === 'integer' || field.kind === 'number')
    facts.push(`${rangeText(field)}${field.unit ? ` ${field.unit}` : ''}`);
  if (field.choices?.length) {
    // Short lists say what each value means where its label says more than the value (AtoB: A -> B: A wears ...).
    const explained = field.choices.length <= 6 && field.choices.some((c) => c.label !== String(c.value));
    facts.push(
      field.choices
        .map((c) => (explained && c.label !== String(c.value) ? `${c.value}: ${c.label}` : String(c.value)))
        .join(explained ? '; ' : ' | ')
        .replaceAll('→', '->'),
    );
  }
  const fallback = defaultText(field);
  if (fallback) facts.push(fallback);
  const advanced = field.advanced ? 'advanced: ' : '';
  return `${advanced}${field.label}. ${field.help}${facts.length ? ` (${facts.join('; ')})` : ''}`;
}

/** The value a flag's text stands for, checked by the field's schema; a usage error naming the flag otherwise. */
function parseValue(set: FlagSet, field: OptionField, text: string): unknown {
  const flag = `--${set.flagOf(field)}`;
  let value: unknown = text;
  if (field.kind === 'json') {
    try {
      value = JSON.parse(text);
    } catch {
      throw usageError(`${flag} takes JSON (got ${JSON.stringify(text)})`, `${set.fieldPath}.${field.key}`);
    }
  } else if (field.choices?.some((c) => c.value === text)) value = text;
  else if (
    field.kind === 'integer' ||
    field.kind === 'number' ||
    field.choices?.some((c) => typeof c.value === 'number')
  )
    value = text.trim() === '' ? Number.NaN : Number(text);
  const schema = set.schema.shape[field.key] as z.ZodType;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const allowed = field.choices?.length
    ? `one of ${field.choices.map((c) => c.value).join(', ')}${field.kind === 'choice' ? '' : ` or ${rangeText(field)}`}`
    : field.kind === 'integer'
      ? `a whole number, ${rangeText(field)}`
      : field.kind === 'number'
        ? `a number, ${rangeText(field)}`
        : (parsed.error.issues[0]?.message ?? 'another value');
  throw usageError(`${flag} must be ${allowed} (got ${JSON.stringify(text)})`, `${set.fieldPath}.${field.key}`);
}

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

function parseBoolean(set: FlagSet, field: OptionField, flag: string, text: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw usageError(
    `--${flag} takes true or false, or nothing (got ${JSON.stringify(text)})`,
    `${set.fieldPath}.${field.key}`,
  );
}

/** Adds the set's flags to a command: a value flag each, booleans as --flag and --no-flag. */
export function addFlags(command: Command, set: FlagSet): Command {
  for (const field of set.fields) {
    const flag = set.flagOf(field);
    if (field.kind === 'boolean') {
      const on = field.defaultValue === true ? ' (the default)' : '';
      const off = field.defaultValue === false ? ' (the default)' : '';
      // An optional value too, as the original's config writes it (use_kalman_filter=True): --flag false.
      command.addOption(
        new Option(`--${flag} [bool]`, `${field.label}: on${on}. ${field.help}`).argParser((text: string) =>
          parseBoolean(set, field, flag, text),
        ),
      );
      command.addOption(new Option(`--no-${flag}`, `${field.label}: off${off}`));
      continue;
    }
    const placeholder = field.kind === 'json' ? 'json' : field.kind === 'choice' ? 'choice' : 'n';
    command.addOption(
      new Option(`--${flag} <${placeholder}>`, helpOf(field)).argParser((text: string) => parseValue(set, field, text)),
    );
  }
  return command;
}

/** The values the user gave, keyed by the settings' own keys (what was not given is left out). */
export function valuesFromFlags(command: Command, set: FlagSet): Record<string, unknown> {
  const opts = command.opts();
  const values: Record<string, unknown> = {};
  for (const field of set.fields) {
    const option = command.options.find((o) => o.long === `--${set.flagOf(field)}`);
    if (!option) continue;
    // Boolean pairs share one attribute; without either flag it is undefined (commander sets no default for pairs).
    const value = opts[option.attributeName()] as unknown;
    if (value !== undefined) values[field.key] = value;
  }
  return values;
}
