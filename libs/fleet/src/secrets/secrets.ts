// Node credentials: random, shown to the node once, stored only as a hash.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The public half of a token (`mfat.<id>.…`, `mfbt.<id>.…`), which an operator types or pastes as a
 * command-line argument (`metalfleet tokens revoke <id>`): hex, so it never begins with '-'. A base64url
 * id did one time in 64, and the CLI took it for an option.
 */
export function newTokenId(): string {
  return randomBytes(9).toString('hex');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Credentials are 256 random bits, so a fast hash is enough (no password stretching needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(expectedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
