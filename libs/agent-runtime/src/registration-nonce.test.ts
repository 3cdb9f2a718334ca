import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forgetRegistrationNonce, registrationNonce } from './registration-nonce.ts';

describe('registration nonce', () => {
  it('is the same on every try of one registration, also after a restart, and kept readable only by its owner', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-nonce-'));
    const nonce = registrationNonce(dir, 'mfbt.token-a');
    expect(nonce).toMatch(/^[\w-]{43}$/);
    expect(registrationNonce(dir, 'mfbt.token-a')).toBe(nonce);
    expect(statSync(join(dir, 'registration-nonce.json')).mode & 0o777).toBe(0o600);
    // Only a hash of the token is kept beside it.
    expect(readFileSync(join(dir, 'registration-nonce.json'), 'utf8')).not.toContain('token-a');
  });

  it('is new for another token, and after the credential was saved, so no two registrations share one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-nonce-'));
    const first = registrationNonce(dir, 'mfbt.token-a');
    const other = registrationNonce(dir, 'mfbt.token-b');
    expect(other).not.toBe(first);
    forgetRegistrationNonce(dir);
    expect(readdirSync(dir)).toEqual([]);
    expect(registrationNonce(dir, 'mfbt.token-b')).not.toBe(other);
  });

  it('treats a damaged file as none kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-nonce-'));
    writeFileSync(join(dir, 'registration-nonce.json'), '{"token":"ab');
    expect(registrationNonce(dir, 'mfbt.token-a')).toMatch(/^[\w-]{43}$/);
  });
});
