import { describe, expect, it } from 'vitest';
import { bootstrapTokenState, formatBootstrapToken, parseBootstrapToken, type BootstrapTokenRecord } from './bootstrap-token.ts';

const now = new Date('2026-11-21T10:00:00Z');
const record = (p: Partial<BootstrapTokenRecord>): BootstrapTokenRecord => ({
  id: 'abc123', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: '', secretHash: 'h', createdAt: now, expiresAt: new Date(now.getTime() + 3600_000), revokedAt: null, maxUses: null, uses: 0, ...p,
});

describe('bootstrap tokens', () => {
  it('round-trips with and without the CA fingerprint', () => {
    const pin = 'a'.repeat(64);
    expect(parseBootstrapToken(formatBootstrapToken('abc123', 's'.repeat(43), pin))).toEqual({ id: 'abc123', secret: 's'.repeat(43), caFingerprint: pin });
    expect(parseBootstrapToken(formatBootstrapToken('abc123', 's'.repeat(43), null))).toEqual({ id: 'abc123', secret: 's'.repeat(43), caFingerprint: null });
  });

  it.each(['', 'hunter2', 'mfbt.ab.short', `mfbt.abc123.${'s'.repeat(43)}.nothex`, `mfbt.abc 123.${'s'.repeat(43)}`])('refuses malformed %j', (token) => {
    expect(parseBootstrapToken(token)).toBeNull();
  });

  it.each([
    ['active', record({}), 'active'],
    ['expired', record({ expiresAt: now }), 'expired'],
    ['revoked wins over expired', record({ revokedAt: now, expiresAt: now }), 'revoked'],
    ['used up', record({ maxUses: 1, uses: 1 }), 'used-up'],
    ['uses left', record({ maxUses: 2, uses: 1 }), 'active'],
  ] as const)('%s', (_n, r, state) => {
    expect(bootstrapTokenState(r, now)).toBe(state);
  });
});
