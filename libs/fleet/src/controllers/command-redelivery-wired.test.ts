// Commands sent again when a node says it is online, wired as the manager wires them (the real embedded broker, the
// ingest, the outbox), against a tenant's own agent: root on its node, it sends what it likes on its topics
// (hostile review of the change).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { create, toBinary } from '@bufbuild/protobuf';
import { NodeStatusSchema, Presence } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { startMqttIngest } from '../wire/mqtt-ingest.ts';
import { createCommandOutbox, type CommandOutbox } from './command-outbox.ts';
import { createPresenceTracker } from './presence-tracker.ts';

let broker: NodeBroker;
let store: FleetStore;
let outbox: CommandOutbox;
let url: string;
let statuses = 0;
let redelivered = 0;
const clients: MqttClient[] = [];
const reboot = { kind: 'reboot', args: { pxeNext: false } } as const;
const online = (connection: number) => Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, { presence: Presence.ONLINE, bootId: 'tenant', connection })));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function connect(options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: 'n1', username: 'n1', password: 'x', reconnectPeriod: 0, ...options });
  clients.push(client);
  return client;
}

beforeEach(async () => {
  statuses = 0;
  redelivered = 0;
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const id of ['n1', 'n2']) {
    await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: new Date() });
  }
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async (id) => id === 'n1' });
  url = `mqtt://127.0.0.1:${(await broker.listen(0, '127.0.0.1')).port}`;
  const events = new FleetEvents();
  let ids = 0;
  outbox = createCommandOutbox({ store, broker, events, now: () => new Date(), newId: () => `c${(ids += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 3, maxPayloadBytes: 4096 });
  await outbox.listen();
  const presence = createPresenceTracker({ store, events, now: () => new Date(), heartbeatGraceMs: 60_000 });
  // The redelivery's promise handed back: the ingest must not wait on it inside the broker's handler.
  await startMqttIngest({ broker, presence, events, now: () => new Date(), maxPayloadBytes: 4096, store, telemetry: [], agentOnline: (nodeId) => {
    statuses += 1;
    return outbox.redeliver(nodeId).then((sent) => (redelivered += sent));
  } });
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => undefined);
  await broker.close();
  await store.close();
});

describe('commands sent again when a node says it is online, wired as the manager wires them', () => {
  it('reach a node back on a broker that forgot its session, in the agent\'s own order (online, then subscribe)', async () => {
    await outbox.send('n1', reboot, null); // published to no one: the node is away
    const node = await connect({ clean: false });
    let got = 0;
    node.on('message', () => (got += 1));
    node.publish('mf/v1/nodes/n1/status', online(1), { qos: 1 });
    node.subscribe('mf/v1/nodes/n1/commands', { qos: 1 });
    // Without it, the next delivery comes at the ack deadline, 30 s on.
    await until(() => got > 0, 'the command sent again');
  });

  it('keep the broker serving every node while a tenant sends 120 "online" statuses at QoS 0 with a command unacknowledged', async () => {
    // Awaited inside the broker's handler, each redelivery's publish waited for one of the 100 delivery places that
    // the statuses held: the broker stopped for every node until the manager restarted.
    await outbox.send('n1', reboot, null);
    const tenant = await connect();
    for (let i = 0; i < 120; i += 1) tenant.publish('mf/v1/nodes/n1/status', online(1), { qos: 0 });
    await until(() => statuses >= 120, 'the statuses handled');
    const other = await Promise.race([outbox.send('n2', reboot, null).then(() => 'sent'), new Promise((r) => setTimeout(() => r('stuck'), 5000))]);
    expect(other).toBe('sent');
  });

  it('publish a command once more however often the tenant says it is online', async () => {
    await outbox.send('n1', reboot, null);
    // Persistent session, subscribed, never acknowledging: each copy published would be kept in its session.
    const tenant = await connect({ clean: false, customHandleAcks: () => undefined });
    await tenant.subscribeAsync('mf/v1/nodes/n1/commands', { qos: 1 });
    for (let i = 0; i < 300; i += 1) tenant.publish('mf/v1/nodes/n1/status', online(i + 1), { qos: 1 });
    await until(() => statuses >= 300, 'the statuses handled');
    // Drained: one more batch after the last status finds nothing to send.
    expect(await outbox.redeliver('n1')).toBe(0);
    expect(redelivered).toBe(1);
  });
});
