// Install tokens come from the boot endpoint, which anyone on the provisioning
// network can ask with a node's MAC. The first fetch after the reboot point
// gets the token; asking again gets nothing and takes nothing away (it is
// reported). The token registers only from the address it went to, and only
// one install registration per reimage command succeeds: a second one is a
// conflict that fails the reimage. Cabling from an install registration is
// trusted only where the manager saw the node go down (its BMC).
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
let clock: Date;

const input = (bootstrapToken: string, peer: string) => ({ identity: node, inventory: emptyInventory(), bootstrapToken, nodeCredential: null, registrationNonce: 'i'.repeat(43), agentVersion: '0.1.0', peer });

beforeEach(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  clock = now;
  events = [];
  const bus = new FleetEvents();
  bus.on((e) => events.push(e));
  const tokens = createBootstrapTokens({ store, now: () => clock, caFingerprint: 'c'.repeat(64) });
  boot = createBootTokens({ tokens, store, now: () => now, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 3, discoveryMax: 100, installTtlSeconds: 3600 } });
  register = createRegistrar({ store, events: bus, tokens, admitDiscovered: 'operator', newNodeId: () => 'node-1', now: () => now });
  await register({ ...input((await tokens.create({ description: 'rack', ttlSeconds: 60, maxUses: 1 })).token, '10.0.0.5') });
  await store.createOperation(
    { id: 'op-1', kind: 'reimage', state: 'running', image: { name: 'gpu-os', version: '1.0' }, priority: 0, urgent: false, actor: 'admin', reason: '', createdAt: now, updatedAt: now },
    [{ operationId: 'op-1', nodeId: 'node-1', position: 0, rack: '', tenant: null, progress: { ...queuedProgress(), phase: 'installing' }, commandId: 'cmd-1', updatedAt: now }],
  );
});

const tokenOf = async (peer = '10.0.0.5', powerCycledAt: Date | null = null) => {
  const grant = await boot.install('node-1', 'cmd-1', peer, powerCycledAt);
  if (!grant.ok) throw new Error(grant.reason);
  return grant.token;
};

describe('install tokens', () => {
  it('go to the first fetch only: a later one (another tenant asking with the MAC) gets none and takes none away', async () => {
    const first = await tokenOf('10.0.0.5');
    for (let i = 0; i < 10; i += 1) {
      expect(await boot.install('node-1', 'cmd-1', '10.0.0.66', null)).toEqual({ ok: false, reason: expect.stringMatching(/^its install script was handed out already, at \S+Z to 10\.0\.0\.5$/) as unknown });
    }
    // Two at the same instant: one token between them.
    const racing = await Promise.all([boot.install('node-1', 'cmd-2', '10.0.0.7', null), boot.install('node-1', 'cmd-2', '10.0.0.66', null)]);
    expect(racing.map((g) => g.ok)).toEqual([true, false]);
    // Nothing piles up: a MAC fetched 13,000 times does not fill the table.
    expect((await store.listBootstrapTokens()).filter((t) => t.purpose === 'install' && t.commandId === 'cmd-1')).toHaveLength(1);
    expect(await register(input(first, '10.0.0.5'))).toMatchObject({ nodeId: 'node-1', returning: true });
  });

  it('registers only from the address the token was handed to; the installer can still use it', async () => {
    const token = await tokenOf('10.0.0.5');
    await expect(register(input(token, '10.0.0.66:41000'))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/is not good from this address$/) });
    expect(events).toContainEqual(expect.objectContaining({
      type: 'install-refused', nodeId: 'node-1', commandId: 'cmd-1', step: 'registration', peer: '10.0.0.66:41000',
      reason: 'the install token was handed to 10.0.0.5, and this registration comes from 10.0.0.66',
    }));
    expect(await register(input(token, '10.0.0.5:41001'))).toMatchObject({ nodeId: 'node-1', returning: true });
  });

  it('hands out a new token after the manager power-cycles the node again; the unused one of the boot it ended goes', async () => {
    const cycled = new Date(now.getTime() - 60_000);
    const ended = await tokenOf('10.0.0.5', cycled);
    expect(await boot.install('node-1', 'cmd-1', '10.0.0.5', cycled)).toMatchObject({ ok: false });
    clock = new Date(now.getTime() + 600_000);
    const again = await tokenOf('10.0.0.5', new Date(now.getTime() + 300_000));
    await expect(register(input(ended, '10.0.0.5'))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/unknown/) });
    expect(await register(input(again, '10.0.0.5'))).toMatchObject({ nodeId: 'node-1', returning: true });
  });

  it('registers one machine per reimage command: a second install registration is a conflict and fails the reimage', async () => {
    const installer = await register(input(await tokenOf('10.0.0.5', new Date(now.getTime() - 60_000)), '10.0.0.5'));
    expect(installer).toMatchObject({ nodeId: 'node-1', returning: true });
    clock = new Date(now.getTime() + 600_000);
    const second = await tokenOf('10.0.0.66', new Date(now.getTime() + 300_000));
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
    await expect(register(input(token, '10.0.0.5'))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
  });
});

describe('cabling heard by an install registration', () => {
  const withLldp = (bootstrapToken: string) => ({
    ...input(bootstrapToken, '10.0.0.5'),
    inventory: { ...emptyInventory(), nics: [{ name: 'eth0', mac: node.macs[0]!, speedMbps: 100000, linkUp: true, driver: '', firmware: '', physical: true,
      neighbor: { switchName: 'leaf-9', switchId: 'leaf-9', portId: 'Ethernet42', portDescription: '' } }] },
  });
  const links = async () => (await store.portLinks()).learned.filter((l) => l.nodeId === 'node-1').map((l) => ({ port: `${l.switchName}/${l.port}`, source: l.source, trusted: l.trusted }));

  it('stays a claim for a node without a BMC: the manager never saw it go down, its tenant can register from its OS', async () => {
    await register(withLldp(await tokenOf()));
    expect(await links()).toEqual([{ port: 'leaf-9/Ethernet42', source: 'lldp-node-os', trusted: false }]);
  });

  it('is trusted for a node with a BMC, whose install token exists only after the manager\'s power cycle', async () => {
    await store.setBmc('node-1', { driver: 'ipmi', address: '10.1.0.5', port: 623, username: 'u', password: 'p', cipherSuite: 3, https: true, insecureTls: false });
    await register(withLldp(await tokenOf('10.0.0.5', now)));
    expect(await links()).toEqual([{ port: 'leaf-9/Ethernet42', source: 'lldp-manager-image', trusted: true }]);
  });
});
