// A node whose clock is days off reports critical conditions: they count in
// the failure window by when the manager received them, not by the node's claim.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { HealthChangeKind, HealthMessageSchema, Remediation, Severity } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { startMqttIngest } from '../wire/mqtt-ingest.ts';
import { createPresenceTracker } from '../controllers/presence-tracker.ts';
import { hashSecret, secretMatches } from '../secrets/secrets.ts';
import { until } from '../fleet-harness.test-kit.ts';
import { createFailures } from './failures.ts';

const day = 86_400_000;
let broker: NodeBroker;
let store: FleetStore;
let node: MqttClient;
let stopFailures: () => void;
let failures: ReturnType<typeof createFailures>;
const seen: FleetEvent[] = [];

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: hashSecret('cred-1'), at: new Date() });
  const events = new FleetEvents();
  events.on((e) => seen.push(e));
  broker = await createNodeBroker({
    maxPayloadBytes: 4096,
    authenticateNode: async (id, secret) => {
      const hash = await store.credentialHash(id);
      return hash !== null && secretMatches(secret, hash);
    },
  });
  const { port } = await broker.listen(0, '127.0.0.1');
  const now = () => new Date();
  const presence = createPresenceTracker({ store, events, now, heartbeatGraceMs: 60_000 });
  await startMqttIngest({ broker, presence, events, now, maxPayloadBytes: 4096, store, telemetry: [] });
  failures = createFailures({ store, events, onError: (error) => { throw error; }, populationTtlMs: 0 });
  stopFailures = failures.listen();
  node = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'n1', username: 'n1', password: 'cred-1', reconnectPeriod: 0 });
});

afterAll(async () => {
  stopFailures();
  await node.endAsync();
  await broker.close();
  await store.close();
});

const critical = (code: string, since: Date) => ({
  component: 'gpu:0000:18:00', code, severity: Severity.CRITICAL, remediation: Remediation.REPLACE, message: 'uncorrectable ECC', since: timestampFromDate(since),
});

describe('failure windows', () => {
  it('count a failure by when the manager received it, however far off the node stamped it', async () => {
    const now = new Date();
    const past = critical('xid-79', new Date(now.getTime() - 3 * day));
    const future = critical('xid-48', new Date(now.getTime() + 3 * day));
    await node.publishAsync('mf/v1/nodes/n1/health', Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: 'event-past-0001', sequence: 1n, at: past.since, changes: [{ kind: HealthChangeKind.APPEARED, condition: past }] } },
    }))), { qos: 1 });
    // The digest that follows names both, the new one for the first time: the first one keeps the time it was first received.
    await node.publishAsync('mf/v1/nodes/n1/health', Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'digest', value: { at: future.since, conditions: [past, future] } },
    }))), { qos: 1 });
    await until(() => seen.filter((e) => e.type === 'failure-recorded').length, (n) => n >= 2, 'both failures to be recorded');

    const rates = await failures.rates('rack', day, new Date());
    expect(rates.reduce((sum, r) => sum + r.failures, 0)).toBe(2);
    for (const c of await store.conditions('n1')) expect(Math.abs(c.since.getTime() - now.getTime())).toBeLessThan(60_000);
    // The node's own time is kept on its health event, for display.
    expect((await store.healthEvents('n1', 10))[0]?.at.toISOString()).toBe(new Date(now.getTime() - 3 * day).toISOString());
    // Another digest with the same conditions records nothing new.
    await node.publishAsync('mf/v1/nodes/n1/health', Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'digest', value: { conditions: [past, future] } },
    }))), { qos: 1 });
    await until(() => seen.filter((e) => e.type === 'health-digest').length, (n) => n >= 2, 'the second digest');
    expect((await store.failuresOf('n1')).length).toBe(2);
  });
});
