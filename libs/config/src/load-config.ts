// Config from defaults, an optional file (YAML or JSON), METALFLEET_* environment
// variables and command-line flags, in rising precedence; validated once
// against the app's schema, structured values (lists, ranges, windows) parsed
// by the app's parsers, then frozen. Apps call this from main.ts only, so a bad
// value stops the app before it writes anything, and nothing parses a value twice.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Static, TObject } from 'typebox';
import { Value } from 'typebox/value';
import { ConfigError } from './config-error.ts';

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

export { ConfigError };

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

/**
 * Per key, a function from the schema-checked value to its parsed form; it
 * throws an Error whose message says what is wrong (the option's name is put
 * in front of it).
 */
export type ConfigParsers<S extends TObject> = { readonly [K in keyof Static<S>]?: (value: Static<S>[K]) => unknown };

/** The config with each parsed key holding what its parser returned. */
export type ParsedConfig<S extends TObject, P extends ConfigParsers<S>> = Readonly<
  Omit<Static<S>, keyof P> & { [K in keyof P]: P[K] extends (value: never) => infer R ? R : never }
>;

export function loadConfig<S extends TObject, P extends ConfigParsers<S> = Record<never, never>>(
  schema: S, sources: ConfigSources, parsers?: P,
): ParsedConfig<S, P> {
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
  if (sources.base) layer(sources.base.values, (key) => `${key} (from ${sources.base?.origin ?? ''})`);
  if (sources.file) {
    const fromFile = readFile(sources.file);
    for (const key of Object.keys(fromFile)) if (!keys.includes(key)) problems.push(`${key}: unknown key in ${sources.file}`);
    layer(fromFile, (key) => `${key} (in ${sources.file ?? ''})`);
  }
  const fromEnv: Record<string, unknown> = {};
  for (const key of keys) fromEnv[key] = sources.env[envName(sources.envPrefix, key)];
  layer(fromEnv, (key) => envName(sources.envPrefix, key));
  layer(sources.flags, (key) => `--${flagName(key)}`);
  // The option as the operator wrote it: the flag, the variable, or the key in the file.
  const option = (key: string) => origin.get(key) ?? `--${flagName(key)}`;

  const withDefaults = Value.Default(schema, Value.Convert(schema, merged)) as Record<string, unknown>;
  const invalid = new Set<string>();
  for (const error of Value.Errors(schema, withDefaults)) {
    const key = error.instancePath.replace(/^\//, '').split('/')[0] ?? '';
    invalid.add(key);
    problems.push(`${key ? option(key) : '(root)'}: ${error.message}`);
  }
  const config: Record<string, unknown> = { ...withDefaults };
  for (const [key, parse] of Object.entries(parsers ?? {}) as Array<[string, ((value: unknown) => unknown) | undefined]>) {
    if (!parse || invalid.has(key)) continue;
    try {
      config[key] = parse(withDefaults[key]);
    } catch (error) {
      problems.push(`${option(key)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as ParsedConfig<S, P>;
}
