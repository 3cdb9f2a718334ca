// Withdrawing commands: one the manager gave up on (expired) or replaced
// (superseded) is dropped from the node's persistent session, so a node coming
// back does not get it; and the claim an agent makes before it runs a command
// says run exactly while the manager has not given it up. On the real embedded
// broker with a real MQTT client, a fake clock for the outbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import mqtt from 'mqtt';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { nodeTopic } from '@metalfleet/transport';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createCommandOutbox, type CommandOutbox } from './command-outbox.ts';
import { createCommandWithdrawals } from './command-withdrawals.ts';

const node = 'aaaaaaaa-0000-4000-8000-000000000001';
const other = 'aaaaaaaa-0000-4000-8000-000000000002';
let broker: NodeBroker;
let store: FleetStore;
let outbox: CommandOutbox;
let url = '';
let clock = new Date('2026-11-21T10:00:00Z');
const seen: FleetEvent[] = [];
const tick = (ms: number) => void (clock = new Date(clock.getTime() + ms));
const reboot = { kind: 'reboot', args: { pxeNext: false } } as const;
const resetGpu = { kind: 'reset-gpu', args: { gpuIndex: 0 } } as const;

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const id of [node, other]) {
    await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
  }
  const events = new FleetEvents();
  events.on((e) => seen.push(e));
  const withdrawals = createCommandWithdrawals(() => clock);
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async (id, secret) => secret === `secret-${id}`, mayForward: withdrawals.mayForward });
  url = `mqtt://127.0.0.1:${(await broker.listen(0, '127.0.0.1')).port}`;
  let n = 0;
  outbox = createCommandOutbox({ store, broker, events, now: () => clock, newId: () => `c${(n += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 2, maxPayloadBytes: 4096, withdrawals });
  await outbox.listen();
});

afterAll(async () => {
  await broker.close();
  await store.close();
});

/** The node's agent connecting with its persistent session: the command ids it is delivered until `until` of them have come. */
async function reconnect(until: number): Promise<string[]> {
  const ids: string[] = [];
  const client = await mqtt.connectAsync(url, { clientId: node, username: node, password: `secret-${node}`, clean: false, reconnectPeriod: 0 });
  const done = new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      ids.push(fromBinary(CommandSchema, payload).commandId);
      if (ids.length >= until) resolve();
    });
    if (until === 0) resolve();
  });
  await client.subscribeAsync(nodeTopic(node, 'commands'), { qos: 1 });
  await done;
  // Whatever else the session held has come by the time a round trip through the broker has.
  await client.publishAsync(nodeTopic(node, 'status'), Buffer.from(''), { qos: 1 });
  await client.endAsync();
  return ids;
}

describe('withdrawing commands', () => {
  it('an expired command is dropped from the node\'s session; one superseded too; the newest is still delivered', async () => {
    // The session exists (the agent subscribed once), then the agent goes away.
    expect(await reconnect(0)).toEqual([]);
    const expired = await outbox.send(node, resetGpu, null);
    tick(30_001);
    await outbox.sweep(); // second delivery
    tick(30_001);
    await outbox.sweep(); // given up
    expect((await store.getCommand(expired.id))?.state).toBe('expired');
    const first = await outbox.send(node, reboot, null);
    const second = await outbox.send(node, reboot, null);
    expect(await store.getCommand(first.id)).toMatchObject({ state: 'expired', message: `superseded by command ${second.id}; withdrawn` });
    // Without the withdrawal the session hands over all four deliveries, the expired and superseded ones first.
    expect(await reconnect(1)).toEqual([second.id]);
    expect(await reconnect(0)).toEqual([]);
  });

  it('a claim runs a command once; a withdrawn one is refused with why; another node\'s is unknown; the give-up loses to a claim', async () => {
    const live = await outbox.send(node, resetGpu, null);
    expect(await outbox.claim(other, live.id)).toMatchObject({ verdict: 'unknown' });
    expect(await outbox.claim(node, live.id)).toEqual({ verdict: 'run' });
    expect(await outbox.claim(node, live.id)).toMatchObject({ verdict: 'claimed-before' });
    tick(120_000);
    await outbox.sweep();
    expect((await store.getCommand(live.id))?.state).toBe('acked'); // claimed: never given up

    const late = await outbox.send(node, reboot, null);
    tick(30_001);
    await outbox.sweep();
    tick(30_001);
    await outbox.sweep();
    expect(await outbox.claim(node, late.id)).toEqual({ verdict: 'withdrawn', reason: 'withdrawn by the manager: no ack after 2 deliveries; withdrawn from the node' });
  });

  it('an acceptance suite is claimed only while its node is accepting: one for a node that left the state is refused and given up (review finding)', async () => {
    const accept = { kind: 'accept', args: { dcgmLevel: 1, nccl: true, nvbandwidth: false, stressSeconds: 0 } } as const;
    // The node was accepting when the suite went out, then an operator moved it on (or it was allocated to a tenant):
    // the suite must never start on the GPUs it now serves with.
    const stale = await outbox.send(other, accept, null);
    expect(await outbox.claim(other, stale.id)).toEqual({ verdict: 'withdrawn', reason: 'withdrawn by the manager: the node is discovered now, and an accept command runs only while it is accepting; withdrawn from the node' });
    expect((await store.getCommand(stale.id))?.state).toBe('expired');
    await store.transitionNode(other, 'discovered', 'inspecting', 'inspect', { actor: 'test', reason: 'setup', at: clock });
    await store.transitionNode(other, 'inspecting', 'accepting', 'accept', { actor: 'test', reason: 'setup', at: clock });
    const current = await outbox.send(other, accept, null);
    expect(await outbox.claim(other, current.id)).toEqual({ verdict: 'run' });
  });

  it('the agent\'s refusal is recorded on the command; one refused before the manager gave up is given up then', async () => {
    const client = await mqtt.connectAsync(url, { clientId: node, username: node, password: `secret-${node}`, clean: false, reconnectPeriod: 0 });
    const report = (commandId: string, message: string) =>
      client.publishAsync(nodeTopic(node, 'progress'), Buffer.from(toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, phase: CommandPhase.REFUSED, message }))), { qos: 1 });
    const open = await outbox.send(node, resetGpu, null);
    await report(open.id, 'not run: its deadline passed before the manager could be asked');
    await expect.poll(async () => (await store.getCommand(open.id))?.state).toBe('expired');
    expect(seen).toContainEqual(expect.objectContaining({ type: 'command-expired', commandId: open.id }));
    const given = await outbox.send(node, reboot, null);
    tick(30_001);
    await outbox.sweep();
    tick(30_001);
    await outbox.sweep();
    await report(given.id, 'not run: withdrawn');
    await report(given.id, 'not run: withdrawn');
    await expect.poll(async () => (await store.getCommand(given.id))?.message).toBe('no ack after 2 deliveries; withdrawn from the node; refused by the agent: not run: withdrawn');
    await client.endAsync();
  });

  it('a node that keeps refusing a withdrawn command with new words cannot grow the command\'s record: its first refusal is kept', async () => {
    const client = await mqtt.connectAsync(url, { clientId: node, username: node, password: `secret-${node}`, clean: false, reconnectPeriod: 0 });
    const report = (commandId: string, message: string) =>
      client.publishAsync(nodeTopic(node, 'progress'), Buffer.from(toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, phase: CommandPhase.REFUSED, message }))), { qos: 1 });
    const given = await outbox.send(node, resetGpu, null);
    tick(30_001);
    await outbox.sweep();
    tick(30_001);
    await outbox.sweep();
    const filler = 'x'.repeat(1000);
    // QoS 1: each publish resolves once the manager handled (stored) it.
    for (let i = 0; i < 20; i += 1) await report(given.id, `refusal ${i} ${filler}`);
    await client.endAsync();
    const message = (await store.getCommand(given.id))?.message ?? '';
    // Before the fix each refusal was appended: 20 kB on one command row, without end.
    expect(message.match(/refused by the agent/g)).toHaveLength(1);
    expect(message).toBe(`no ack after 2 deliveries; withdrawn from the node; refused by the agent: refusal 0 ${filler}`);
  });
});
