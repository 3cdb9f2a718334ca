// The part of the store contract for who joins the fleet: identity conflicts
// and their resolution, admissions, and bootstrap tokens (the operator's and
// the boot endpoint's, counted and purged).
import { describe, expect, it } from 'vitest';
import type { NodeIdentity } from '@metalfleet/domain';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';

function identity(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

export function describeIdentityStore(name: string, factory: StoreFactory): void {
  describe(`identity store on ${name}`, () => {
    it('records identity conflicts once per identity while open, and an operator resolves each once', async () => {
      const store = await factory.open('conflicts');
      const at = new Date('2026-11-01T00:00:00Z');
      const later = new Date('2026-11-01T00:05:00Z');
      const first = await store.recordConflict({ at, identity: identity({ systemUuid: 'dup' }), nodeIds: ['n1', 'n2'], reason: 'two nodes share it' });
      const again = await store.recordConflict({ at: later, identity: identity({ systemUuid: 'DUP' }), nodeIds: ['n1', 'n2'], reason: 'still shared' });
      const wiped = await store.recordConflict({ at, identity: identity({ systemUuid: 'u-w' }), nodeIds: ['n3'], reason: 'no credential', kind: 're-enrolment' });
      expect(again).toMatchObject({ id: first.id, attempts: 2, reason: 'still shared', lastAt: later, status: 'open', kind: 'mismatch' });
      expect(await store.countConflicts('open')).toBe(2);
      expect(await store.hasUnresolvedConflict(identity({ systemUuid: 'Dup' }))).toBe(true);
      expect(await store.hasUnresolvedConflict(identity({ systemUuid: 'other' }))).toBe(false);
      expect(await store.listConflicts()).toEqual([
        expect.objectContaining({ id: first.id, nodeIds: ['n1', 'n2'], attempts: 2 }),
        expect.objectContaining({ id: wiped.id, kind: 're-enrolment', nodeIds: ['n3'] }),
      ]);
      const by = { by: 'admin', at: later };
      expect(await store.resolveConflict(first.id, { status: 'rejected', nodeId: null, ...by })).toBe(true);
      expect(await store.resolveConflict(first.id, { status: 'rejected', nodeId: null, ...by })).toBe(false);
      expect(await store.resolveConflict('999999', { status: 'rejected', nodeId: null, ...by })).toBe(false);
      expect(await store.resolveConflict('not-a-number', { status: 'rejected', nodeId: null, ...by })).toBe(false);
      expect(await store.findApproval(identity({ systemUuid: 'u-w' }))).toBeNull();
      expect(await store.resolveConflict(wiped.id, { status: 'approved', nodeId: 'n3', ...by })).toBe(true);
      expect(await store.findApproval(identity({ systemUuid: 'u-w' }))).toEqual({ conflictId: wiped.id, nodeId: 'n3' });
      expect(await store.takeApproval(wiped.id, later, '10.0.0.5')).toBe(true);
      expect(await store.takeApproval(wiped.id, later, '10.0.0.6')).toBe(false);
      expect(await store.getConflict(wiped.id)).toMatchObject({ status: 'enrolled', enrolledPeer: '10.0.0.5' });
      expect(await store.findApproval(identity({ systemUuid: 'u-w' }))).toBeNull();
      expect((await store.listConflicts({ status: 'open' }))).toEqual([]);
      expect(await store.getConflict(first.id)).toMatchObject({ status: 'rejected', resolvedBy: 'admin', resolvedAt: later });
      // A rejected identity trying again stays rejected, counted; an operator may still approve it.
      expect(await store.recordConflict({ at: later, identity: identity({ systemUuid: 'dup' }), nodeIds: ['n1', 'n2'], reason: 'again' })).toMatchObject({ id: first.id, status: 'rejected', attempts: 3 });
      expect(await store.resolveConflict(first.id, { status: 'approved', nodeId: 'n1', ...by })).toBe(true);
      expect(await store.resolveConflict(first.id, { status: 'approved', nodeId: 'n1', ...by })).toBe(false);
      await store.close();
    });

    it('keeps node admissions, and counts and purges the boot endpoint\'s tokens', async () => {
      const store = await factory.open('admissions');
      await store.createNode(newNode('n1', { systemUuid: 'u-a1' }));
      await store.createNode(newNode('n2', { systemUuid: 'u-a2' }));
      const at = new Date('2026-11-01T00:00:00Z');
      await store.setAdmission({ nodeId: 'n1', state: 'pending', via: 'discovery', actor: 'boot endpoint', at });
      await store.setAdmission({ nodeId: 'n2', state: 'pending', via: 'discovery', actor: 'boot endpoint', at });
      await store.setAdmission({ nodeId: 'n2', state: 'admitted', via: 'operator', actor: 'admin', at });
      expect(await store.listAdmissions({ state: 'pending' })).toEqual([{ nodeId: 'n1', state: 'pending', via: 'discovery', actor: 'boot endpoint', at }]);
      expect(await store.getAdmission('n2')).toMatchObject({ state: 'admitted', actor: 'admin' });
      expect(await store.getAdmission('nope')).toBeNull();

      const token = (id: string, purpose: 'operator' | 'discovery' | 'install', mac: string | null, expiresAt: Date) => ({
        id, purpose, nodeId: purpose === 'install' ? 'n1' : null, commandId: purpose === 'install' ? 'c1' : null, mac, issuedTo: purpose === 'install' ? '10.0.0.5' : null, description: id, secretHash: 'h', createdAt: at, expiresAt, revokedAt: null, maxUses: 1, uses: 0,
      });
      const soon = new Date(at.getTime() + 60_000);
      const later = new Date(at.getTime() + 3_600_000);
      await store.createBootstrapToken(token('disc-1', 'discovery', 'aa:bb:cc:00:00:01', soon));
      await store.createBootstrapToken(token('disc-2', 'discovery', 'aa:bb:cc:00:00:01', later));
      await store.createBootstrapToken(token('disc-3', 'discovery', 'aa:bb:cc:00:00:02', later));
      await store.createBootstrapToken(token('inst-1', 'install', null, soon));
      await store.createBootstrapToken(token('oper-1', 'operator', null, soon));
      expect(await store.getBootstrapToken('inst-1')).toMatchObject({ purpose: 'install', nodeId: 'n1', commandId: 'c1', mac: null, issuedTo: '10.0.0.5' });
      expect((await store.installTokens('c1')).map((t) => [t.id, t.issuedTo])).toEqual([['inst-1', '10.0.0.5']]);
      expect(await store.installTokens('c2')).toEqual([]);
      expect(await store.countLiveBootTokens({ purpose: 'discovery', now: at })).toBe(3);
      expect(await store.countLiveBootTokens({ purpose: 'discovery', now: at, mac: 'aa:bb:cc:00:00:01' })).toBe(2);
      expect(await store.countLiveBootTokens({ purpose: 'install', now: at, nodeId: 'n1' })).toBe(1);
      expect(await store.countLiveBootTokens({ purpose: 'discovery', now: soon })).toBe(2);
      expect(await store.purgeBootTokens(soon)).toBe(2);
      expect((await store.listBootstrapTokens()).map((t) => t.id).sort()).toEqual(['disc-2', 'disc-3', 'oper-1']);
      await store.close();
    });

    it('creates, lists, counts uses of and revokes bootstrap tokens', async () => {
      const store = await factory.open('tokens');
      const t = (id: string, createdAt: Date, maxUses: number | null) => ({
        id, purpose: 'operator' as const, nodeId: null, commandId: null, mac: null, issuedTo: null, description: `token ${id}`, secretHash: `hash-${id}`, createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses, uses: 0,
      });
      await store.createBootstrapToken(t('tok-a', new Date('2026-11-01T00:00:00Z'), null));
      await store.createBootstrapToken(t('tok-b', new Date('2026-11-02T00:00:00Z'), 1));
      expect((await store.listBootstrapTokens()).map((x) => x.id)).toEqual(['tok-b', 'tok-a']);
      expect(await store.useBootstrapToken('tok-b')).toBe(true);
      expect(await store.useBootstrapToken('tok-b')).toBe(false);
      expect((await store.getBootstrapToken('tok-b'))?.uses).toBe(1);
      const at = new Date('2026-11-03T00:00:00Z');
      expect(await store.revokeBootstrapToken('tok-a', at)).toBe(true);
      expect(await store.revokeBootstrapToken('tok-a', at)).toBe(false);
      expect(await store.revokeBootstrapToken('nope', at)).toBe(false);
      expect(await store.getBootstrapToken('tok-a')).toMatchObject({ revokedAt: at, secretHash: 'hash-tok-a', description: 'token tok-a' });
      expect(await store.getBootstrapToken('nope')).toBeNull();
      await store.close();
    });

    it('spends a token use in the node write\'s transaction and remembers which machine spent it', async () => {
      const store = await factory.open('tokenuses');
      const createdAt = new Date('2026-11-01T00:00:00Z');
      await store.createBootstrapToken({
        id: 'once', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'single use', secretHash: 'hash-once', createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses: 1, uses: 0,
      });
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }), { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-1' });
      expect((await store.getBootstrapToken('once'))?.uses).toBe(1);
      expect(await store.findTokenUse('once', 'key-1')).toEqual({ nodeId: 'n1', nonceHash: 'nonce-1', at: newNode('n1', {}).at });
      expect(await store.findTokenUse('once', 'key-2')).toBeNull();
      // No use left: refused, and the node is not written either.
      await expect(store.createNode(newNode('n2', { systemUuid: 'u-2' }), { tokenId: 'once', identityKey: 'key-2', nonceHash: null })).rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await store.getNodeSummary('n2')).toBeNull();
      expect(await store.findIdentityCandidates(identity({ systemUuid: 'u-2' }))).toEqual([]);
      const rotated = { ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'rotated' };
      await expect(store.updateRegistration(rotated, { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-1' })).rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await store.credentialHash('n1')).toBe('hash-n1');
      // A node write without a token use (a retry answered again) spends nothing.
      await store.updateRegistration(rotated);
      expect(await store.credentialHash('n1')).toBe('rotated');
      expect((await store.getBootstrapToken('once'))?.uses).toBe(1);
      // Once the node showed it holds its credential, the use is final.
      await store.settleTokenUses('n1');
      expect(await store.findTokenUse('once', 'key-1')).toBeNull();
      expect((await store.getBootstrapToken('once'))?.uses).toBe(1);
      await store.close();
    });

    it('keeps no nonce for a use spent without one (an older agent): it is never answered again', async () => {
      const store = await factory.open('tokennononce');
      const createdAt = new Date('2026-11-01T00:00:00Z');
      await store.createBootstrapToken({
        id: 'once', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'single use', secretHash: 'hash-once', createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses: 1, uses: 0,
      });
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }), { tokenId: 'once', identityKey: 'key-1', nonceHash: null });
      expect(await store.findTokenUse('once', 'key-1')).toEqual({ nodeId: 'n1', nonceHash: null, at: newNode('n1', {}).at });
      await expect(store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'stranger' }, { tokenId: 'once', identityKey: 'key-1', nonceHash: null, retry: { credentialHash: 'hash-n1' } }))
        .rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await store.credentialHash('n1')).toBe('hash-n1');
      await store.close();
    });

    it('settles a node\'s uses for the credential it showed only while that is still its credential', async () => {
      const store = await factory.open('tokensettlehash');
      const createdAt = new Date('2026-11-01T00:00:00Z');
      await store.createBootstrapToken({
        id: 'once', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'single use', secretHash: 'hash-once', createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses: 1, uses: 0,
      });
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }), { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-1' });
      // A credential the node no longer has (a registration gave it another since): its new use stays open.
      await store.settleTokenUses('n1', 'hash-before');
      expect(await store.findTokenUse('once', 'key-1')).toMatchObject({ nodeId: 'n1' });
      await store.settleTokenUses('n1', 'hash-n1');
      expect(await store.findTokenUse('once', 'key-1')).toBeNull();
      await store.close();
    });

    it('writes one of two retries of a registration racing, and none once the use was settled', async () => {
      const store = await factory.open('tokenretries');
      const createdAt = new Date('2026-11-01T00:00:00Z');
      await store.createBootstrapToken({
        id: 'once', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'single use', secretHash: 'hash-once', createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses: 1, uses: 0,
      });
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }), { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-1' });
      // A retry with another nonce (its caller is not the registration that spent the use) is never written.
      await expect(store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'stranger' }, { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-2', retry: { credentialHash: 'hash-n1' } }))
        .rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await store.credentialHash('n1')).toBe('hash-n1');
      const retry = { tokenId: 'once', identityKey: 'key-1', nonceHash: 'nonce-1', retry: { credentialHash: 'hash-n1' } };
      const results = await Promise.allSettled(['a', 'b'].map((c) => store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: `retry-${c}` }, retry)));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'unauthenticated' } });
      const written = results[0]?.status === 'fulfilled' ? 'retry-a' : 'retry-b';
      expect(await store.credentialHash('n1')).toBe(written);
      expect((await store.getBootstrapToken('once'))?.uses).toBe(1);
      await store.settleTokenUses('n1');
      await expect(store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'late' }, { ...retry, retry: { credentialHash: written } }))
        .rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await store.credentialHash('n1')).toBe(written);
      await store.close();
    });
  });
}
