// A node's report is acknowledged (PUBACK) only once it is stored: through the real embedded broker,
// with a real MQTT client as the node (a persistent session, as the agent keeps), and a store whose
// writes fail on demand. The client's publish promise is the agent's spool: it drops an entry when
// the publish resolves, and keeps it otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { create, toBinary } from '@bufbuild/protobuf';
import { CommandPhase, CommandProgressSchema, HealthChangeKind, HealthMessageSchema, Remediation, Severity } from '@metalfleet/proto';
import { createNodeBroker, type BrokerEvent, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { startMqttIngest } from './mqtt-ingest.ts';
import { createPresenceTracker } from '../controllers/presence-tracker.ts';
import { createCommandOutbox, type CommandOutbox } from '../controllers/command-outbox.ts';
import { hashSecret, secretMatches } from '../secrets/secrets.ts';

let broker: NodeBroker;
let real: FleetStore;
let outbox: CommandOutbox;
const nodes: MqttClient[] = [];
const seen: FleetEvent[] = [];
const brokerEvents: BrokerEvent[] = [];
// Store writes named here fail (a full disk, a lost database connection) until removed.
const failing = new Set<string>();

/** The real store, with the writes in `failing` throwing. */
function flakyStore(store: FleetStore): FleetStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (failing.has(String(name))) return Promise.reject(new Error(`disk I/O error in ${String(name)}`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function until(predicate: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let port = 0;
async function connectNode(id: string): Promise<MqttClient> {
  // As the agent connects: a persistent session, reconnecting by itself.
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: id, username: id, password: `cred-${id}`, clean: false, reconnectPeriod: 100 });
  nodes.push(client);
  return client;
}

/** A publish, with whether its PUBACK came (the agent would then drop it from its spool). */
function send(client: MqttClient, topic: string, payload: Uint8Array) {
  const state = { acknowledged: false, promise: Promise.resolve() };
  state.promise = client.publishAsync(topic, Buffer.from(payload), { qos: 1 }).then(() => {
    state.acknowledged = true;
  });
  return state;
}

const healthEvent = (eventId: string) => toBinary(HealthMessageSchema, create(HealthMessageSchema, {
  kind: {
    case: 'event',
    value: {
      eventId, sequence: 1n, changes: [{
        kind: HealthChangeKind.APPEARED,
        condition: { component: 'gpu0', code: 'XID_79', severity: Severity.WARNING, remediation: Remediation.NONE, message: 'fell off the bus' },
      }],
    },
  },
}));

const progress = (commandId: string, phase: CommandPhase) => toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, phase, message: 'done', verifiedSha256: 'ab'.repeat(32) }));

beforeAll(async () => {
  real = openSqliteFleetStore({ path: ':memory:' });
  const store = flakyStore(real);
  const at = new Date();
  for (const id of ['n1', 'n2', 'n3']) {
    await real.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: hashSecret(`cred-${id}`), at });
  }
  const events = new FleetEvents();
  events.on((e) => void seen.push(e));
  broker = await createNodeBroker({
    maxPayloadBytes: 4096,
    authenticateNode: async (id, secret) => {
      const hash = await real.credentialHash(id);
      return hash !== null && secretMatches(secret, hash);
    },
    onEvent: (e) => void brokerEvents.push(e),
  });
  ({ port } = await broker.listen(0, '127.0.0.1'));
  const presence = createPresenceTracker({ store, events, now: () => new Date(), heartbeatGraceMs: 60_000 });
  await startMqttIngest({ broker, presence, events, now: () => new Date(), maxPayloadBytes: 4096, store, telemetry: [] });
  let n = 0;
  outbox = createCommandOutbox({ store, broker, events, now: () => new Date(), newId: () => `cmd-${(n += 1)}`, ackTimeoutMs: 600_000, maxAttempts: 3, maxPayloadBytes: 4096 });
  await outbox.listen();
});

afterAll(async () => {
  for (const node of nodes) await node.endAsync(true);
  await broker.close();
  await real.close();
});

