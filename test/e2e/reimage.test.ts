// Reimaging and automatic replacement with the real manager and simulated
// nodes that speak the real protocol: commands over MQTT, the simulated
// reboot fetches its iPXE script from the manager's boot endpoint, the new
// boot registers with the token in it, downloads the root image from the
// manager and verifies its sha256 before it reports the command's result.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { startBmcLab, type BmcLab } from '../support/bmc-lab.ts';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-reimage-'));
const faultsFile = join(dir, 'faults.json');
let manager: ManagerProcess;
let agent: Proc | null = null;
let bmc: BmcLab | null = null;

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);

const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
const finished = (id: string, timeoutMs = 60_000) => eventually(() => operation(id), (o) => o.state !== 'running', timeoutMs);
const history = async (nodeId: string) => (await api<{ history: Array<{ from: string; to: string; event: string; actor: string; reason: string }> }>('GET', `/api/v1/nodes/${nodeId}`)).history;
/** Times the agent process began carrying out each command id. */
const executions = () => {
  const counts = new Map<string, number>();
  for (const line of agent?.lines ?? []) {
    if (!line.includes('"executing command"')) continue;
    const id = String((JSON.parse(line) as Record<string, unknown>)['commandId']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
};

beforeAll(async () => {
  writeFileSync(faultsFile, '{}');
  const root = Buffer.from(`metalfleet test root image ${Date.now()}\n`.repeat(4096));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  // Three deliveries, as by default: after the manager is killed, a node may take 6 s and more (its reconnect backoff)
  // to be back on the restarted broker, and a command published before it is lost to it until the next delivery.
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--telemetry-interval-s', '1', '--health-interval-s', '1', '--health-digest-interval-s', '2', '--command-ack-timeout-s', '3',
    '--reimage-concurrency', '1', '--reimage-boot-timeout-s', '10', '--reimage-step-timeout-s', '30', '--command-max-attempts', '3',
  ]);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '5', '--simulate-seed', 'reimage',
    '--simulate-reboot-ms', '300', '--faults-file', faultsFile, '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === 5 && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 45_000);
  const sha256 = createHash('sha256').update(root).digest('hex');
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: 'console=ttyS0' });
  await api('PUT', '/api/v1/images/broken/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: '0'.repeat(64), cmdline: '' });
}, 120_000);

