// Ingest through the real embedded broker, with a real MQTT client as the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { create, toBinary } from '@bufbuild/protobuf';
import { HealthChangeKind, HealthMessageSchema, NodeStatusSchema, Presence, Remediation, Severity, TelemetrySchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { startMqttIngest } from './mqtt-ingest.ts';
import { createPresenceTracker } from '../controllers/presence-tracker.ts';
import { RollupStore } from '@metalfleet/telemetry';
import { hashSecret } from '../secrets/secrets.ts';
import { createNodeCredentials } from '../services/node-credentials.ts';

let broker: NodeBroker;
let store: FleetStore;
let node: MqttClient;
let presence: ReturnType<typeof createPresenceTracker>;
const rollups = new RollupStore({ path: ':memory:' });
const seen: FleetEvent[] = [];
/** Nodes the ingest said were online, each time (to send their unacknowledged commands again). */
const heardOnline: string[] = [];

async function until(predicate: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  const at = new Date();
  await store.createBootstrapToken({ id: 'tok-1', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'single use', secretHash: 'h', createdAt: at, expiresAt: new Date(at.getTime() + 600_000), revokedAt: null, maxUses: 1, uses: 0 });
  await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: hashSecret('cred-1'), at },
    { tokenId: 'tok-1', identityKey: 'key-u1', nonceHash: 'nonce-u1' });
  const events = new FleetEvents();
  events.on((e) => seen.push(e));
  broker = await createNodeBroker({
    maxPayloadBytes: 4096,
    authenticateNode: createNodeCredentials(store).check,
  });
  const { port } = await broker.listen(0, '127.0.0.1');
  presence = createPresenceTracker({ store, events, now: () => new Date(), heartbeatGraceMs: 60_000 });
  await startMqttIngest({ broker, presence, events, now: () => new Date(), maxPayloadBytes: 4096, store, telemetry: [rollups], agentOnline: async (nodeId) => heardOnline.push(nodeId) });
  node = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'n1', username: 'n1', password: 'cred-1', reconnectPeriod: 0 });
});

afterAll(async () => {
  await node.endAsync();
  await broker.close();
  await store.close();
});

const presenceOf = async () => (await store.getNode('n1'))?.presence;

