import { beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from './fleet-events.ts';
import { createRegistrar, type Register } from './registrar.ts';
import { secretMatches } from './secrets.ts';

function identity(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

let store: FleetStore;
let register: Register;
let events: FleetEvent[];
let counter: number;

beforeEach(() => {
  store = openSqliteFleetStore({ path: ':memory:' });
  events = [];
  counter = 0;
  const bus = new FleetEvents();
  bus.on((e) => events.push(e));
  register = createRegistrar({
    store, events: bus, bootstrapTokens: () => ['boot-1'], newNodeId: () => `node-${++counter}`, now: () => new Date('2026-11-21T10:00:00Z'),
  });
});

const machine = identity({ systemUuid: 'A1B2C3D4-0000-1111-2222-333344445555', systemSerial: 'SER-1', macs: ['0c:42:a1:00:00:01'] });
const input = (id: NodeIdentity, token = 'boot-1') => ({ identity: id, inventory: emptyInventory(), bootstrapToken: token, agentVersion: '0.1.0', peer: 'test' });

describe('registration', () => {
  it('refuses a bad bootstrap token and stores nothing', async () => {
    await expect(register(input(machine, 'wrong'))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(register(input(machine, ''))).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(await store.listNodes()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['registration-refused', 'registration-refused']);
  });

  it('refuses a machine with nothing to recognise it by', async () => {
    await expect(register(input(identity({ systemSerial: 'Default string' })))).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('gives the same machine the same node id across reboots, with a fresh credential', async () => {
    const first = await register(input(machine));
    const again = await register(input({ ...machine, macs: ['0c:42:a1:00:00:01', '0c:42:a1:00:00:02'] }));
    expect(first).toMatchObject({ nodeId: 'node-1', returning: false });
    expect(again).toMatchObject({ nodeId: 'node-1', returning: true });
    expect(again.credential).not.toBe(first.credential);
    const hash = (await store.credentialHash('node-1'))!;
    expect(secretMatches(again.credential, hash)).toBe(true);
    expect(secretMatches(first.credential, hash)).toBe(false);
    expect((await store.listNodes()).map((n) => n.id)).toEqual(['node-1']);
  });

  it('flags two machines claiming one identity as a conflict and changes nothing', async () => {
    await register(input(machine));
    const before = await store.getNode('node-1');
    await expect(register(input({ ...machine, systemSerial: 'SER-OTHER' }))).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.getNode('node-1')).toEqual(before);
    expect(await store.listConflicts()).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'identity-conflict', nodeIds: ['node-1'] });
  });
});
