// A data file the app reads at start besides its config (the alert rules):
// YAML or JSON, checked against a schema, every problem named with where it is.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ConfigError } from './load-config.ts';

export function loadDataFile<S extends TSchema>(path: string, schema: S): Static<S> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${path}: ${(error as Error).message}`]);
  }
  const problems = [...Value.Errors(schema, parsed)].map((e) => `${path}: ${e.instancePath || '(top)'}: ${e.message}`);
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as Static<S>;
}
