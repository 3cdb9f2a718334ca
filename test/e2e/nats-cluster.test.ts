// Two manager replicas on PostgreSQL and a three-node NATS cluster, configured
// as deploy/ha/nats ships it (JetStream, the MQTT listener with client
// certificates, the accounts the manager wrote): nodes connect over MQTT with
// their certificate and the user token the manager signed; the broker alone
// keeps each node to its own topics; a broker node killed loses no health
// event (the stream where the MQTT listener keeps QoS 1 publishes is
// replicated, the agents fail over) and telemetry resumes; a node an operator
// revoked is refused by every broker node; a report acknowledged while the
// streams change leader is stored.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { connect as natsConnect, jwtAuthenticator } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHealth, NodeList } from '@metalfleet/api';
import { statusPayload } from '@metalfleet/agent-runtime';
import { issueManagerClientCertificate, issueServerCertificate, loadNatsAccounts } from '@metalfleet/manager-transport';
import { create, toBinary } from '@bufbuild/protobuf';
import { HealthChangeKind, HealthMessageSchema, Remediation, Severity } from '@metalfleet/proto';
import { ManagerProcess } from '../support/manager.ts';
import { natsPorts, natsUrls, startNatsCluster, startRogueRoute, type NatsCluster, type NatsPorts } from '../support/nats.ts';
import { copyReplicaState, dropSchema, sharedPostgres } from '../support/replicas.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-nats-cluster-'));
const agentDir = join(dir, 'agents');
const faultsFile = join(dir, 'faults.json');
let routePorts: NatsPorts = [];
const schema = `mf_e2e_nats_${randomBytes(4).toString('hex')}`;
const size = 4;
const replicas: ManagerProcess[] = [];
let cluster: NatsCluster | null = null;
let agent: Proc | null = null;

interface NodeFiles { certPem: string; keyPem: string; token: string; index: number }

/** Each simulated node's certificate, key and broker token as its agent keeps them, by node id. */
function nodeFiles(): Map<string, NodeFiles> {
  const files = new Map<string, NodeFiles>();
  for (const path of readdirSync(agentDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('credential.json'))) {
    const nodeDir = join(agentDir, path, '..');
    const { nodeId } = JSON.parse(readFileSync(join(nodeDir, 'credential.json'), 'utf8')) as { nodeId: string };
    try {
      files.set(nodeId, {
        certPem: readFileSync(join(nodeDir, 'client.crt'), 'utf8'), keyPem: readFileSync(join(nodeDir, 'client.key'), 'utf8'),
        token: readFileSync(join(nodeDir, 'broker.token'), 'utf8'), index: Number(/(\d+)$/.exec(join(path, '..'))?.[1] ?? 0),
      });
    } catch {
      // Not issued yet.
    }
  }
  return files;
}

/** An MQTT 3.1.1 client of broker node `i` with the given certificate and password: connected, or why not. */
async function connectAs(i: number, identity: { certPem: string; keyPem: string } | null, password: string, clientId = `test-${randomBytes(4).toString('hex')}`): Promise<{ client: mqtt.MqttClient | null; error: string }> {
  const client = mqtt.connect(cluster!.nodes[i]!.mqttUrl, {
    protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, clientId, clean: false, username: 'x', password,
    ca: readFileSync(replicas[0]!.caFile), rejectUnauthorized: true, ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
  });
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client, error: '' }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ client: null, error: error.message });
    });
    client.once('close', () => resolve({ client: null, error: 'closed by the broker' }));
  });
}

