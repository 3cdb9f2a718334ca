// The first bootstrap token: so that a new manager (and `npm start`) has a
// token to hand to agents, the manager keeps a usable one in
// <dataDir>/bootstrap-token, readable only by its own user, and replaces it
// when it has expired or been revoked. Operators create others through the API.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootstrapTokens } from '@metalfleet/fleet';

export async function ensureBootstrapTokenFile(dataDir: string, tokens: BootstrapTokens, ttlHours: number): Promise<{ file: string; created: boolean }> {
  const file = join(dataDir, 'bootstrap-token');
  if (existsSync(file) && (await tokens.stillUsable(readFileSync(file, 'utf8').trim()))) return { file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const { token } = await tokens.create({ description: 'written to <dataDir>/bootstrap-token at start', ttlSeconds: ttlHours * 3600, maxUses: null });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, created: true };
}
