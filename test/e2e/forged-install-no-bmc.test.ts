// A tenant who is root on a node without a BMC forges a whole reimage (from
// review finding 2). It holds the node credential (read from the agent's state
// dir) and answers the reimage command over real MQTT with "acked" and
// "running" (its "reboot ack"), then, still from the tenant OS and never
// rebooting, GETs its own boot script from the open boot endpoint, registers
// with the install token in it and a forged inventory (LLDP says its NIC is
// cabled to leaf-9/Ethernet42, a port it is not on), and reports the image
// installed and verified with the command's own sha256.
// Without a BMC the manager has no way to tell this from a real reimage: every
// sign comes from the node. So the cabling from that registration stays a
// claim (lldp-node-os, untrusted: an operator plans the link or a switch sees
// it), and the reimage is marked as the agent's word alone: evidence.proof
// 'agent-only', progress.unverified, and a message and node history that say
// it was not verified by the manager.
// On main the forged link was recorded as trusted lldp-manager-image cabling,
// and the reimage looked like any other.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { credentials } from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { NodeList, Operation } from '@metalfleet/api';
import { AgentService, CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-hostile-install-'));
let manager: ManagerProcess;
let mqttUrl = '';
let agent: Proc | null = null;
let hostile: MqttClient | null = null;
let sha256 = '';

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
const nodes = async () => (await api<NodeList>('GET', '/api/v1/nodes')).items;
const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));

beforeAll(async () => {
  const root = Buffer.from(`hostile root image ${Date.now()}\n`.repeat(2048));
  sha256 = createHash('sha256').update(root).digest('hex');
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--command-ack-timeout-s', '5', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '30']);
  await manager.start();
  mqttUrl = `mqtts://127.0.0.1:${String((await manager.proc!.waitForLog('manager ready'))['mqtt']).split(':').at(-1)}`;
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'hostile-install',
    '--state-dir', join(dir, 'node'), '--kernel-cmdline', '/nonexistent']);
  await eventually(nodes, (l) => l.length === 1 && l[0]!.state === 'available', 60_000);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
  const tenant = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'hostile' });
  for (const node of await nodes()) await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
  // The tenant takes the node over: its own client replaces the agent.
  await agent.stop('SIGKILL');
}, 120_000);

afterAll(async () => {
  hostile?.end(true);
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a tenant on a node without a BMC forges its reimage from the tenant OS', () => {
  it('gets no trusted cabling, and the reimage is marked as not verified by the manager', async () => {
    const { nodeId, credential } = JSON.parse(readFileSync(join(dir, 'node', 'sim-001', 'credential.json'), 'utf8')) as { nodeId: string; credential: string };
    const node = (await nodes())[0]!;
    const client = await mqtt.connectAsync(mqttUrl, { clientId: nodeId, username: nodeId, password: credential, ca: ca(), reconnectPeriod: 0 });
    hostile = client;
    await client.subscribeAsync(`mf/v1/nodes/${nodeId}/commands`, { qos: 1 });
    const report = (commandId: string, phase: CommandPhase, message: string, verifiedSha256 = '') => client.publishAsync(`mf/v1/nodes/${nodeId}/progress`,
      Buffer.from(toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, at: timestampFromDate(new Date()), phase, message, verifiedSha256 }))), { qos: 1 });
    let operationId = '';
    const forged = new Promise<string>((resolve, reject) => {
      client.on('message', (_topic, payload) => {
        const command = fromBinary(CommandSchema, payload);
        if (command.kind.case !== 'reimage') return;
        const sha = command.kind.value.sha256;
        void (async () => {
          await report(command.commandId, CommandPhase.ACKED, 'received');
          await report(command.commandId, CommandPhase.RUNNING, 'rebooting (not really)');
          await eventually(async () => (operationId ? (await operation(operationId)).nodes[0] : null), (n) => n?.phase === 'installing', 30_000);
          // From the tenant OS: the request iPXE would make.
          const script = await (await fetch(`${manager.boot}/boot/ipxe?mac=${encodeURIComponent(node.identity.macs[0]!)}`)).text();
          const token = /metalfleet\.token=(\S+)/.exec(script)?.[1] ?? '';
          // Register "from the install image" with a forged LLDP neighbour on the node's own NIC.
          const nics = [{ name: 'eth0', mac: node.identity.macs[0]!, physical: true, linkUp: true, speedMbps: 100000, neighbor: { switchName: 'leaf-9', switchId: 'leaf-9', portId: 'Ethernet42', portDescription: '' } }];
          const { client: grpc, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
          await grpc.register({ identity: node.identity, inventory: { system: { hostname: 'tenant' }, nics }, bootstrapToken: token, agentVersion: 'tenant' })
            .catch((e: unknown) => e);
          close();
          await report(command.commandId, CommandPhase.SUCCEEDED, 'installed and verified', sha);
          resolve(command.commandId);
        })().catch(reject);
      });
    });
    operationId = (await api<Operation>('POST', `/api/v1/nodes/${nodeId}/reimage`, { image: 'gpu-os@1.0' })).id;
    await forged;
    const done = await eventually(() => operation(operationId), (o) => o.state !== 'running', 60_000);
    const db = new DatabaseSync(join(manager.dataDir, 'fleet.db'), { readOnly: true });
    const links = db.prepare('SELECT switch_name, port, source, trusted FROM learned_links WHERE node_id = ?').all(nodeId);
    db.close();
    // The LLDP it sent is a claim, not cabling: nothing maps leaf-9/Ethernet42 to the node (its first registration's
    // cabling, from a new machine, stays as it was).
    expect(links.filter((l) => l['switch_name'] === 'leaf-9')).toEqual([{ switch_name: 'leaf-9', port: 'Ethernet42', source: 'lldp-node-os', trusted: 0 }]);
    // The reimage went through (nothing better can be had without a BMC), and says on what.
    expect(done).toMatchObject({ state: 'succeeded', progress: { done: 1, unverified: 1 } });
    expect(done.nodes[0]).toMatchObject({ phase: 'done', evidence: { rebootBy: 'agent', proof: 'agent-only' } });
    expect(done.nodes[0]!.message).toMatch(/^reimaged \(not verified by the manager: the node has no BMC, so every sign of this reimage, from the reboot ack to the result, came from the node itself\)$/);
    const history = (await api<{ history: Array<{ to: string; actor: string; reason: string }> }>('GET', `/api/v1/nodes/${nodeId}`)).history;
    expect(history.filter((h) => h.actor === `reimage ${operationId}`).at(-1)?.reason).toMatch(/^reimaged to gpu-os@1\.0 \(not verified by the manager: the node has no BMC/);
  });
});
