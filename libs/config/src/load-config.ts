// Config from defaults, an optional file (YAML or JSON), METALFLEET_* environment
// variables and command-line flags, in rising precedence; validated once
// against the app's schema, then frozen. Apps call this from main.ts only.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Static, TObject } from 'typebox';
import { Value } from 'typebox/value';

export interface ConfigSources {
  /** Flags given on the command line (only those the user actually set). */
  flags: Record<string, unknown>;
  /** Usually process.env; only variables starting with envPrefix are read. */
  env: Record<string, string | undefined>;
  envPrefix: string;
  /** Optional YAML/JSON file whose keys are the config keys. */
  file?: string | undefined;
  /** Values below all of the above, e.g. from the kernel command line, with where they came from. */
  base?: { values: Record<string, unknown>; origin: string } | undefined;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** camelCase key -> PREFIX_SNAKE_CASE variable, e.g. httpPort -> METALFLEET_HTTP_PORT. */
export function envName(prefix: string, key: string): string {
  return prefix + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** camelCase key -> kebab-case flag, e.g. httpPort -> http-port. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`config file ${path}: ${(error as Error).message}`]);
  }
  const parsed: unknown = parseYaml(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`config file ${path}: expected a mapping of keys to values`]);
  return parsed as Record<string, unknown>;
}

export function loadConfig<S extends TObject>(schema: S, sources: ConfigSources): Readonly<Static<S>> {
  const keys = Object.keys(schema.properties);
  const origin = new Map<string, string>();
  const merged: Record<string, unknown> = {};

  const layer = (values: Record<string, unknown>, describe: (key: string) => string) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      merged[key] = value;
      origin.set(key, describe(key));
    }
  };

  const problems: string[] = [];
  if (sources.base) layer(sources.base.values, () => sources.base?.origin ?? '');
  if (sources.file) {
    const fromFile = readFile(sources.file);
    for (const key of Object.keys(fromFile)) if (!keys.includes(key)) problems.push(`${key}: unknown key in ${sources.file}`);
    layer(fromFile, () => sources.file ?? '');
  }
  const fromEnv: Record<string, unknown> = {};
  for (const key of keys) fromEnv[key] = sources.env[envName(sources.envPrefix, key)];
  layer(fromEnv, (key) => envName(sources.envPrefix, key));
  layer(sources.flags, (key) => `--${flagName(key)}`);

  const withDefaults = Value.Default(schema, Value.Convert(schema, merged));
  for (const error of Value.Errors(schema, withDefaults)) {
    const key = error.instancePath.replace(/^\//, '').split('/')[0] ?? '';
    const from = origin.get(key);
    problems.push(`${key || '(root)'}: ${error.message}${from ? ` (from ${from})` : ''}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(withDefaults as Static<S>);
}
