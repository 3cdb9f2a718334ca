// The node credential, kept in the state directory (mode 600) so a restarted
// agent re-registers as the same node without spending a bootstrap token.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SavedCredential {
  nodeId: string;
  credential: string;
}

export function readCredential(stateDir: string): SavedCredential | null {
  const file = join(stateDir, 'credential.json');
  if (!existsSync(file)) return null;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<SavedCredential>;
    return typeof saved.nodeId === 'string' && typeof saved.credential === 'string' ? { nodeId: saved.nodeId, credential: saved.credential } : null;
  } catch {
    return null;
  }
}

export function writeCredential(stateDir: string, saved: SavedCredential): void {
  // Written aside and renamed over: a crash mid-write never leaves half a credential.
  const file = join(stateDir, 'credential.json');
  writeFileSync(`${file}.new`, JSON.stringify(saved), { mode: 0o600 });
  renameSync(`${file}.new`, file);
}

/** A reimage rewrites the disk: the credential goes with it, and the new image registers with its boot token. */
export function forgetCredential(stateDir: string): void {
  rmSync(join(stateDir, 'credential.json'), { force: true });
}
