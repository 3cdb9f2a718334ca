// Install tokens come from the boot endpoint, which anyone on the provisioning
// network can ask. Asking again replaces the unused token (it exhausts
// nothing), and only one install registration per reimage command succeeds: a
// second one is a conflict that fails the reimage.
import { beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory, queuedProgress, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootTokens, type BootTokens } from './boot-tokens.ts';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createRegistrar, type Register } from './registrar.ts';
import { secretMatches } from '../secrets/secrets.ts';

const node: NodeIdentity = { systemUuid: 'a1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'SN-V', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' };
const now = new Date('2026-11-21T10:00:00Z');
let store: FleetStore;
let register: Register;
let boot: BootTokens;
let events: FleetEvent[];

const input = (bootstrapToken: string, peer: string) => ({ identity: node, inventory: emptyInventory(), bootstrapToken, nodeCredential: null, registrationNonce: 'i'.repeat(43), agentVersion: '0.1.0', peer });

beforeEach(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  events = [];
  const bus = new FleetEvents();
  bus.on((e) => events.push(e));
  const tokens = createBootstrapTokens({ store, now: () => now, caFingerprint: 'c'.repeat(64) });
  boot = createBootTokens({ tokens, store, now: () => now, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 3, discoveryMax: 100, installTtlSeconds: 3600 } });
  register = createRegistrar({ store, events: bus, tokens, admitDiscovered: 'operator', newNodeId: () => 'node-1', now: () => now });
  await register({ ...input((await tokens.create({ description: 'rack', ttlSeconds: 60, maxUses: 1 })).token, '10.0.0.5') });
  await store.createOperation(
    { id: 'op-1', kind: 'reimage', state: 'running', image: { name: 'gpu-os', version: '1.0' }, priority: 0, urgent: false, actor: 'admin', reason: '', createdAt: now, updatedAt: now },
    [{ operationId: 'op-1', nodeId: 'node-1', position: 0, rack: '', tenant: null, progress: { ...queuedProgress(), phase: 'installing' }, commandId: 'cmd-1', updatedAt: now }],
  );
});

const tokenOf = async () => {
  const grant = await boot.install('node-1', 'cmd-1');
  if (!grant.ok) throw new Error(grant.reason);
  return grant.token;
};

describe('install tokens', () => {
  it('never runs out however often they are asked for: each fetch replaces the unused one before it', async () => {
    const first = await tokenOf();
    for (let i = 0; i < 10; i += 1) await tokenOf();
    const last = await tokenOf();
    await expect(register(input(first, '10.0.0.66'))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/unknown/) });
    // Replaced tokens are gone, not kept until they expire: a MAC fetched 13,000 times does not fill the table.
    expect((await store.listBootstrapTokens()).filter((t) => t.purpose === 'install')).toHaveLength(1);
    expect(await register(input(last, '10.0.0.5'))).toMatchObject({ nodeId: 'node-1', returning: true });
  });

  it('registers one machine per reimage command: a second install registration is a conflict and fails the reimage', async () => {
    const installer = await register(input(await tokenOf(), '10.0.0.5'));
    expect(installer).toMatchObject({ nodeId: 'node-1', returning: true });
    const second = await tokenOf();
    await expect(register(input(second, '10.0.0.66'))).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/^identity conflict \d+: an operator must resolve it$/) });
    expect(secretMatches(installer.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect(await store.listConflicts({ status: 'open' })).toEqual([expect.objectContaining({ nodeIds: ['node-1'], lastPeer: '10.0.0.66', reason: expect.stringContaining('second registration with an install token of reimage command cmd-1') })]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'install-conflict', nodeId: 'node-1', commandId: 'cmd-1' }));
  });

  it('answers the installer again when its reply was lost: the same token and machine are not a second registration', async () => {
    const token = await tokenOf();
    const lost = await register(input(token, '10.0.0.5'));
    const again = await register(input(token, '10.0.0.5'));
    expect(again).toMatchObject({ nodeId: 'node-1', returning: true });
    expect(secretMatches(again.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect(secretMatches(lost.credential, (await store.credentialHash('node-1'))!)).toBe(false);
    expect(await store.listConflicts()).toEqual([]);
    expect(events.filter((e) => e.type === 'install-conflict')).toEqual([]);
    expect(events.filter((e) => e.type === 'install-registered')).toHaveLength(2);
    expect((await store.listBootstrapTokens()).find((t) => t.purpose === 'install')?.uses).toBe(1);
    // Once the installer is online with its credential, the token is spent for good.
    await store.settleTokenUses('node-1');
    await expect(register(input(token, '10.0.0.66'))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
  });
});
