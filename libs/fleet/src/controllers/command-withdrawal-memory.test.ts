// What the broker drops from a node's session must not depend on the manager
// remembering every withdrawn id: a list in memory is empty after a restart and
// forgets after a day, while a node's persistent session can hold a command
// longer than either (a node down for two days; a session store that outlives
// the process). A delivery whose deadline (expires_at, the manager's clock) has
// passed is one the manager gave up on, so it is dropped on that alone.
// Real embedded broker, real MQTT client, fake clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import mqtt from 'mqtt';
import { CommandSchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { nodeTopic } from '@metalfleet/transport';
import { FleetEvents } from '../events/fleet-events.ts';
import { createCommandOutbox, type CommandOutbox } from './command-outbox.ts';
import { createCommandWithdrawals, type CommandWithdrawals } from './command-withdrawals.ts';

const node = 'aaaaaaaa-0000-4000-8000-000000000001';
let broker: NodeBroker;
let store: FleetStore;
let outbox: CommandOutbox;
let url = '';
let clock = new Date('2026-11-21T10:00:00Z');
const tick = (ms: number) => void (clock = new Date(clock.getTime() + ms));
/** The manager's list of withdrawn ids; a test replaces it as a restart would (the broker asks whichever is current). */
let withdrawals: CommandWithdrawals;

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  await store.createNode({ id: node, hostname: node, identity: { systemUuid: node, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
  withdrawals = createCommandWithdrawals(() => clock);
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async (id, secret) => secret === `secret-${id}`, mayForward: (topic, payload) => withdrawals.mayForward(topic, payload) });
  url = `mqtt://127.0.0.1:${(await broker.listen(0, '127.0.0.1')).port}`;
  let n = 0;
  outbox = createCommandOutbox({ store, broker, events: new FleetEvents(), now: () => clock, newId: () => `c${(n += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 2, maxPayloadBytes: 4096, withdrawals: { withdraw: (id) => withdrawals.withdraw(id) } as CommandWithdrawals });
});

afterAll(async () => {
  await broker.close();
  await store.close();
});

/** The node's agent with its persistent session: the command ids delivered to it (a round trip through the broker later, all of them). */
async function reconnect(): Promise<string[]> {
  const ids: string[] = [];
  const client = await mqtt.connectAsync(url, { clientId: node, username: node, password: `secret-${node}`, clean: false, reconnectPeriod: 0 });
  client.on('message', (_topic, payload) => ids.push(fromBinary(CommandSchema, payload).commandId));
  await client.subscribeAsync(nodeTopic(node, 'commands'), { qos: 1 });
  await client.publishAsync(nodeTopic(node, 'status'), Buffer.from(''), { qos: 1 });
  await client.endAsync();
  return ids;
}

/** A command sent while the node is away, given up after its two deliveries. */
async function givenUp(): Promise<string> {
  const command = await outbox.send(node, { kind: 'reset-gpu', args: { gpuIndex: 1 } }, null);
  tick(30_001);
  await outbox.sweep();
  tick(30_001);
  await outbox.sweep();
  expect((await store.getCommand(command.id))?.state).toBe('expired');
  return command.id;
}

describe('a given-up command in a node\'s session, once the manager no longer remembers withdrawing it', () => {
  it('is not delivered after the manager\'s list was emptied (a restart with the session kept)', async () => {
    expect(await reconnect()).toEqual([]);
    const id = await givenUp();
    withdrawals = createCommandWithdrawals(() => clock);
    const delivered = await reconnect();
    expect(delivered).not.toContain(id);
    expect(delivered).toEqual([]);
  });

  it('is not delivered to a node that comes back after more than a day', async () => {
    const id = await givenUp();
    tick(25 * 3600_000);
    withdrawals.withdraw('something-else'); // the list prunes what it has kept for a day
    expect(await reconnect()).not.toContain(id);
  });

  it('a live command still is', async () => {
    const live = await outbox.send(node, { kind: 'reset-gpu', args: { gpuIndex: 2 } }, null);
    withdrawals = createCommandWithdrawals(() => clock);
    expect(await reconnect()).toEqual([live.id]);
  });
});