describe('reports are acknowledged only once stored', () => {
  it('a health event whose write fails gets no PUBACK; the node keeps it, sends it again, and it is stored once', async () => {
    const node = await connectNode('n1');
    failing.add('applyHealthEvent');
    const report = send(node, 'mf/v1/nodes/n1/health', healthEvent('ev-00000001'));
    // The manager refuses it (the write failed): the connection is closed without a PUBACK.
    await until(() => brokerEvents.some((e) => e.type === 'client-error' && e.clientId === 'n1' && e.message.includes('not stored')));
    await until(() => !node.connected || node.reconnecting);
    expect(report.acknowledged).toBe(false);
    expect(await real.healthEvents('n1', 100)).toEqual([]);

    // The store is back: the node's next session sends it again; acknowledged now, and stored once.
    failing.delete('applyHealthEvent');
    await report.promise;
    expect(await real.healthEvents('n1', 100)).toHaveLength(1);
    expect(seen.filter((e) => e.type === 'health-changed' && e.eventId === 'ev-00000001')).toHaveLength(1);

    // The same event again (a spool sent after a lost PUBACK): acknowledged, one event still.
    await send(node, 'mf/v1/nodes/n1/health', healthEvent('ev-00000001')).promise;
    expect(await real.healthEvents('n1', 100)).toHaveLength(1);
    expect(seen.filter((e) => e.type === 'health-changed' && e.eventId === 'ev-00000001')).toHaveLength(1);
    expect(seen).toContainEqual(expect.objectContaining({ type: 'health-duplicate', nodeId: 'n1', eventId: 'ev-00000001' }));
  });

  it('another node\'s event with the same id is its own event, not a duplicate', async () => {
    const node = await connectNode('n2');
    await send(node, 'mf/v1/nodes/n2/health', healthEvent('ev-00000001')).promise;
    expect(await real.healthEvents('n2', 100)).toHaveLength(1);
    expect(await real.healthEvents('n1', 100)).toHaveLength(1);
  });

  it('a progress report is acknowledged only once what it moves is stored; sent again, it moves nothing twice', async () => {
    const command = await outbox.send('n3', { kind: 'reboot', args: { pxeNext: false } }, 'op-1');
    const followed: string[] = [];
    let followerFails = true;
    const unfollow = outbox.follow(async (report) => {
      followed.push(report.phase);
      if (followerFails) throw new Error('the reimage step could not be written');
    });
    try {
      const node = await connectNode('n3');
      const report = send(node, 'mf/v1/nodes/n3/progress', progress(command.id, CommandPhase.SUCCEEDED));
      await until(() => brokerEvents.some((e) => e.type === 'client-error' && e.clientId === 'n3' && e.message.includes('not stored')));
      expect(report.acknowledged).toBe(false);
      // The command moved (its write committed) before the step that follows it failed: the report comes again.
      expect(await real.getCommand(command.id)).toMatchObject({ state: 'succeeded' });

      followerFails = false;
      await report.promise;
      // Sent again: the step that follows it ran again (and this time was stored); the command's event came once.
      expect(followed.length).toBeGreaterThanOrEqual(2);
      expect(seen.filter((e) => e.type === 'command-progress' && e.commandId === command.id)).toHaveLength(1);

      // A late or repeated report after that changes nothing and runs nothing new twice in the command.
      await send(node, 'mf/v1/nodes/n3/progress', progress(command.id, CommandPhase.ACKED)).promise;
      expect(await real.getCommand(command.id)).toMatchObject({ state: 'succeeded' });
      expect(seen.filter((e) => e.type === 'command-progress' && e.commandId === command.id)).toHaveLength(1);
    } finally {
      unfollow();
    }
  });

  it('an agent\'s refusal is acknowledged only once the step it causes is stored; sent again, it gives the command up once', { timeout: 15_000 }, async () => {
    const command = await outbox.send('n3', { kind: 'reboot', args: { pxeNext: false } }, 'op-refused');
    const followed: string[] = [];
    let followerFails = true;
    const unfollow = outbox.follow(async (report) => {
      followed.push(report.phase);
      if (followerFails) throw new Error('the reimage step could not be written');
    });
    try {
      const node = nodes.find((n) => n.options.clientId === 'n3') as MqttClient;
      const refusedN3 = () => brokerEvents.filter((e) => e.type === 'client-error' && e.clientId === 'n3' && e.message.includes('not stored')).length;
      const errorsBefore = refusedN3();
      const report = send(node, 'mf/v1/nodes/n3/progress', progress(command.id, CommandPhase.REFUSED));
      // Before the fix the refusal was acknowledged as soon as the command was given up, with the reimage step it
      // causes (a timeout: power-cycle or fail) left to an event listener nobody waited for: a kill lost that step.
      await until(() => refusedN3() > errorsBefore);
      expect(report.acknowledged).toBe(false);
      expect(await real.getCommand(command.id)).toMatchObject({ state: 'expired', message: expect.stringContaining('refused by the agent') });

      followerFails = false;
      await report.promise;
      // Sent again after the failure: the step ran again (stored this time); the command was given up once.
      expect(followed.filter((p) => p === 'refused').length).toBeGreaterThanOrEqual(2);
      expect(seen.filter((e) => e.type === 'command-expired' && e.commandId === command.id)).toHaveLength(1);
    } finally {
      unfollow();
    }
  });

  it('a node whose reports fail does not hold up another node\'s', async () => {
    const [bad, good] = [nodes[0] as MqttClient, nodes[1] as MqttClient];
    failing.add('replaceConditions');
    const digest = toBinary(HealthMessageSchema, create(HealthMessageSchema, { kind: { case: 'digest', value: { conditions: [] } } }));
    const flood = Array.from({ length: 50 }, () => send(bad, 'mf/v1/nodes/n1/health', digest));
    await send(good, 'mf/v1/nodes/n2/health', healthEvent('ev-00000002')).promise;
    expect(await real.healthEvents('n2', 100)).toHaveLength(2);
    expect(flood.some((r) => r.acknowledged)).toBe(false);
    failing.delete('replaceConditions');
    await Promise.all(flood.map((r) => r.promise));
  });
});

