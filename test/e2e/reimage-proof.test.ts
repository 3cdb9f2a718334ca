// A reimage is not taken on the agent's word. A tenant is root on its node: it
// holds the node's real credential (here: read from the simulated agent's state
// dir), answers the reimage command over real MQTT, and reports "succeeded"
// with the command's own sha256 without rebooting. The manager, which saw no
// boot of the install image after its own power cycle (or after the agent's
// reboot ack), fails the node with that evidence instead of handing it back.
// A legitimate reimage of a simulated node (its reboot fetches the install
// script from the boot endpoint) still succeeds, with the evidence recorded.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { NodeList, NodeSummary, Operation, Tenant } from '@metalfleet/api';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { startBmcLab, type BmcLab } from '../support/bmc-lab.ts';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-reimage-proof-'));
let manager: ManagerProcess;
let mqttUrl = '';
const agents: Proc[] = [];
let bmc: BmcLab | null = null;
let hostile: MqttClient | null = null;
let tenant: Tenant;
let sha256 = '';

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
const finished = (id: string, timeoutMs = 60_000) => eventually(() => operation(id), (o) => o.state !== 'running', timeoutMs);
const nodes = async () => (await api<NodeList>('GET', '/api/v1/nodes')).items;
const history = async (nodeId: string) => (await api<{ history: Array<{ from: string; to: string; event: string; actor: string }> }>('GET', `/api/v1/nodes/${nodeId}`)).history;
const credentialOf = (stateDir: string, index: number) =>
  JSON.parse(readFileSync(join(stateDir, `sim-00${index}`, 'credential.json'), 'utf8')) as { nodeId: string; credential: string };
const simulated = (seed: string, count: number, stateDir: string) => start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile,
  '--simulate', String(count), '--simulate-seed', seed, '--simulate-reboot-ms', '300', '--state-dir', stateDir, '--kernel-cmdline', '/nonexistent']);

beforeAll(async () => {
  const root = Buffer.from(`metalfleet proof root image ${Date.now()}\n`.repeat(2048));
  sha256 = createHash('sha256').update(root).digest('hex');
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--command-ack-timeout-s', '3', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '30']);
  await manager.start();
  const ready = await manager.proc!.waitForLog('manager ready');
  mqttUrl = `mqtts://127.0.0.1:${String(ready['mqtt']).split(':').at(-1)}`;
  // One honest node in its own process; two the tenant takes over (their agent process is killed once they are registered).
  agents.push(simulated('proof-honest', 1, join(dir, 'honest')), simulated('proof-hostile', 2, join(dir, 'hostile')));
  await eventually(nodes, (l) => l.length === 3 && l.every((n) => n.state === 'available'), 60_000);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
  tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'proof' });
  for (const node of await nodes()) await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
  await agents[1]!.stop('SIGKILL');
}, 120_000);

afterAll(async () => {
  hostile?.end(true);
  bmc?.stop();
  for (const a of agents) await a.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Forgery {
  /** What the tenant does when the command arrives, before it acks. */
  onCommand?: (commandId: string) => Promise<void>;
  /** What happens between its "running" report and its forged result. */
  beforeResult: (commandId: string) => Promise<void>;
}

/**
 * The tenant's own client as node `index` of the hostile simulator: it answers the next reimage command with ack and
 * running, then reports the image installed and verified with the command's own sha256 — without ever rebooting.
 */
async function forgeReimage(index: number, forgery: Forgery): Promise<{ nodeId: string; commandId: Promise<string> }> {
  const { nodeId, credential } = credentialOf(join(dir, 'hostile'), index);
  const ca = readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
  hostile?.end(true);
  const client = await mqtt.connectAsync(mqttUrl, { clientId: nodeId, username: nodeId, password: credential, ca, reconnectPeriod: 0 });
  hostile = client;
  await client.subscribeAsync(`mf/v1/nodes/${nodeId}/commands`, { qos: 1 });
  const report = (commandId: string, phase: CommandPhase, message: string, verifiedSha256 = '') => client.publishAsync(`mf/v1/nodes/${nodeId}/progress`,
    Buffer.from(toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, at: timestampFromDate(new Date()), phase, message, verifiedSha256 }))), { qos: 1 });
  const commandId = new Promise<string>((resolve, reject) => {
    client.on('message', (_topic, payload) => {
      const command = fromBinary(CommandSchema, payload);
      if (command.kind.case !== 'reimage') return;
      const sha = command.kind.value.sha256;
      void (async () => {
        await forgery.onCommand?.(command.commandId);
        await report(command.commandId, CommandPhase.ACKED, 'received');
        await report(command.commandId, CommandPhase.RUNNING, 'rebooting (not really)');
        await forgery.beforeResult(command.commandId);
        await report(command.commandId, CommandPhase.SUCCEEDED, 'installed and verified', sha);
        resolve(command.commandId);
      })().catch(reject);
    });
  });
  return { nodeId, commandId };
}

