// Registrations by a tenant who is root on its own node and reads or guesses
// another tenant's identifiers: the answer must teach it nothing, an approval
// must not go to whoever presents the identity first, and nothing it sends may
// grow what the manager stores or scans.
import { beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootstrapTokens, type BootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createRegistrar, type Register } from './registrar.ts';
import { secretMatches } from '../secrets/secrets.ts';

const identity = (partial: Partial<NodeIdentity>): NodeIdentity => ({ systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial });
const victim = identity({ systemUuid: 'a1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'VIC-SYS-1', chassisSerial: 'VIC-CH-1', boardSerial: 'VIC-BRD-1', macs: ['0c:42:a1:00:00:01', '0c:42:a1:00:00:02'] });
const attacker = identity({ systemUuid: 'ffee0000-0000-1111-2222-333344445555', systemSerial: 'ATT-1', macs: ['0c:42:a1:00:00:99'] });
const secrets = [victim.systemUuid, victim.systemSerial, victim.chassisSerial, victim.boardSerial, ...victim.macs.slice(1), 'node-1'];

let store: FleetStore;
let register: Register;
let tokens: BootstrapTokens;
let token: string;
let events: FleetEvent[];
let listConflictCalls: number;
const now = new Date('2026-11-21T10:00:00Z');

beforeEach(async () => {
  const real = openSqliteFleetStore({ path: ':memory:' });
  listConflictCalls = 0;
  store = { ...real, listConflicts: (filter) => { listConflictCalls += 1; return real.listConflicts(filter); } };
  events = [];
  let counter = 0;
  const bus = new FleetEvents();
  bus.on((e) => events.push(e));
  tokens = createBootstrapTokens({ store, now: () => now, caFingerprint: 'c'.repeat(64) });
  ({ token } = await tokens.create({ description: 'rack 12', ttlSeconds: 3600, maxUses: null }));
  register = createRegistrar({ store, events: bus, tokens, admitDiscovered: 'operator', newNodeId: () => `node-${++counter}`, now: () => now });
});

const input = (id: NodeIdentity, bootstrapToken: string, nodeCredential: { nodeId: string; secret: string } | null = null, peer = '10.0.0.66') =>
  ({ identity: id, inventory: emptyInventory(), bootstrapToken, nodeCredential, registrationNonce: 'h'.repeat(43), agentVersion: '0.1.0', peer });

async function refusal(attempt: Promise<unknown>): Promise<Error & { code: string; details: Record<string, unknown> }> {
  const error = await attempt.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error & { code: string; details: Record<string, unknown> };
}

describe('a registration claiming one MAC of another node', () => {
  it.each([
    ['its own node credential', async () => {
      const own = await register(input(attacker, token));
      return { token: '', credential: { nodeId: own.nodeId, secret: own.credential } };
    }],
    ['a discovery token for a MAC of its own', async () => {
      const free = await tokens.create({ description: 'discovery', ttlSeconds: 900, maxUses: 1, purpose: 'discovery', mac: '0c:42:a1:00:00:77' });
      return { token: free.token, credential: null };
    }],
  ])('with %s learns the conflict id only: no node id or identifier, in the error or the event', async (_proof, proof) => {
    await register(input(victim, token));
    const { token: presented, credential } = await proof();
    const claim = identity({ systemUuid: 'deadbeef-0000-0000-0000-000000000001', systemSerial: 'x', macs: ['0c:42:a1:00:00:01', '0c:42:a1:00:00:77'] });
    const error = await refusal(register(input(claim, presented, credential)));
    expect(error).toMatchObject({ code: 'conflict', message: 'identity conflict 1: an operator must resolve it', details: { conflictId: '1' } });
    const conflictEvent = events.find((e) => e.type === 'identity-conflict');
    for (const text of [error.message, JSON.stringify(error.details)]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    // The event may reach the victim's tenant (it names only the victim's node): none of the claimant's identifiers or its address.
    expect(conflictEvent).toMatchObject({ type: 'identity-conflict', conflictId: '1', nodeIds: ['node-1'] });
    const seen = JSON.stringify(conflictEvent);
    for (const value of [...secrets.filter((v) => v !== 'node-1'), 'deadbeef', '0c:42:a1:00:00:77', '10.0.0.66']) expect(seen).not.toContain(value);
    // The operator still sees everything, and where it came from.
    expect(await store.getConflict('1')).toMatchObject({ reason: expect.stringContaining('known: VIC-SYS-1'), lastPeer: '10.0.0.66' });
  });
});

describe('an approved re-enrolment', () => {
  async function approvedWipedVictim() {
    await register(input(victim, token, null, '10.0.0.5'));
    // It came online with its credential, then its disk was wiped.
    await store.settleTokenUses('node-1');
    await expect(register(input(victim, token, null, '10.0.0.5'))).rejects.toMatchObject({ code: 'pending-approval' });
    const [pending] = await store.listConflicts({ status: 'open' });
    expect(pending).toMatchObject({ lastPeer: '10.0.0.5' });
    await store.resolveConflict(pending!.id, { status: 'approved', nodeId: 'node-1', by: 'admin', at: now });
    return pending!.id;
  }

  it('is not handed to whoever presents the identity first without a token', async () => {
    const conflictId = await approvedWipedVictim();
    await expect(register(input(victim, '', null, '10.0.0.66'))).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(await store.getConflict(conflictId)).toMatchObject({ status: 'approved', enrolledPeer: null });
    const enrolled = await register(input(victim, token, null, '10.0.0.5'));
    expect(enrolled).toMatchObject({ nodeId: 'node-1', returning: true });
    expect(secretMatches(enrolled.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect(await store.getConflict(conflictId)).toMatchObject({ status: 'enrolled', enrolledPeer: '10.0.0.5' });
  });

  it('spends a single-use token it is used with', async () => {
    await approvedWipedVictim();
    const once = await tokens.create({ description: 'for the wiped machine', ttlSeconds: 600, maxUses: 1 });
    await register(input(victim, once.token));
    expect((await tokens.list()).find((t) => t.id === once.record.id)?.uses).toBe(1);
  });
});

describe('sizes and spellings', () => {
  it.each([
    ['a 1 MiB serial', { ...victim, systemSerial: 'S'.repeat(1 << 20) }, /system serial is 1048576 characters long/],
    ['65 MACs', { ...victim, macs: Array.from({ length: 65 }, (_, i) => `0c:42:a1:00:01:${i.toString(16).padStart(2, '0')}`) }, /65 MAC addresses/],
    ['an unparseable MAC', { ...victim, macs: ['0c:42:a1:00:00:01', '0c:42:a1:00:00:0g'] }, /is not a MAC/],
  ])('refuses %s as invalid-argument and records nothing', async (_name, claim, message) => {
    await register(input(victim, token));
    await expect(register(input(claim, token))).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(message) });
    expect(await store.listConflicts()).toEqual([]);
  });

  it('never loads every open conflict to record one', async () => {
    await register(input(victim, token));
    await expect(register(input(identity({ macs: ['0c:42:a1:00:00:01'] }), token))).rejects.toMatchObject({ code: 'conflict' });
    expect(listConflictCalls).toBe(0);
  });

  it('recognises the same machine with its UUID in braces, lower-case serials and bare or dotted MACs', async () => {
    await register(input(victim, token));
    await store.settleTokenUses('node-1');
    const respelled = { ...victim, systemUuid: `{${victim.systemUuid.toUpperCase()}}`, systemSerial: 'vic-sys-1', chassisSerial: 'vic-ch-1', boardSerial: 'vic-brd-1', macs: ['0C42A1000001', '0c42.a100.0002'] };
    await expect(register(input(respelled, token))).rejects.toMatchObject({ code: 'pending-approval' });
    expect((await store.listNodes()).map((n) => n.id)).toEqual(['node-1']);
  });
});

describe('cabling from a registration', () => {
  const heardOn = (mac: string, port: string) => ({ name: 'eth0', mac, speedMbps: 1000, linkUp: true, driver: 'e1000', firmware: '', physical: true, neighbor: { switchName: 'leaf-7', switchId: '', portId: port, portDescription: '' } });
  const claims = async () => (await store.portLinks()).learned.map((l) => [l.nodeId, l.port, l.trusted]);

  it('maps no port for a machine discovered through a boot-endpoint token until an operator admits it, and none with made-up NICs', async () => {
    const mac = '0c:42:a1:00:00:77';
    const discovery = await tokens.create({ description: 'discovery', ttlSeconds: 900, maxUses: 1, purpose: 'discovery', mac });
    const made = [heardOn(mac, 'Ethernet1'), ...Array.from({ length: 20 }, (_, i) => heardOn(`not-a-mac-${i}`, `Ethernet${i + 2}`))];
    const rogue = await register({ ...input(identity({ systemUuid: 'feed0000-0000-4000-8000-000000000077', macs: [mac] }), discovery.token), inventory: { ...emptyInventory(), nics: made } });
    expect(await claims()).toEqual([[rogue.nodeId, 'Ethernet1', false]]);
  });

  it("trusts the LLDP of a machine an operator's token registered (its own NICs only)", async () => {
    const mac = '0c:42:a1:00:00:55';
    const node = await register({ ...input(identity({ systemUuid: 'feed0000-0000-4000-8000-000000000055', macs: [mac] }), token), inventory: { ...emptyInventory(), nics: [heardOn(mac, 'Ethernet9'), heardOn('0c:42:a1:00:00:56', 'Ethernet10')] } });
    expect(await claims()).toEqual([[node.nodeId, 'Ethernet9', true]]);
  });
});
