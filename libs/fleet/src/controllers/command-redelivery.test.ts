// A node's unacknowledged commands sent again when its agent comes online, on the real embedded broker (in
// process), with a fake clock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type CommandRecord, type Fence, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { createCommandOutbox, type CommandOutbox } from './command-outbox.ts';

let broker: NodeBroker;
let store: FleetStore;
let outbox: CommandOutbox;
let clock: Date;
let delivered: Array<{ node: string; id: string; expiresAt: number }>;
const tick = (ms: number) => { clock = new Date(clock.getTime() + ms); };
const reboot = { kind: 'reboot', args: { pxeNext: false } } as const;
const settle = () => new Promise((r) => setTimeout(r, 50));
let ids = 0;
/** This replica's outbox, for every node; with `fenceFor`, for the nodes it gives a fence. */
const outboxOf = (fenceFor?: (nodeId: string) => Fence | null, onError?: (error: unknown) => void) => createCommandOutbox({
  store, broker, events: new FleetEvents(), now: () => clock, newId: () => `c${(ids += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 3, maxPayloadBytes: 4096,
  ...(fenceFor ? { fenceFor } : {}), ...(onError ? { onError } : {}),
});

beforeEach(async () => {
  clock = new Date('2026-11-29T10:00:00Z');
  delivered = [];
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const id of ['n1', 'n2']) {
    await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
  }
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async () => false });
  await broker.subscribe('mf/v1/nodes/+/commands', ({ topic, payload }) => {
    const command = fromBinary(CommandSchema, payload);
    delivered.push({ node: topic.split('/')[3] ?? '', id: command.commandId, expiresAt: command.expiresAt ? timestampDate(command.expiresAt).getTime() : 0 });
  });
  outbox = outboxOf();
  await outbox.listen();
});

afterEach(async () => {
  await broker.close();
  await store.close();
});

describe('commands sent again when the node comes online', () => {
  it('sends what the node has not acknowledged at once, the same delivery: its attempt and the time it is given up stay', async () => {
    const sent = await outbox.send('n1', reboot, null);
    await settle();
    tick(5_000); // the node, on its reconnect backoff, missed it; it is back 5 s later
    expect(await outbox.redeliver('n1')).toBe(1);
    await settle();
    expect(delivered.map((d) => d.id)).toEqual([sent.id, sent.id]);
    expect(delivered[1]!.expiresAt).toBe(delivered[0]!.expiresAt);
    expect(await store.getCommand(sent.id)).toMatchObject({ state: 'sent', attempts: 1 });
  });

  it('repeats each delivery once however often the node says it is online, and gives the command up on time', async () => {
    const sent = await outbox.send('n1', reboot, null);
    // Fifty statuses at once are one batch; the delivery is repeated once.
    await Promise.all(Array.from({ length: 50 }, () => outbox.redeliver('n1')));
    expect(await outbox.redeliver('n1')).toBe(0);
    await settle();
    expect(delivered.filter((d) => d.id === sent.id)).toHaveLength(2);
    for (let attempt = 2; attempt <= 3; attempt += 1) {
      tick(30_001);
      await outbox.sweep();
      expect(await outbox.redeliver('n1')).toBe(1);
      expect(await outbox.redeliver('n1')).toBe(0);
    }
    await settle();
    expect(delivered.filter((d) => d.id === sent.id)).toHaveLength(6);
    tick(30_001);
    await outbox.sweep();
    expect((await store.getCommand(sent.id))?.state).toBe('expired');
  });

  it('sends nothing acknowledged, nothing of another node, and nothing of a node another replica owns', async () => {
    const acked = await outbox.send('n1', reboot, null);
    await broker.publish('mf/v1/nodes/n1/progress', toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId: acked.id, phase: CommandPhase.ACKED })), { qos: 1, retain: false });
    const others = await outbox.send('n2', reboot, null);
    await settle();
    expect((await store.getCommand(acked.id))?.state).toBe('acked');
    expect(await outbox.redeliver('n1')).toBe(0);
    // On a replica that does not own n2 (its shard's lease is another's).
    expect(await outboxOf(() => null).redeliver('n2')).toBe(0);
    await settle();
    expect(delivered.map((d) => d.id)).toEqual([acked.id, others.id]);
  });

  it('goes on with the other nodes of a batch when one node\'s commands cannot be read, and says why', async () => {
    // Written by a newer replica in a rolling upgrade: a kind this one does not know, in n1's history.
    const future = { id: 'f1', nodeId: 'n1', operationId: null, kind: 'wipe-disks', args: {}, state: 'succeeded', attempts: 1, ackDeadlineAt: null,
      message: '', verifiedSha256: '', createdAt: clock, updatedAt: clock } as unknown as CommandRecord;
    await store.createCommandReplacing(future, [], []);
    const failures: unknown[] = [];
    const replica = outboxOf(undefined, (error) => failures.push(error));
    const sent = await replica.send('n2', reboot, null);
    // n1 and n2 come online together: one batch. Before, n1's error rejected it and n2's command was not sent again.
    const [forN1, forN2] = await Promise.all([replica.redeliver('n1'), replica.redeliver('n2')]);
    await settle();
    expect([forN1, forN2]).toEqual([1, 1]);
    expect(delivered.filter((d) => d.id === sent.id)).toHaveLength(2);
    expect(failures).toHaveLength(1);
  });

  it('does not publish a command given up after the batch read the node\'s commands', async () => {
    const sent = await outbox.send('n1', reboot, null);
    await settle();
    // The manager gives it up (its reimage ended) between the batch's read and the send.
    const read = store.commandsOf.bind(store);
    store.commandsOf = async (nodeId, limit) => {
      const snapshot = await read(nodeId, limit);
      await outbox.giveUp(sent.id, 'the reimage ended');
      return snapshot;
    };
    expect(await outbox.redeliver('n1')).toBe(0);
    await settle();
    expect(delivered.filter((d) => d.id === sent.id)).toHaveLength(1);
  });
});
