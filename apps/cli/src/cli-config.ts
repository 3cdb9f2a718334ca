// Where the CLI finds the manager, its token and the CA it trusts the
// manager's HTTPS certificate with: --manager/--token/--ca-file, then
// METALFLEET_MANAGER/METALFLEET_TOKEN/METALFLEET_CA_FILE, then what
// `metalfleet login` saved in $XDG_CONFIG_HOME/metalfleet/config.json (mode 600;
// the CA is saved as PEM, so the file it came from may move).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
// The two light parts of the config library: the whole of it would add half a second to every command.
import { ConfigError } from '@metalfleet/config/config-error';
import { optionalHttpUrl } from '@metalfleet/config/value-parsers';

export interface CliSettings {
  manager: string;
  token: string;
  /** PEM of the CA the manager's certificate is verified with; '' for the system's CAs only. */
  ca: string;
}

export const defaultManager = 'https://127.0.0.1:7470';

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'metalfleet', 'config.json');
}

export function readSaved(env: NodeJS.ProcessEnv = process.env): Partial<CliSettings> {
  const file = configFile(env);
  if (!existsSync(file)) return {};
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<CliSettings>;
    return {
      ...(typeof saved.manager === 'string' ? { manager: saved.manager } : {}), ...(typeof saved.token === 'string' ? { token: saved.token } : {}),
      ...(typeof saved.ca === 'string' ? { ca: saved.ca } : {}),
    };
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

/** The manager's URL, checked before any call: a bad one is a usage error naming where it came from. */
function managerUrl(url: string, from: string): string {
  // host:port without a scheme (what `manager ready` used to print): say which URL was meant.
  if (url.trim() !== '' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url.trim())) {
    throw new ConfigError([`${from}: "${url}" has no scheme: the manager serves its API over HTTPS, e.g. https://${url.trim()} (http:// where it runs with --http-tls false)`]);
  }
  try {
    const checked = optionalHttpUrl(url);
    if (checked === '') throw new Error('is empty');
    return checked;
  } catch (error) {
    throw new ConfigError([`${from}: ${(error as Error).message}`]);
  }
}

/** Flags win over the environment, the environment over the saved login; a bad URL or CA file throws ConfigError. */
export function resolveSettings(flags: { manager?: string | undefined; token?: string | undefined; caFile?: string | undefined }, env: NodeJS.ProcessEnv = process.env): CliSettings {
  const saved = readSaved(env);
  const caFrom = flags.caFile !== undefined ? '--ca-file' : 'METALFLEET_CA_FILE';
  const caFile = flags.caFile ?? env['METALFLEET_CA_FILE'];
  const manager = flags.manager !== undefined ? managerUrl(flags.manager, '--manager')
    : env['METALFLEET_MANAGER'] !== undefined ? managerUrl(env['METALFLEET_MANAGER'], 'METALFLEET_MANAGER')
      : managerUrl(saved.manager ?? defaultManager, `manager (in ${configFile(env)})`);
  return {
    manager,
    token: flags.token ?? env['METALFLEET_TOKEN'] ?? saved.token ?? '',
    ca: caFile !== undefined && caFile !== '' ? readCaFile(caFile, caFrom) : saved.ca ?? '',
  };
}

function readCaFile(file: string, from: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${from}: cannot read the CA file ${file}: ${(error as Error).message}`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`${from}: ${file} is not a PEM certificate (the manager's is <dataDir>/pki/ca.crt)`]);
  return pem;
}