afterAll(async () => {
  bmc?.stop();
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('reimaging and replacement', () => {
  let tenant: Tenant;
  let template: { id: string };

  it('applies a template: allocates matching spares and reimages them into the tenant, one at a time', async () => {
    tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'training' });
    template = await api('POST', '/api/v1/templates', { name: 'train-2', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 2, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    const applied = await api<{ operation: Operation; allocated: string[] }>('POST', `/api/v1/templates/${template.id}/apply`);
    expect(applied.allocated).toHaveLength(2);
    const done = await finished(applied.operation.id);
    expect(done).toMatchObject({ state: 'succeeded', progress: { total: 2, done: 2, failed: 0 } });
    const nodes = (await api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`)).items;
    expect(nodes.map((n) => n.state)).toEqual(['active', 'active']);
    const story = await history(applied.allocated[0]!);
    expect(story.slice(-3).map((h) => `${h.from}→${h.to} by ${h.actor.split(' ')[0]}`)).toEqual(['available→allocated by api', 'allocated→provisioning by reimage', 'provisioning→active by reimage']);
    // Applying again finds the tenant at its size.
    expect(await api('POST', `/api/v1/templates/${template.id}/apply`)).toMatchObject({ operation: null, allocated: [], already: 2 });
  });

  it('replaces a tenant node that loses a GPU (Xid 79) with a spare, and sends the failed node to repair', async () => {
    const before = (await api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`)).items;
    const victim = before.find((n) => n.state === 'active')!;
    // The faults file addresses simulated node i by the number its host name ends in.
    const hostIndex = Number(/(\d+)$/.exec(victim.hostname)?.[1]);
    writeFileSync(faultsFile, JSON.stringify({ [String(hostIndex)]: ['xid79-fallen-off-bus'] }));
    const after = await eventually(() => api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`),
      (l) => l.items.length === 2 && l.items.every((n) => n.state === 'active') && !l.items.some((n) => n.id === victim.id), 90_000);
    const replacement = after.items.find((n) => !before.some((b) => b.id === n.id))!;
    expect(replacement).toBeDefined();
    const failedNode = (await api<NodeList>('GET', '/api/v1/nodes')).items.find((n) => n.id === victim.id);
    expect(failedNode).toMatchObject({ state: 'repair', tenant: null });
    const story = (await history(victim.id)).slice(-2);
    expect(story.map((h) => `${h.from}→${h.to} by ${h.actor}`)).toEqual(['active→failed by remediation', 'failed→repair by remediation']);
    expect(story[0]!.reason).toMatch(/^hardware fault: gpu:\S+ xid-79: .*fallen off the bus/i);
    // The kernel line that raised it travelled with the health event, for the vendor's evidence.
    const health = await api<{ events: Array<{ changes: Array<{ kind: string; condition: { code: string }; evidence?: string[] }> }> }>('GET', `/api/v1/nodes/${victim.id}/health`);
    const appeared = health.events.flatMap((e) => e.changes).find((c) => c.kind === 'appeared' && c.condition.code === 'xid-79');
    expect(appeared?.evidence).toEqual([expect.stringMatching(/^NVRM: Xid \(PCI:\S+\): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus\.$/)]);
    const spareStory = (await history(replacement.id)).slice(-3);
    expect(spareStory.map((h) => `${h.from}→${h.to} by ${h.actor.split(' ')[0]}`)).toEqual(['available→allocated by remediation', 'allocated→provisioning by reimage', 'provisioning→active by reimage']);
    expect(spareStory[1]!.reason).toContain(`replaces ${victim.id}`);
    writeFileSync(faultsFile, '{}');
  }, 120_000);

  it('resumes a batch after the manager is killed mid-way: every node reimaged, none twice', async () => {
    const nodes = (await api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`)).items.filter((n) => n.state === 'active');
    expect(nodes.length).toBe(2);
    const op = await api<Operation>('POST', '/api/v1/reimage', { image: 'gpu-os@1.0', selector: { tenant: tenant.id, state: 'active' }, reason: 'kernel update' });
    // Concurrency 1: kill while the first node is in the middle of its reimage.
    await eventually(() => operation(op.id), (o) => o.nodes.some((n) => n.phase === 'installing' || n.phase === 'health-check'), 30_000);
    await manager.proc?.stop('SIGKILL');
    await manager.start();
    const done = await finished(op.id, 90_000);
    // The nodes' phases and messages said when it did not succeed.
    expect(done, JSON.stringify(done.nodes)).toMatchObject({ state: 'succeeded', progress: { total: 2, done: 2 } });
    const counts = executions();
    for (const n of done.nodes) expect(counts.get(n.commandId ?? '')).toBe(1);
    for (const n of nodes) {
      const reimages = (await history(n.id)).filter((h) => h.actor === `reimage ${op.id}`);
      expect(reimages.map((h) => h.to)).toEqual(['provisioning', 'active']);
    }
  }, 150_000);

  it('fails a reimage whose image does not verify, with the evidence, and sends the node nowhere near the tenant', async () => {
    const [target] = (await api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`)).items;
    const op = await api<Operation>('POST', `/api/v1/nodes/${target!.id}/reimage`, { image: 'broken@1.0' });
    const done = await finished(op.id);
    expect(done.state).toBe('failed');
    expect(done.nodes[0]!.message).toMatch(/^(installing|rebooting): the agent reported: image checksum mismatch: expected 0{64}, got [0-9a-f]{64} \(downloaded and verified \(simulated disk\)\)$/);
    const node = (await api<NodeList>('GET', '/api/v1/nodes')).items.find((n) => n.id === target!.id);
    expect(node?.state).toBe('failed');
  });

  it('counts both failures (the Xid 79 node, the failed reimage) in the fleet\'s failure rate, by cohort', async () => {
    type Rates = { items: Array<{ cohort: string; nodes: number; failedNodes: number; failures: number; rate: number; mtbfHours: number | null }> };
    const fleet = await eventually(() => api<Rates>('GET', '/api/v1/failure-rates?window=24h&by=fleet'), (r) => (r.items[0]?.failedNodes ?? 0) >= 2);
    expect(fleet.items).toEqual([expect.objectContaining({ cohort: 'fleet', nodes: 5, failedNodes: 2, rate: 0.4 })]);
    // Nodes minutes old: too few node-hours for an MTBF (it was "24 h" here, counting the whole window for each).
    expect(fleet.items[0]?.mtbfHours).toBeNull();
    const byGpu = await api<Rates>('GET', '/api/v1/failure-rates?window=1h&by=gpuModel');
    expect(byGpu.items.map((r) => r.cohort)).toEqual(['NVIDIA H100 80GB HBM3']);
    await expect(api('GET', '/api/v1/failure-rates?by=moon-phase')).rejects.toThrow(/HTTP 400/);
  });

  it('power-cycles a node that stops answering through its BMC (a real ipmi_sim), then fails it with the phase and the evidence', async () => {
    bmc = await startBmcLab();
    const [target] = (await api<NodeList>('GET', `/api/v1/nodes?tenant=${tenant.id}`)).items.filter((n) => n.state === 'active');
    await api('PUT', `/api/v1/nodes/${target!.id}/bmc`, { driver: 'ipmi', address: bmc.host, port: bmc.port, username: bmc.username, password: bmc.password, cipherSuite: 3 });
    expect(await api('POST', `/api/v1/nodes/${target!.id}/power`, { action: 'on' })).toEqual({ power: 'on' });
    // Every simulated node dies: nothing acks, nothing boots.
    await agent?.stop('SIGKILL');
    agent = null;
    const op = await api<Operation>('POST', `/api/v1/nodes/${target!.id}/reimage`, { image: 'gpu-os@1.0' });
    const done = await finished(op.id, 90_000);
    expect(done.state).toBe('failed');
    expect(done.nodes[0]).toMatchObject({ powerCycles: 1, message: 'timed out in installing' });
    // The BMC was told to boot from the network and to cycle the power.
    expect(bmc.actions()).toEqual(expect.arrayContaining(['boot pxe', 'power 0']));
    const last = (await history(target!.id)).at(-1);
    expect(last).toMatchObject({ from: 'provisioning', to: 'failed', event: 'provision-failed' });
    expect(last?.reason).toContain('failed: timed out in installing');
  }, 120_000);
});
