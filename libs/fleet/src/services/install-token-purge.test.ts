// Found by a hostile review (evening of 2026-11-27): "once per command" for a node without a BMC holds only while
// the first token is still in the table. purgeBootTokens deletes expired install tokens, and installTokenGrant
// then sees none issued for the command: another tenant asking with the node's MAC gets a fresh token bound to
// its own address and registers as the node. Reachable when the install phase outlasts the token's 3600 s TTL
// (reimageBootTimeoutS may be set up to ~24 days).
import { beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory, queuedProgress, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootTokens, type BootTokens } from './boot-tokens.ts';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents } from '../events/fleet-events.ts';
import { createRegistrar, type Register } from './registrar.ts';

const node: NodeIdentity = { systemUuid: 'a1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'SN-V', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' };
const start = new Date('2026-11-21T10:00:00Z');
let store: FleetStore;
let register: Register;
let boot: BootTokens;
let clock: Date;

const input = (bootstrapToken: string, peer: string) => ({ identity: node, inventory: emptyInventory(), bootstrapToken, nodeCredential: null, registrationNonce: 'i'.repeat(43), agentVersion: '0.1.0', peer });

beforeEach(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  clock = start;
  const bus = new FleetEvents();
  const tokens = createBootstrapTokens({ store, now: () => clock, caFingerprint: 'c'.repeat(64) });
  boot = createBootTokens({ tokens, store, now: () => clock, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 3, discoveryMax: 100, installTtlSeconds: 3600 } });
  register = createRegistrar({ store, events: bus, tokens, admitDiscovered: 'operator', newNodeId: () => 'node-1', now: () => clock });
  await register({ ...input((await tokens.create({ description: 'rack', ttlSeconds: 60, maxUses: 1 })).token, '10.0.0.5') });
  await store.createOperation(
    { id: 'op-1', kind: 'reimage', state: 'running', image: { name: 'gpu-os', version: '1.0' }, priority: 0, urgent: false, actor: 'admin', reason: '', createdAt: start, updatedAt: start },
    [{ operationId: 'op-1', nodeId: 'node-1', position: 0, rack: '', tenant: null, progress: { ...queuedProgress(), phase: 'installing' }, commandId: 'cmd-1', updatedAt: start }],
  );
});

describe('install token once per command (no BMC) across the purge of expired tokens', () => {
  it('a later fetch from another address is still refused after the first token expired and was purged', async () => {
    const first = await boot.install('node-1', 'cmd-1', '10.0.0.5', null);
    expect(first.ok).toBe(true);
    expect(await boot.install('node-1', 'cmd-1', '10.0.0.66', null)).toMatchObject({ ok: false });
    clock = new Date(start.getTime() + 3601_000);
    await boot.purgeExpired();
    const stolen = await boot.install('node-1', 'cmd-1', '10.0.0.66', null);
    // Before the fix: { ok: true, token } to the other tenant, which then registered as node-1.
    expect(stolen).toMatchObject({ ok: false });
  });

});
