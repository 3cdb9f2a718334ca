// Flag values checked here, before anything is sent: a value the API would
// refuse (or, worse, read as something else: `--priority high` was sent as 0)
// is a usage error (exit 2) that says what is allowed. The allowed values come
// from the API's own schemas, so the CLI and the manager never disagree.
import { InvalidArgumentError, Option } from 'commander';

interface Bounds { minimum?: number; maximum?: number }

/** A whole number within an integer schema's bounds (the integer member of a nullable one). */
export function integerIn(integerSchema: unknown) {
  const members = (integerSchema as { anyOf?: unknown[] }).anyOf ?? [integerSchema];
  const schema = (members.find((m) => (m as { type?: string }).type === 'integer') ?? {}) as Bounds;
  const min = schema.minimum ?? Number.MIN_SAFE_INTEGER;
  const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
  return (text: string): number => {
    const value = Number(text);
    if (!/^\s*[-+]?\d+\s*$/.test(text) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a whole number${schema.minimum !== undefined || schema.maximum !== undefined ? ` from ${min} to ${max}` : ''}`);
    }
    return value;
  };
}

/** The values an enum schema allows (TypeBox's Type.Enum: `{ enum: [...] }`). */
export function allowedValues(schema: unknown): string[] {
  const values = (schema as { enum?: unknown[] }).enum;
  if (!Array.isArray(values)) throw new Error('not an enum schema');
  return values.map(String);
}

/** An option whose value must be one of an enum schema's, listed in --help and in the error. */
export function choiceOption(flags: string, description: string, schema: unknown, defaultValue?: string): Option {
  const option = new Option(flags, description).choices(allowedValues(schema));
  return defaultValue === undefined ? option : option.default(defaultValue);
}