const nodeEntry = async (operationId: string) => (await operation(operationId)).nodes[0]!;

describe('a reimage needs the manager\'s own evidence that the node booted the install image', () => {
  it('succeeds for an honest node: its reboot fetches the install script after the ack, and that is recorded', async () => {
    const { nodeId } = credentialOf(join(dir, 'honest'), 1);
    const op = await api<Operation>('POST', `/api/v1/nodes/${nodeId}/reimage`, { image: 'gpu-os@1.0' });
    const done = await finished(op.id);
    expect(done.state).toBe('succeeded');
    expect(done.nodes[0]).toMatchObject({ phase: 'done', evidence: { rebootBy: 'agent', powerCycledAt: null, missing: null, installBoot: { peer: expect.any(String) }, proof: 'agent-only' } });
    const evidence = done.nodes[0]!.evidence;
    expect(Date.parse(evidence.installBoot!.at)).toBeGreaterThanOrEqual(Date.parse(evidence.rebootAckedAt!));
  });

  it('fails a node without a BMC that reports success without booting the install image, and keeps it from the tenant', async () => {
    let operationId = '';
    const forged = await forgeReimage(1, {
      // The result goes out once the manager has taken the ack: from then on the node is expected to reboot.
      beforeResult: async () => void await eventually(async () => (operationId ? nodeEntry(operationId) : null), (n) => n?.phase === 'installing', 30_000),
    });
    const op = await api<Operation>('POST', `/api/v1/nodes/${forged.nodeId}/reimage`, { image: 'gpu-os@1.0' });
    operationId = op.id;
    await forged.commandId;
    const done = await finished(op.id);
    expect(done.state).toBe('failed');
    const entry = await nodeEntry(op.id);
    expect(entry.phase).toBe('failed');
    expect(entry.message).toMatch(/^installing: reported installed but the manager never saw it boot the install image: no boot-script fetch after the agent acknowledged the reboot at \S+Z$/);
    expect(entry.evidence).toMatchObject({ rebootBy: 'agent', powerCycledAt: null, installBoot: null, missing: 'install-boot' });
    expect((await nodes()).find((n) => n.id === forged.nodeId)?.state).not.toBe('active');
    expect((await history(forged.nodeId)).filter((h) => h.actor === `reimage ${op.id}`).map((h) => h.to)).toEqual(['provisioning', 'failed']);
  });

  it('gives a node with a BMC no install script before the manager power-cycled it, and fails it when it forges the result', async () => {
    bmc = await startBmcLab();
    const { nodeId } = credentialOf(join(dir, 'hostile'), 2);
    const target = (await nodes()).find((n) => n.id === nodeId) as NodeSummary;
    await api('PUT', `/api/v1/nodes/${nodeId}/bmc`, { driver: 'ipmi', address: bmc.host, port: bmc.port, username: bmc.username, password: bmc.password, cipherSuite: 3 });
    let operationId = '';
    let script = '';
    const forged = await forgeReimage(2, {
      // From the tenant OS, before the ack: the request iPXE makes, which hands out the install script.
      onCommand: async () => {
        script = await (await fetch(`${manager.boot}/boot/ipxe?mac=${encodeURIComponent(target.identity.macs[0]!)}`)).text();
      },
      // The manager power-cycles the node through its BMC once it acked (the simulated chassis leaves the tenant's client running).
      beforeResult: async () => void await eventually(async () => (operationId ? nodeEntry(operationId) : null), (n) => n?.evidence?.powerCycledAt != null, 30_000),
    });
    const op = await api<Operation>('POST', `/api/v1/nodes/${nodeId}/reimage`, { image: 'gpu-os@1.0' });
    operationId = op.id;
    const commandId = await forged.commandId;
    // Before the manager's power cycle a node with a BMC gets no install script and no token, only "ask again".
    expect(script).toMatch(/^#!ipxe\necho metalfleet: the reimage waits for the manager's power cycle/);
    expect(script).not.toContain(commandId);
    expect(script).not.toContain('metalfleet.token=');
    const done = await finished(op.id);
    expect(done.state).toBe('failed');
    const entry = await nodeEntry(op.id);
    expect(entry.message).toMatch(
      /^installing: reported installed but the manager never saw it boot the install image: no boot-script fetch after the power cycle at \S+Z$/,
    );
    expect(entry.evidence).toMatchObject({ rebootBy: 'bmc', missing: 'install-boot', installBoot: null });
    expect(bmc.actions()).toEqual(expect.arrayContaining(['boot pxe']));
    expect((await nodes()).find((n) => n.id === nodeId)?.state).not.toBe('active');
  });
});
