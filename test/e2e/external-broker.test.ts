// The manager and its nodes on an external Mosquitto, configured as
// deploy/ha/mosquitto ships it: nodes connect with the client certificates the
// manager signed (named after them), the broker alone keeps each to its own
// topics, the manager takes their reports through a shared subscription and
// sends commands through it (a reimage runs to its end), and a certificate an
// operator revoked is refused once the broker has read the new revocation list.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { statusPayload } from '@metalfleet/agent-runtime';
import { issueServerCertificate } from '@metalfleet/manager-transport';
import { ManagerProcess } from '../support/manager.ts';
import { startNodeMosquitto, type NodeMosquitto } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-external-broker-'));
const agentDir = join(dir, 'agents');
let manager: ManagerProcess;
let broker: NodeMosquitto;
let agent: Proc | null = null;
const root = Buffer.from('metalfleet external broker test root image\n'.repeat(1024));

/** A simulated node's certificate and key as its agent keeps them, by node id. */
function nodeFiles(): Map<string, { certPem: string; keyPem: string }> {
  const files = new Map<string, { certPem: string; keyPem: string }>();
  for (const path of readdirSync(agentDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('credential.json'))) {
    const nodeDir = join(agentDir, path, '..');
    const { nodeId } = JSON.parse(readFileSync(join(nodeDir, 'credential.json'), 'utf8')) as { nodeId: string };
    try {
      files.set(nodeId, { certPem: readFileSync(join(nodeDir, 'client.crt'), 'utf8'), keyPem: readFileSync(join(nodeDir, 'client.key'), 'utf8') });
    } catch {
      // Not issued yet.
    }
  }
  return files;
}

/** An MQTT 5 client of the broker with the given certificate (or none): connected, or the reason it was not. */
async function connectAs(identity: { certPem: string; keyPem: string } | null): Promise<{ client: mqtt.MqttClient | null; error: string }> {
  const client = mqtt.connect(broker.url, {
    protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, clientId: `test-${Math.random().toString(36).slice(2, 10)}`,
    ca: readFileSync(manager.caFile), rejectUnauthorized: true, ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
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

beforeAll(async () => {
  const port = await freePort();
  const images = join(dir, 'manager', 'images');
  manager = new ManagerProcess(join(dir, 'manager'), ['--mqtt-url', `mqtts://127.0.0.1:${port}`,
    '--health-interval-s', '1', '--telemetry-interval-s', '1', '--command-ack-timeout-s', '5', '--reimage-boot-timeout-s', '60']);
  await manager.start();
  // The broker's own certificate, signed by the manager's CA (as deploy/ha/README.md says to): the agents check it with that CA.
  const ca = { certPem: readFileSync(manager.caFile, 'utf8'), keyPem: readFileSync(join(manager.dataDir, 'pki', 'ca.key'), 'utf8'), fingerprint: '' };
  broker = await startNodeMosquitto({ port, caFile: manager.caFile, crlFile: join(manager.dataDir, 'pki', 'nodes.crl'), server: await issueServerCertificate(ca, ['127.0.0.1', 'localhost']) });
  await eventually(async () => manager.proc?.lines ?? [], (lines: string[]) => lines.some((l) => l.includes('connected to the external broker')), 30_000);
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '3', '--simulate-seed', 'external',
    '--simulate-reboot-ms', '1500', '--state-dir', agentDir, '--kernel-cmdline', '/nonexistent']);
  mkdirSync(images, { recursive: true });
  writeFileSync(join(images, 'root.img'), root);
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an external Mosquitto', { timeout: 180_000 }, () => {
  it('carries the nodes\' reports to the manager: every node online and inspected', async () => {
    const nodes = await eventually(() => manager.nodes(), (l: NodeList) => l.items.length === 3 && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 90_000);
    expect(nodes.items).toHaveLength(3);
    expect(broker.output()).not.toMatch(/Denied PUBLISH/);
  });

  it('keeps each node to its own topics, and lets in no client without a certificate from the manager\'s CA', async () => {
    const ids = (await manager.nodes()).items.map((n) => n.id).sort();
    const [a, b] = ids as [string, string];
    const { client } = await connectAs(nodeFiles().get(a) ?? null);
    expect(client).not.toBeNull();
    const received: string[] = [];
    client!.on('message', (topic) => received.push(topic));
    // Everything of every node, another node's commands by name: the broker gives it none of them.
    await client!.subscribeAsync(['mf/v1/nodes/#', `mf/v1/nodes/${b}/commands`, `mf/v1/nodes/${b}/telemetry`], { qos: 1 });
    // Node b said to be offline, by node a: the broker drops it.
    await client!.publishAsync(`mf/v1/nodes/${b}/status`, Buffer.from(statusPayload('offline', new Date(), '0.1.0', 'spoofed')), { qos: 1 }).catch(() => undefined);
    // Meanwhile b's own reports keep reaching the manager (seen again 2 s on).
    const seen = (list: NodeList) => new Date(list.items.find((n) => n.id === b)?.lastSeenAt ?? 0).getTime();
    const since = seen(await manager.nodes());
    const after = await eventually(() => manager.nodes(), (l: NodeList) => seen(l) > since + 2000, 30_000);
    expect(after.items.find((n) => n.id === b)?.presence).toBe('online');
    expect(received).toEqual([]);
    await client!.endAsync();
    expect((await connectAs(null)).client).toBeNull();
  });

  it('sends a command through it: a reimage runs to its end', async () => {
    const sha256 = createHash('sha256').update(root).digest('hex');
    const images = `${manager.boot}/images`;
    await manager.request('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
    const tenant = await manager.request<Tenant>('POST', '/api/v1/tenants', { name: 'external' });
    const node = (await manager.nodes()).items[0]!;
    await manager.request('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
    const op = await manager.request<Operation>('POST', `/api/v1/nodes/${node.id}/reimage`, { image: 'gpu-os@1.0' });
    const done = await eventually(() => manager.request<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.state !== 'running', 120_000);
    expect([done.state, done.nodes[0]?.phase]).toEqual(['succeeded', 'done']);
  });

  it('refuses a revoked certificate once the broker has read the new revocation list; the rest of the fleet reconnects', async () => {
    const [id, ...others] = (await manager.nodes()).items.map((n) => n.id).sort() as [string, ...string[]];
    const before = nodeFiles().get(id)!;
    // A copy of the node's key and certificate; then an operator revokes the node's certificates.
    expect(await manager.request('POST', `/api/v1/nodes/${id}/revoke-certificates`)).toMatchObject({ revoked: expect.any(Number) as unknown });
    // Mosquitto 2.0 reads its CRL at start only: still let in until the broker restarts.
    const stillIn = await connectAs(before);
    expect(stillIn.client).not.toBeNull();
    await stillIn.client?.endAsync();
    await broker.restart();
    const refused = await connectAs(before);
    expect(refused.client).toBeNull();
    const other = await connectAs(nodeFiles().get(others[0] ?? '')!);
    expect(other.client).not.toBeNull();
    await other.client?.endAsync();
    await eventually(() => manager.nodes(), (l: NodeList) => others.every((o) => l.items.find((n) => n.id === o)?.presence === 'online'), 60_000);
  });
});