describe('a report the store can never take', () => {
  it('is acknowledged as refused, not sent again forever: the node\'s next report is stored', { timeout: 15_000 }, async () => {
    const node = await connectNode('n3');
    // A time no Date can hold: the node's clock or its agent is broken (or hostile). Stored, it can never be.
    const poison = toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: {
        case: 'event',
        value: {
          eventId: 'ev-poison-01', sequence: 1n, at: { seconds: 10n ** 15n, nanos: 0 }, changes: [{
            kind: HealthChangeKind.APPEARED,
            condition: { component: 'gpu0', code: 'XID_79', severity: Severity.WARNING, remediation: Remediation.NONE, message: 'fell off the bus' },
          }],
        },
      },
    }));
    // Before the fix: no PUBACK ever (NOT NULL constraint failed: health_events.at), the connection closed, the same
    // report sent again at each reconnect, and the node's later reports never came past it.
    await send(node, 'mf/v1/nodes/n3/health', poison).promise;
    expect(seen).toContainEqual(expect.objectContaining({ type: 'bad-message', nodeId: 'n3', error: 'health event with a time no date can hold' }));
    // A progress report made at such a time: refused whole (its time would be the reimage's evidence), the command unmoved.
    const command = await outbox.send('n3', { kind: 'reboot', args: { pxeNext: false } }, null);
    const progressPoison = toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId: command.id, phase: CommandPhase.ACKED, message: 'ok', at: { seconds: 10n ** 15n, nanos: 0 } }));
    await send(node, 'mf/v1/nodes/n3/progress', progressPoison).promise;
    expect(seen).toContainEqual(expect.objectContaining({ type: 'bad-message', nodeId: 'n3', error: `progress for command ${command.id} made at a time no date can hold` }));
    expect(await real.getCommand(command.id)).toMatchObject({ state: 'sent' });
    await send(node, 'mf/v1/nodes/n3/health', healthEvent('ev-after-poison')).promise;
    expect((await real.healthEvents('n3', 100)).map((e) => e.eventId)).toContain('ev-after-poison');
  });
});
