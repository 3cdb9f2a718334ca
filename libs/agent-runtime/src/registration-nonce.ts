// The secret nonce of one registration, kept in the state directory (mode 600)
// from its first try until the agent has saved the credential it was given: a
// try whose reply was lost is answered again by the manager only to the same
// nonce, also after this agent restarted. It is bound to the token it was made
// for (by a hash of the token), so another registration never reuses it.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const fileName = 'registration-nonce.json';

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex');

/** The nonce of the registration with this token: the one kept for it, or a new one (kept before it is first sent). */
export function registrationNonce(stateDir: string, token: string): string {
  const file = join(stateDir, fileName);
  try {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { token?: unknown; nonce?: unknown };
    if (kept.token === fingerprint(token) && typeof kept.nonce === 'string' && kept.nonce.length >= 32) return kept.nonce;
  } catch {
    // None kept, or unreadable: a new registration.
  }
  const nonce = randomBytes(32).toString('base64url');
  // Written aside and renamed over: a crash mid-write never leaves half a nonce (nor a leftover file's looser mode).
  rmSync(`${file}.new`, { force: true });
  writeFileSync(`${file}.new`, JSON.stringify({ token: fingerprint(token), nonce }), { mode: 0o600 });
  renameSync(`${file}.new`, file);
  return nonce;
}

/** The credential is saved: this registration is over, and its nonce is never sent again. */
export function forgetRegistrationNonce(stateDir: string): void {
  rmSync(join(stateDir, fileName), { force: true });
}
