// Per-node work spread over node shards: two replicas (real lease keepers on
// one SQLite store) converge on 128 shards each, and each sends again, gives
// up, marks offline and fails only the nodes of its own shards, under its
// shard's fence. Together they cover every node once; a fence that no longer
// holds in the store (a replica woken after its lease went on) writes and
// sends nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { CommandSchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory, shardLease, shardOf } from '@metalfleet/domain';
import { openSqliteFleetStore, type Fence, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { createLeaseKeeper, type LeaseKeeper } from '../services/lease-keeper.ts';
import { createCommandOutbox } from './command-outbox.ts';
import { createPresenceTracker } from './presence-tracker.ts';
import { createLifecycle } from './lifecycle.ts';
import { startLifecycleControllers } from './lifecycle-controllers.ts';

const nodes = Array.from({ length: 40 }, (_, i) => `node-${i}`);
let clock = new Date('2026-11-28T12:00:00Z');
let store: FleetStore;
let broker: NodeBroker;
let keepers: LeaseKeeper[];
const delivered: string[] = [];

beforeAll(async () => {
  store = openSqliteFleetStore({ path: join(mkdtempSync(join(tmpdir(), 'mf-shards-')), 'fleet.db') });
  for (const id of nodes) {
    await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
  }
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async () => false });
  await broker.subscribe('mf/v1/nodes/+/commands', ({ payload }) => void delivered.push(fromBinary(CommandSchema, payload).commandId));
  keepers = [createLeaseKeeper({ store, holder: 'a' }), createLeaseKeeper({ store, holder: 'b' })];
  for (let round = 0; round < 20 && !keepers.every((k) => k.held().length === 128); round += 1) for (const k of keepers) await k.tick();
});
afterAll(async () => {
  for (const k of keepers) await k.stop();
  await broker.close();
  await store.close();
});

const [a, b] = [0, 1];
const owner = (nodeId: string) => keepers.findIndex((k) => k.fenceForNode(nodeId) !== null);
const outboxOf = (fenceFor: (nodeId: string) => Fence | null) => createCommandOutbox({
  store, broker, events: new FleetEvents(), now: () => clock, newId: () => 'unused', ackTimeoutMs: 30_000, maxAttempts: 3, maxPayloadBytes: 4096, fenceFor,
});
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('per-node work over node shards', () => {
  it('gives every node exactly one owner, and both replicas a share', () => {
    expect(keepers.map((k) => k.held().length)).toEqual([128, 128]);
    const owners = nodes.map(owner);
    expect(owners.every((o) => o === a || o === b)).toBe(true);
    expect(nodes.every((id) => keepers.filter((k) => k.fenceForNode(id) !== null).length === 1)).toBe(true);
    expect(new Set(owners).size).toBe(2);
  });

  it('sends a due command again from the replica that owns its node only: each once across both', async () => {
    for (const id of nodes) {
      await store.createCommand({ id: `c-${id}`, nodeId: id, operationId: null, kind: 'reset-gpu', args: { gpuIndex: 0 }, state: 'sent', attempts: 1,
        ackDeadlineAt: new Date(clock.getTime() - 1), message: '', verifiedSha256: '', createdAt: clock, updatedAt: clock });
    }
    const mineOf = (i: number) => nodes.filter((id) => owner(id) === i).map((id) => `c-${id}`).sort();
    await outboxOf((id) => keepers[a]?.fenceForNode(id) ?? null).sweep();
    await settle();
    expect([...delivered].sort()).toEqual(mineOf(a));
    await outboxOf((id) => keepers[b]?.fenceForNode(id) ?? null).sweep();
    await settle();
    expect([...delivered].sort()).toEqual([...mineOf(a), ...mineOf(b)].sort());
    expect(new Set(delivered).size).toBe(nodes.length);
  });

  it('sends and writes nothing under a fence the store no longer holds', async () => {
    delivered.length = 0;
    clock = new Date(clock.getTime() + 60_000);
    const stale = (id: string): Fence => ({ lease: shardLease(shardOf(id)), holder: 'a', epoch: 99 });
    const before = await store.openCommands();
    await outboxOf(stale).sweep();
    await settle();
    expect(delivered).toEqual([]);
    expect(await store.openCommands()).toEqual(before);
  });

  it('marks offline and fails only the silent nodes of its own shards', async () => {
    const events = new FleetEvents();
    for (const id of nodes) {
      await store.setPresence(id, 'online', clock);
      await store.transitionNode(id, 'discovered', 'inspecting', 'inspect', { actor: 't', reason: 'r', at: clock });
      await store.transitionNode(id, 'inspecting', 'available', 'inspection-passed', { actor: 't', reason: 'r', at: clock });
    }
    clock = new Date(clock.getTime() + 600_000);
    const fenceFor = (id: string) => keepers[a]?.fenceForNode(id) ?? null;
    const presence = createPresenceTracker({ store, events, now: () => clock, heartbeatGraceMs: 30_000, fenceFor });
    const lifecycle = createLifecycle({ store, events, now: () => clock });
    const controllers = startLifecycleControllers({ store, events, lifecycle, now: () => clock, offlineFailureGraceMs: 1, onError: (error) => { throw error; }, fenceFor });
    clock = new Date(clock.getTime() + 1000);
    await presence.sweep();
    clock = new Date(clock.getTime() + 1000);
    await controllers.sweep();
    controllers.stop();
    const listed = await store.listNodes();
    const ownedByA = new Set(nodes.filter((id) => owner(id) === a));
    for (const node of listed) {
      expect({ id: node.id, presence: node.presence, state: node.state }).toEqual(ownedByA.has(node.id)
        ? { id: node.id, presence: 'offline', state: 'failed' }
        : { id: node.id, presence: 'online', state: 'available' });
    }
  });
});
