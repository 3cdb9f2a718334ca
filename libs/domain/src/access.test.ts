import { describe, expect, it } from 'vitest';
import { apiTokenState, canSeeTenant, decideAccess, formatApiToken, parseApiToken, permissions, roles, type Permission, type Role } from './access.ts';

const principal = (role: Role, tenantId: string | null = null) => ({ tokenId: 't', name: 'n', role, tenantId });

describe('access', () => {
  it.each<[Role, Permission[]]>([
    ['admin', ['fleet:read', 'nodes:write', 'tenants:write', 'alerts:write', 'admin']],
    ['operator', ['fleet:read', 'nodes:write', 'tenants:write', 'alerts:write']],
    ['viewer', ['fleet:read']],
  ])('%s may %j and nothing else', (role, allowed) => {
    for (const permission of permissions) {
      expect(decideAccess(principal(role), permission, true).allowed).toBe(allowed.includes(permission));
    }
  });

  it('a tenant-scoped token reads and acts on nodes only where the route filters by tenant, and never manages tenants', () => {
    const scoped = principal('operator', 't1');
    expect(decideAccess(scoped, 'fleet:read', true)).toEqual({ allowed: true });
    expect(decideAccess(scoped, 'nodes:write', true)).toEqual({ allowed: true });
    expect(decideAccess(scoped, 'fleet:read', false)).toEqual({ allowed: false, reason: 'a token scoped to tenant t1 may not use this route' });
    expect(decideAccess(scoped, 'tenants:write', true).allowed).toBe(false);
    expect(decideAccess(principal('viewer', 't1'), 'nodes:write', true)).toEqual({ allowed: false, reason: 'role viewer may not nodes:write' });
    expect(canSeeTenant(scoped, 't1')).toBe(true);
    expect(canSeeTenant(scoped, 't2')).toBe(false);
    expect(canSeeTenant(scoped, null)).toBe(false);
    expect(canSeeTenant(principal('viewer'), null)).toBe(true);
  });

  it('formats and parses tokens, and refuses anything else', () => {
    const secret = 'a'.repeat(43);
    expect(parseApiToken(formatApiToken('abcdefgh12', secret))).toEqual({ id: 'abcdefgh12', secret });
    for (const bad of ['', 'mfbt.abcdefgh12.' + secret, 'mfat.short.' + secret, 'mfat.abcdefgh12.tooshort', `mfat.abcdefgh12.${secret}.x`]) expect(parseApiToken(bad)).toBeNull();
  });

  it('knows when a token stops working', () => {
    const now = new Date('2026-11-21T10:00:00Z');
    const token = { id: 'i', name: 'n', role: roles[0], tenantId: null, secretHash: '', createdAt: now, expiresAt: new Date('2026-11-22T00:00:00Z'), revokedAt: null, lastUsedAt: null };
    expect(apiTokenState(token, now)).toBe('active');
    expect(apiTokenState({ ...token, expiresAt: now }, now)).toBe('expired');
    expect(apiTokenState({ ...token, revokedAt: now }, now)).toBe('revoked');
    expect(apiTokenState({ ...token, expiresAt: null }, now)).toBe('active');
  });
});
