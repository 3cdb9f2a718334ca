import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createNodeBroker, type BrokerEvent, type BrokerMessage, type NodeBroker } from './mqtt-broker.ts';

const secrets: Record<string, string> = { 'node-a': 'secret-a', 'node-b': 'secret-b' };
let broker: NodeBroker;
let url: string;
const received: BrokerMessage[] = [];
const events: BrokerEvent[] = [];

beforeAll(async () => {
  broker = await createNodeBroker({
    authenticateNode: async (nodeId, secret) => secrets[nodeId] === secret,
    maxPayloadBytes: 1024,
    onEvent: (e) => events.push(e),
  });
  const address = await broker.listen(0, '127.0.0.1');
  url = `mqtt://127.0.0.1:${address.port}`;
  await broker.subscribe('mf/v1/nodes/+/+', (m) => void received.push(m));
});

afterAll(() => broker.close());

function connect(nodeId: string, password: string, clientId = nodeId): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, username: nodeId, password, reconnectPeriod: 0, connectTimeout: 2000 });
}

async function waitFor(predicate: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

describe('node broker ACL (real MQTT clients)', () => {
  it('refuses a wrong credential, an unknown node and a client id that is not the node id', async () => {
    await expect(connect('node-a', 'wrong')).rejects.toThrow(/Bad username or password/i);
    await expect(connect('node-x', 'secret-a')).rejects.toThrow(/Bad username or password/i);
    await expect(connect('node-a', 'secret-a', 'node-b')).rejects.toThrow(/Bad username or password/i);
    expect(events.filter((e) => e.type === 'auth-failed')).toHaveLength(3);
  });

  it('delivers a node\'s publish to its own topic', async () => {
    const a = await connect('node-a', 'secret-a');
    await a.publishAsync('mf/v1/nodes/node-a/status', Buffer.from('hello'), { qos: 1 });
    expect(await waitFor(() => received.some((m) => m.topic === 'mf/v1/nodes/node-a/status'))).toBe(true);
    await a.endAsync();
  });

  it('drops node A\'s publish to node B\'s topics and disconnects it', async () => {
    const a = await connect('node-a', 'secret-a');
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish('mf/v1/nodes/node-b/status', Buffer.from('spoofed'), { qos: 1 });
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    expect(received.some((m) => m.topic === 'mf/v1/nodes/node-b/status')).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'publish-denied', nodeId: 'node-a', topic: 'mf/v1/nodes/node-b/status' }));
    a.end(true);
  });

  it('refuses node A a subscription to node B\'s commands or any wildcard, and grants its own', async () => {
    const a = await connect('node-a', 'secret-a');
    for (const filter of ['mf/v1/nodes/node-b/commands', 'mf/v1/nodes/+/commands', '#']) {
      const refused = await a.subscribeAsync(filter, { qos: 1 }).catch((e: { packet?: { granted?: number[] } }) => e);
      expect(refused, filter).toMatchObject({ packet: { granted: [128] } });
    }
    const own = await a.subscribeAsync('mf/v1/nodes/node-a/commands', { qos: 1 });
    expect(own[0]?.qos).toBe(1);

    const got: string[] = [];
    a.on('message', (topic) => got.push(topic));
    await broker.publish('mf/v1/nodes/node-b/commands', Buffer.from('for b'), { qos: 1, retain: false });
    await broker.publish('mf/v1/nodes/node-a/commands', Buffer.from('for a'), { qos: 1, retain: false });
    expect(await waitFor(() => got.length > 0)).toBe(true);
    expect(got).toEqual(['mf/v1/nodes/node-a/commands']);
    await a.endAsync();
  });

  it('delivers a node\'s retained status and its last will to the manager', async () => {
    const will = { topic: 'mf/v1/nodes/node-a/status', payload: Buffer.from('gone'), qos: 1 as const, retain: true };
    const a = await mqtt.connectAsync(url, { clientId: 'node-a', username: 'node-a', password: 'secret-a', reconnectPeriod: 0, will });
    await a.publishAsync('mf/v1/nodes/node-a/status', Buffer.from('here'), { qos: 1, retain: true });
    expect(await waitFor(() => received.some((m) => m.payload.toString() === 'here'))).toBe(true);
    a.stream.destroy(); // the node vanishes without a DISCONNECT: the broker publishes its will
    expect(await waitFor(() => received.some((m) => m.topic === will.topic && m.payload.toString() === 'gone'))).toBe(true);
    a.end(true);
  });

  it('refuses a QoS 2 publish from a node and disconnects it before the manager (or the broker\'s store) takes it', async () => {
    // aedes keeps an unreleased QoS 2 publish per persistent session until PUBREL: the attack held
    // them with clean: false and reconnected. Refused at authorization, nothing is stored or delivered.
    const b = await mqtt.connectAsync(url, { clientId: 'node-b', username: 'node-b', password: 'secret-b', reconnectPeriod: 0, clean: false });
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
    b.publish('mf/v1/nodes/node-b/health', Buffer.from('held at qos 2'), { qos: 2 });
    const delivered = () => received.some((m) => m.payload.toString() === 'held at qos 2');
    // Whichever comes first: the broker closing the connection, or the manager receiving the message.
    await Promise.race([closed, waitFor(delivered, 10_000)]);
    expect(delivered()).toBe(false);
    expect(b.connected).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'publish-denied', nodeId: 'node-b', reason: expect.stringMatching(/QoS 2/) as unknown }));
    b.end(true);

    // The node is not shut out: QoS 1, what its health reports use, still goes through.
    const again = await connect('node-b', 'secret-b');
    await again.publishAsync('mf/v1/nodes/node-b/health', Buffer.from('at qos 1'), { qos: 1 });
    expect(await waitFor(() => received.some((m) => m.payload.toString() === 'at qos 1'))).toBe(true);
    expect(delivered()).toBe(false);
    await again.endAsync();
  });

  it('refuses an oversized payload', async () => {
    const b = await connect('node-b', 'secret-b');
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
    b.publish('mf/v1/nodes/node-b/telemetry', Buffer.alloc(4096), { qos: 1 });
    await closed;
    expect(received.some((m) => m.topic === 'mf/v1/nodes/node-b/telemetry')).toBe(false);
    b.end(true);
  });
});
