// Where the CLI finds the manager and its token: --manager/--token, then
// METALFLEET_MANAGER/METALFLEET_TOKEN, then what `metalfleet login` saved in
// $XDG_CONFIG_HOME/metalfleet/config.json (mode 600).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliSettings {
  manager: string;
  token: string;
}

export const defaultManager = 'http://127.0.0.1:7470';

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'metalfleet', 'config.json');
}

export function readSaved(env: NodeJS.ProcessEnv = process.env): Partial<CliSettings> {
  const file = configFile(env);
  if (!existsSync(file)) return {};
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<CliSettings>;
    return { ...(typeof saved.manager === 'string' ? { manager: saved.manager } : {}), ...(typeof saved.token === 'string' ? { token: saved.token } : {}) };
  } catch {
    throw new Error(`${file} is not valid JSON; run metalfleet login again`);
  }
}

export function save(settings: CliSettings, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Flags win over the environment, the environment over the saved login. */
export function resolveSettings(flags: { manager?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): CliSettings {
  const saved = readSaved(env);
  return {
    manager: flags.manager ?? env['METALFLEET_MANAGER'] ?? saved.manager ?? defaultManager,
    token: flags.token ?? env['METALFLEET_TOKEN'] ?? saved.token ?? '',
  };
}
