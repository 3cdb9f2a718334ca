// The first admin API token: on first start (and whenever the kept one no
// longer works) the manager creates an admin token and writes it to
// <dataDir>/admin-token, readable only by its own user. Admins create the
// others through the API (`metalfleet tokens create`).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiTokens } from '@metalfleet/fleet';

export async function ensureAdminTokenFile(dataDir: string, tokens: ApiTokens): Promise<{ file: string; created: boolean }> {
  const file = join(dataDir, 'admin-token');
  if (existsSync(file) && (await tokens.adminStillUsable(readFileSync(file, 'utf8').trim()))) return { file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const { token } = await tokens.create({ name: 'first admin (written to <dataDir>/admin-token)', role: 'admin', tenantId: null, ttlSeconds: null });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, created: true };
}
