// The bootstrap token agents register with. Until operators manage tokens
// through the API, the manager uses the configured one or creates one on first
// start in <dataDir>/bootstrap-token, readable only by its own user.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSecret } from '@metalfleet/fleet';

export function ensureBootstrapToken(dataDir: string, configured: string): { token: string; file: string | null; created: boolean } {
  if (configured !== '') return { token: configured, file: null, created: false };
  const file = join(dataDir, 'bootstrap-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token !== '') return { token, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = newSecret();
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, created: true };
}