describe('MQTT ingest', () => {
  it('sets presence from a protobuf status message; connected with its credential, the token use that registered the node is final', async () => {
    // The broker accepted its credential (node-credentials.ts): the same token and identity again is no longer a lost reply (registrar.ts).
    expect(await store.findTokenUse('tok-1', 'key-u1')).toBeNull();
    await node.publishAsync('mf/v1/nodes/n1/status', Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, { presence: Presence.ONLINE }))), { qos: 1 });
    await until(async () => (await presenceOf()) === 'online');
  });

  it('reports a malformed payload as a bad message and changes nothing', async () => {
    const before = await store.getNode('n1');
    await node.publishAsync('mf/v1/nodes/n1/status', Buffer.from([0x08, 0xff, 0xff, 0xff]), { qos: 1 });
    await node.publishAsync('mf/v1/nodes/n1/status', Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, {}))), { qos: 1 });
    await until(() => seen.filter((e) => e.type === 'bad-message').length === 2);
    expect(seen.filter((e) => e.type === 'bad-message')).toEqual([
      expect.objectContaining({ nodeId: 'n1', error: expect.stringContaining('malformed metalfleet.v1.NodeStatus') }),
      expect.objectContaining({ nodeId: 'n1', error: 'status without a presence' }),
    ]);
    expect(await store.getNode('n1')).toEqual(before);
  });

  it('keeps a node online when a dropped connection\'s last will arrives after the same agent session\'s next connection came online', async () => {
    const status = (presence: Presence, connection: number) =>
      Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, { presence, bootId: 'session-a', connection })));
    const barrier = async () => {
      const bad = seen.filter((e) => e.type === 'bad-message').length;
      await node.publishAsync('mf/v1/nodes/n1/status', Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, {}))), { qos: 1 });
      await until(() => seen.filter((e) => e.type === 'bad-message').length > bad);
    };
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.ONLINE, 2), { qos: 1 });
    await until(async () => (await presenceOf()) === 'online');
    // Connection 1's will, delivered late (one node's reports are handled in order: the barrier's turn comes after it).
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.OFFLINE, 1), { qos: 1 });
    await barrier();
    expect(await presenceOf()).toBe('online');
    // Connection 2's own will is the agent gone.
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.OFFLINE, 2), { qos: 1 });
    await until(async () => (await presenceOf()) === 'offline');
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.ONLINE, 3), { qos: 1 });
    await until(async () => (await presenceOf()) === 'online');
  });

  it('says each online status of an agent, also of a node online already (a new connection): what it was sent while away goes again', async () => {
    const status = (presence: Presence, connection: number) =>
      Buffer.from(toBinary(NodeStatusSchema, create(NodeStatusSchema, { presence, bootId: 'session-b', connection })));
    await until(async () => (await presenceOf()) === 'online');
    const before = heardOnline.length;
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.ONLINE, 1), { qos: 1 });
    await until(() => heardOnline.length === before + 1);
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.OFFLINE, 1), { qos: 1 });
    await until(async () => (await presenceOf()) === 'offline');
    await node.publishAsync('mf/v1/nodes/n1/status', status(Presence.ONLINE, 2), { qos: 1 });
    await until(async () => (await presenceOf()) === 'online');
    expect(heardOnline.slice(before)).toEqual(['n1', 'n1']);
  });

  it('counts telemetry as a heartbeat', async () => {
    const before = (await store.getNode('n1'))?.lastSeenAt?.getTime() ?? 0;
    await new Promise((r) => setTimeout(r, 5));
    await node.publishAsync('mf/v1/nodes/n1/telemetry', Buffer.from(toBinary(TelemetrySchema, create(TelemetrySchema, { cpuLoadPercent: 12 }))), { qos: 1 });
    await until(async () => {
      await presence.flush(); // heartbeats are written in batches
      return ((await store.getNode('n1'))?.lastSeenAt?.getTime() ?? 0) > before;
    });
    const now = new Date();
    const series = await rollups.series({ nodeId: 'n1', metric: 'cpu_load_percent', gpu: null, from: new Date(now.getTime() - 120_000), to: now });
    expect(series.map((p) => p.avg)).toEqual([12]);
  });

  it('stores a health event once however often it is delivered, refuses malformed ones, and applies digests', async () => {
    const condition = { component: 'gpu:0000:18:00', code: 'thermal-slowdown', severity: Severity.WARNING, remediation: Remediation.NONE, message: 'hot' };
    const event = Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: 'event-0001', sequence: 1n, changes: [{ kind: HealthChangeKind.APPEARED, condition }] } },
    })));
    await node.publishAsync('mf/v1/nodes/n1/health', event, { qos: 1 });
    await node.publishAsync('mf/v1/nodes/n1/health', event, { qos: 1 });
    await until(() => seen.some((e) => e.type === 'health-duplicate'));
    expect(seen.filter((e) => e.type === 'health-changed')).toHaveLength(1);
    expect((await store.healthEvents('n1', 10)).map((e) => e.eventId)).toEqual(['event-0001']);
    expect((await store.conditions('n1')).map((c) => c.code)).toEqual(['thermal-slowdown']);

    const invalid = Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: 'event-0002', changes: [{ kind: HealthChangeKind.APPEARED, condition: { ...condition, severity: Severity.UNSPECIFIED } }] } },
    })));
    await node.publishAsync('mf/v1/nodes/n1/health', invalid, { qos: 1 });
    await until(() => seen.some((e) => e.type === 'bad-message' && e.error.includes('invalid change')));
    expect((await store.healthEvents('n1', 10))).toHaveLength(1);

    const digest = Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, { kind: { case: 'digest', value: { conditions: [] } } })));
    await node.publishAsync('mf/v1/nodes/n1/health', digest, { qos: 1 });
    await until(async () => (await store.conditions('n1')).length === 0);
  });
  it('refuses a health event that would leave a node holding more conditions than the limit, and keeps what it had', async () => {
    const batch = (n: number) => Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: `flood-${String(n).padStart(4, '0')}`, sequence: BigInt(100 + n), changes: Array.from({ length: 40 }, (_, i) => ({
        kind: HealthChangeKind.APPEARED, condition: { component: 'gpu0', code: `flood-${n}-${i}`, severity: Severity.WARNING, remediation: Remediation.NONE, message: 'm' },
      })) } },
    })));
    for (let n = 0; n < 8; n += 1) await node.publishAsync('mf/v1/nodes/n1/health', batch(n), { qos: 1 });
    await until(() => seen.some((e) => e.type === 'bad-message' && e.error.includes('limit 256')));
    const held = await store.conditions('n1');
    expect(held.length).toBeLessThanOrEqual(256);
    expect(held.filter((c) => c.code.startsWith('flood-7-'))).toEqual([]);
  });
});
