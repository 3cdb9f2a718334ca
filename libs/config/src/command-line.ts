// Turning a config schema into command-line flags (with --help text from the
// schema's descriptions) and parsing them: every app's options stay in one
// schema, and --help always lists all of them.
import { Option, type Command } from 'commander';
import type { TObject } from 'typebox';
import { flagName, loadConfig, type ConfigParsers, type ParsedConfig } from './load-config.ts';

/**
 * Adds `--config <file>` and one `--kebab-case <value>` flag per schema key to the
 * program, parses argv, and loads the config (flags > METALFLEET_* env > file > defaults).
 */
export function parseConfigFlags<S extends TObject, P extends ConfigParsers<S> = Record<never, never>>(
  program: Command,
  schema: S,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  parsers?: P,
): ParsedConfig<S, P> {
  addConfigOptions(program, schema);
  program.parse(argv, { from: 'user' });
  return readConfig(program, schema, env, undefined, parsers);
}

/** Adds `--config <file>` and one flag per schema key to a command (or subcommand). */
export function addConfigOptions<S extends TObject>(command: Command, schema: S): Command {
  command.option('-c, --config <file>', 'YAML or JSON file with any of the options below (camelCase keys)');
  for (const [key, property] of Object.entries(schema.properties)) {
    const { description = '', default: fallback } = property as { description?: string; default?: unknown };
    command.addOption(new Option(`--${flagName(key)} <value>`, `${description} (default: ${JSON.stringify(fallback)})`));
  }
  return command;
}

/** The config after the command was parsed: its flags > METALFLEET_* env > --config file > defaults. */
export function readConfig<S extends TObject, P extends ConfigParsers<S> = Record<never, never>>(
  program: Command, schema: S, env: Record<string, string | undefined>, base?: { values: Record<string, unknown>; origin: string }, parsers?: P,
): ParsedConfig<S, P> {
  const options = program.opts<Record<string, unknown>>();
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    if (program.getOptionValueSource(key) === 'cli') flags[key] = options[key];
  }
  return loadConfig(schema, { flags, env, envPrefix: 'METALFLEET_', file: options['config'] as string | undefined, base }, parsers);
}