/** Health event ids each simulated node (by its index) logged as spooled. */
function spooledEventIds(): Map<number, string[]> {
  const ids = new Map<number, string[]>();
  for (const line of agent?.lines ?? []) {
    if (!line.includes('"health event spooled"')) continue;
    const entry = JSON.parse(line) as { eventId: string; hardware: string };
    const key = Number(/#(\d+)$/.exec(entry.hardware)?.[1] ?? -1);
    ids.set(key, [...(ids.get(key) ?? []), entry.eventId]);
  }
  return ids;
}

/** A native connection to broker node `i` with the manager's credentials (the account's JetStream API). */
async function asManager(i: number) {
  const { jwt, seed } = await loadNatsAccounts(join(replicas[0]!.dataDir, 'pki')).managerCredentials();
  return natsConnect({ servers: cluster!.nodes[i]!.clientUrl, authenticator: jwtAuthenticator(jwt, seed), tls: { ca: readFileSync(replicas[0]!.caFile, 'utf8') } });
}

/** A health event as an agent sends it, that raises or clears a test condition. */
function healthEvent(eventId: string, i: number): Uint8Array {
  const change = i % 2 === 0 ? HealthChangeKind.APPEARED : HealthChangeKind.CLEARED;
  return toBinary(HealthMessageSchema, create(HealthMessageSchema, { kind: { case: 'event', value: {
    eventId, sequence: BigInt(1_000_000 + i), changes: [{ kind: change, condition: { component: 'test', code: 'STREAMS', severity: Severity.WARNING, remediation: Remediation.NONE, message: 'streams under test' } }],
  } } }));
}

beforeAll(async () => {
  writeFileSync(faultsFile, '{}');
  const ports = await natsPorts(3);
  routePorts = ports;
  const urls = natsUrls(ports);
  const common = ['--postgres-url', sharedPostgres, '--postgres-schema', schema, '--mqtt-url', urls.mqtt, '--nats-url', urls.nats,
    '--health-interval-s', '0.5', '--telemetry-interval-s', '1', '--heartbeat-grace-s', '30'];
  const a = new ManagerProcess(join(dir, 'a'), [...common, '--replica-id', 'a']);
  replicas.push(a);
  await a.start();
  // The nodes power on before the broker cluster is up: they are not registered until the replicas' consumers exist
  // (the cluster drops what no consumer wants: their first reports would be acknowledged and lost).
  agent = start(agentBin, ['--manager', a.grpc, '--bootstrap-token-file', a.tokenFile, '--simulate', String(size), '--simulate-seed', 'nats',
    '--state-dir', agentDir, '--faults-file', faultsFile, '--health-interval-s', '0.5', '--kernel-cmdline', '/nonexistent']);
  await eventually(async () => agent?.lines.join('\n') ?? '', (out) => out.includes('cannot keep nodes\' reports yet'), 30_000);
  // The brokers' certificate from the manager's CA (deploy/ha/README.md), and the accounts file the manager wrote.
  const ca = { certPem: readFileSync(a.caFile, 'utf8'), keyPem: readFileSync(join(a.dataDir, 'pki', 'ca.key'), 'utf8'), fingerprint: '' };
  // A secret whose hex reads as a number ("6e5…"): the route password made from it as the README says still starts the brokers.
  const routeSecret = Buffer.concat([Buffer.from('6e5a', 'hex'), randomBytes(30)]);
  cluster = await startNatsCluster(ports, { accountsFile: join(a.dataDir, 'pki', 'nats-accounts.conf'), caFile: a.caFile, server: await issueServerCertificate(ca, ['127.0.0.1', 'localhost'], 397, true), routeSecret });
  copyReplicaState(a.dataDir, join(dir, 'b'));
  const b = new ManagerProcess(join(dir, 'b'), [...common, '--replica-id', 'b']).onExistingState();
  replicas.push(b);
  await b.start();
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  for (const r of replicas) await r.stop();
  await cluster?.stop();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

describe('a three-node NATS cluster', { timeout: 180_000 }, () => {
  it('carries the nodes\' reports to the replicas: every node online and inspected', async () => {
    const nodes = await eventually(() => replicas[0]!.nodes(), (l: NodeList) => l.items.length === size && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 120_000);
    expect(nodes.items).toHaveLength(size);
    // Both replicas took reports off the shared stream.
    for (const replica of replicas) expect(replica.proc?.lines.some((l) => l.includes('connected to the external broker'))).toBe(true);
    // Each replica ready: its commands client is connected to the cluster's MQTT listener, its consumers are set up.
    for (const replica of replicas) {
      await eventually(() => fetch(`${replica.http}/readyz`).then(async (r) => ({ status: r.status, body: await r.text() })), (r) => r.status === 200, 30_000);
    }
  });

  it('carries a command the manager sends with its command token to the node, over a connection that stays up', async () => {
    const files = nodeFiles();
    const [id] = [...files.keys()].sort() as [string];
    const pki = join(replicas[0]!.dataDir, 'pki');
    const ca = { certPem: readFileSync(replicas[0]!.caFile, 'utf8'), keyPem: readFileSync(join(pki, 'ca.key'), 'utf8'), fingerprint: '' };
    const managerCertificate = await issueManagerClientCertificate(ca, 'metalfleet-manager', new Date(), new Date(Date.now() + 3_600_000));
    const token = await (await loadNatsAccounts(pki)).commandToken(new Date(Date.now() + 3_600_000));
    const node = await connectAs(2, files.get(id)!, files.get(id)!.token, `test-node-${id}`);
    const received: string[] = [];
    node.client!.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await node.client!.subscribeAsync(`mf/v1/nodes/${id}/commands`, { qos: 1 });
    const manager = await connectAs(1, managerCertificate, token);
    expect(manager.error).toBe('');
    let closed = false;
    manager.client!.on('close', () => (closed = true));
    await manager.client!.publishAsync(`mf/v1/nodes/${id}/commands`, Buffer.from('a command'), { qos: 1 });
    await eventually(async () => received, (r) => r.includes(`mf/v1/nodes/${id}/commands a command`), 15_000);
    expect(closed).toBe(false);
    await manager.client!.endAsync();
    await node.client!.endAsync();
  });

  it('keeps each node to its own topics, and lets in no client without a certificate from the manager\'s CA and a token', async () => {
    const files = nodeFiles();
    const [a, b] = [...files.keys()].sort() as [string, string];
    const own = files.get(a)!;
    const { client } = await connectAs(1, own, own.token);
    expect(client).not.toBeNull();
    const received: string[] = [];
    client!.on('message', (topic) => received.push(topic));
    // Another node's commands, every node's everything: refused (SUBACK failure), nothing delivered.
    for (const filter of [`mf/v1/nodes/${b}/commands`, 'mf/v1/nodes/#', `mf/v1/nodes/${b}/telemetry`]) {
      await expect(client!.subscribeAsync(filter, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    }
    // Node b said to be offline, by node a: the broker drops it (acknowledged, never delivered).
    await client!.publishAsync(`mf/v1/nodes/${b}/status`, Buffer.from(statusPayload('offline', new Date(), '0.1.0', 'spoofed')), { qos: 1 });
    const seen = (list: NodeList) => new Date(list.items.find((n) => n.id === b)?.lastSeenAt ?? 0).getTime();
    const since = seen(await replicas[0]!.nodes());
    const after = await eventually(() => replicas[0]!.nodes(), (l: NodeList) => seen(l) > since + 2000, 30_000);
    expect(after.items.find((n) => n.id === b)?.presence).toBe('online');
    expect(received).toEqual([]);
    await client!.endAsync();
    expect(cluster!.nodes[1]!.output()).toMatch(/Publish Violation/);
    // Node b's session taken over by node a under b's client id: the broker checks b's subscriptions against a's
    // permissions as it restores them, so a gets nothing of b's; b reconnects and goes on.
    const thief = await connectAs(2, own, own.token, b);
    expect(thief.client).not.toBeNull();
    const stolen: string[] = [];
    thief.client!.on('message', (topic) => stolen.push(topic));
    await eventually(async () => cluster!.nodes[2]!.output(), (out) => out.includes(`Subscription Violation - User "x", Subject "mf.v1.nodes.${b}.commands"`), 10_000);
    await thief.client!.endAsync();
    expect(stolen).toEqual([]);
    // No certificate; a certificate without the token.
    expect((await connectAs(1, null, own.token)).client).toBeNull();
    expect((await connectAs(1, own, 'not-a-token')).client).toBeNull();
    // The token on the brokers' native client port, where $MQTT.sub.> would carry every node's commands: refused.
    const native = natsConnect({ servers: cluster!.nodes[0]!.clientUrl, authenticator: jwtAuthenticator(own.token), tls: { ca: readFileSync(replicas[0]!.caFile, 'utf8') }, reconnect: false, timeout: 5000 });
    await expect(native).rejects.toThrow(/Authorization Violation/i);
  });

  it('keeps a node out of its routes: a node\'s certificate is from the same CA, but without the route password no route is made', async () => {
    const own = [...nodeFiles().values()][0]!;
    for (const password of ['', 'guessed']) {
      const rogue = await startRogueRoute({ target: `127.0.0.1:${routePorts[0]!.cluster}`, identity: own, caFile: replicas[0]!.caFile, password });
      try {
        // TLS passes (the node's certificate is from the manager's CA); the route's authorization does not, and the broker node closes it.
        await eventually(async () => rogue.output(), (out) => /Route Error 'Authorization Violation'[\s\S]*Router connection closed/.test(out), 20_000);
      } finally {
        await rogue.kill();
      }
    }
  });

  it('loses no health event when a broker node is killed, and telemetry resumes', async () => {
    const files = nodeFiles();
    const killedAt = Date.now();
    await cluster!.nodes[0]!.kill();
    // A fault on every node while that broker node is down: each raises one health event.
    writeFileSync(faultsFile, JSON.stringify({ all: ['thermal-slowdown'] }));
    const spooled = await eventually(async () => spooledEventIds(), (ids) => [...files.values()].every((f) => (ids.get(f.index)?.length ?? 0) >= 1), 30_000);
    for (const [nodeId, f] of files) {
      const health = await eventually(() => replicas[1]!.get<NodeHealth>(`/api/v1/nodes/${nodeId}/health`), (h) => h.events.length >= (spooled.get(f.index)?.length ?? 1), 60_000);
      // Each once, in order.
      expect(health.events.map((e) => e.eventId)).toEqual(spooled.get(f.index));
    }
    // Telemetry (and the nodes' presence) goes on through the other broker nodes.
    const fresh = (l: NodeList) => l.items.every((n) => n.presence === 'online' && new Date(n.lastSeenAt ?? 0).getTime() > killedAt + 3000);
    await eventually(() => replicas[0]!.nodes(), fresh, 60_000);
    await cluster!.nodes[0]!.start();
  });

  it('refuses a revoked node on every broker node; the rest of the fleet stays', async () => {
    const files = nodeFiles();
    const [id, ...others] = [...files.keys()].sort() as [string, ...string[]];
    const before = files.get(id)!;
    expect(await replicas[1]!.request('POST', `/api/v1/nodes/${id}/revoke-certificates`)).toMatchObject({ revoked: expect.any(Number) as unknown });
    for (let i = 0; i < 3; i++) {
      await eventually(() => connectAs(i, before, before.token).then(async (r) => (await r.client?.endAsync(), r.client === null)), (refused) => refused, 30_000);
    }
    // A broker node started later from the file as the manager writes it now refuses it too: the file has the revocation.
    const file = readFileSync(join(replicas[1]!.dataDir, 'pki', 'nats-accounts.conf'), 'utf8');
    const account = /^ {2}A\w+: (\S+)$/m.exec(file.split('\n').filter((l) => !l.includes(file.match(/^system_account: (\S+)$/m)?.[1] ?? '-')).join('\n'))?.[1] ?? '';
    const claims = JSON.parse(Buffer.from(account.split('.')[1] ?? '', 'base64url').toString()) as { nats: { revocations?: Record<string, number> } };
    const tokenUser = (JSON.parse(Buffer.from(before.token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string }).sub;
    expect(Object.keys(claims.nats.revocations ?? {})).toContain(tokenUser);
    const other = files.get(others[0]!)!;
    const stillIn = await connectAs(2, other, other.token);
    expect(stillIn.client).not.toBeNull();
    await stillIn.client?.endAsync();
    await eventually(() => replicas[0]!.nodes(), (l: NodeList) => others.every((o) => l.items.find((n) => n.id === o)?.presence === 'online'), 60_000);
  });

  it('stores every report a broker node acknowledged while the streams holding reports change leader', async () => {
    // The last node by id (the revoked one is the first); its own agent goes on beside this client.
    const files = nodeFiles();
    const id = [...files.keys()].sort().at(-1)!;
    const own = files.get(id)!;
    // As the agent does: a persistent session that reconnects and sends again what was not acknowledged (a broker
    // node that cannot store a publish closes the connection instead of acknowledging it).
    const client = await mqtt.connectAsync(cluster!.nodes[1]!.mqttUrl, {
      protocolVersion: 4, reconnectPeriod: 200, connectTimeout: 5000, clientId: `test-${randomBytes(4).toString('hex')}`, clean: false, username: 'x', password: own.token,
      ca: readFileSync(replicas[0]!.caFile), rejectUnauthorized: true, cert: own.certPem, key: own.keyPem,
    });
    // As the manager, on the cluster's native port: leaders of the streams that hold nodes' reports are made to step
    // down again and again while the node publishes (a broker node dying does the same, less often).
    const nc = await asManager(2);
    // Kept on the three broker nodes (deploy/ha/nats: stream_replicas), and bounded by the manager.
    // The cluster may still be choosing its JetStream leader after the broker node the test before killed came back.
    const jsm = await eventually(() => jetstreamManager(nc, { timeout: 5000 }).catch(() => null), (m) => m !== null, 60_000);
    const { config } = await jsm!.streams.info('$MQTT_msgs');
    expect(config).toMatchObject({ num_replicas: 3, max_msgs_per_subject: 10_000 });
    expect(config.max_msg_size).toBeGreaterThan(0);
    // Five rounds, 400 ms apart, while the node publishes.
    const stepDowns = (async () => {
      for (let round = 0; round < 5; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        for (const stream of ['METALFLEET_REPORTS', '$MQTT_msgs']) await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5000 }).catch(() => undefined);
      }
    })();
    const sent: string[] = [];
    for (let i = 0; i < 400; i++) {
      const eventId = `stepdown-${String(i).padStart(5, '0')}`;
      // Acknowledged (PUBACK) before the next is sent: what the agent's spool waits for before it forgets a report.
      // One not acknowledged within 10 s is not counted (the agent would send it again).
      const acked = await Promise.race([
        client.publishAsync(`mf/v1/nodes/${id}/health`, Buffer.from(healthEvent(eventId, i)), { qos: 1 }).then(() => true, () => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
      ]);
      if (acked) sent.push(eventId);
    }
    await stepDowns;
    // Most are acknowledged at once; those sent during an election are acknowledged once sent again.
    expect(sent.length).toBeGreaterThan(300);
    await client.endAsync(true);
    await nc.close();
    const missing = (h: NodeHealth) => {
      const stored = new Set(h.events.map((e) => e.eventId));
      return sent.filter((eventId) => !stored.has(eventId));
    };
    const health = await eventually(() => replicas[1]!.get<NodeHealth>(`/api/v1/nodes/${id}/health?events=1000`), (h) => missing(h).length === 0, 30_000).catch(() => null);
    expect(health === null ? missing(await replicas[1]!.get<NodeHealth>(`/api/v1/nodes/${id}/health?events=1000`)) : []).toEqual([]);
  });

  it('makes a deleted report consumer again, and reads what a former version left in its own stream before removing it', async () => {
    const id = [...nodeFiles().keys()].sort().at(-1)!;
    const nc = await asManager(2);
    const jsm = await jetstreamManager(nc);
    // The former version's stream and its health consumer, holding a report no replica has read.
    await jsm.streams.add({ name: 'METALFLEET_REPORTS', subjects: ['status', 'health', 'progress'].map((k) => `mf.v1.nodes.*.${k}`), retention: RetentionPolicy.Workqueue, num_replicas: 3 });
    await jsm.consumers.add('METALFLEET_REPORTS', { durable_name: 'metalfleet-health', filter_subject: 'mf.v1.nodes.*.health', ack_policy: AckPolicy.Explicit });
    await jetstream(nc).publish(`mf.v1.nodes.${id}.health`, healthEvent('former-00000', 0));
    // The replicas' consumer of health reports deleted (by hand, say): they make it again, and drain the former stream on the way.
    await jsm.consumers.delete('$MQTT_msgs', 'metalfleet-health');
    await eventually(() => replicas[0]!.get<NodeHealth>(`/api/v1/nodes/${id}/health?events=1000`), (h) => h.events.some((e) => e.eventId === 'former-00000'), 30_000);
    await eventually(async () => jsm.streams.info('METALFLEET_REPORTS').then(() => 'still there', () => 'removed'), (state) => state === 'removed', 30_000);
    expect((await jsm.consumers.info('$MQTT_msgs', 'metalfleet-health')).config.filter_subject).toBe('$MQTT.msgs.mf.v1.nodes.*.health');
    await nc.close();
  });
});
