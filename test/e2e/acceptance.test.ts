// The way back, over real transports (gRPC, MQTT, the agent's simulated
// hardware): a node that failed inspection is sent to repair, marked repaired
// with a ticket, and acceptance-tested before it serves (--acceptance on). A
// slow NVLink (two links of GPU 5 at half speed, the all-reduce at ~300 GB/s)
// fails the suite: back to repair, the failing checks its reason and its
// evidence. Fixed, marked repaired again: the suite passes, the node is
// available, and a template picks it as a spare. The SKU profile is the
// operator's file (the simulated machine has 2 NICs at 100 Gb/s and 2 NVMe).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-acceptance-'));
const faultsFile = join(dir, 'faults.json');
const profilesFile = join(dir, 'sku-profiles.yaml');
let manager: ManagerProcess;
let agent: Proc | null = null;
const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);

type Node = NodeList['items'][number];
type Run = { commandId: string; profile: string | null; passed: boolean; checks: Array<{ name: string; measured: string; threshold: string; verdict: string }> };
const theNode = async () => (await api<NodeList>('GET', '/api/v1/nodes')).items[0] as Node;
const runs = async (id: string) => (await api<{ items: Run[] }>('GET', `/api/v1/nodes/${id}/acceptance`)).items;
const history = async (id: string) => (await api<{ history: Array<{ from: string; to: string; event: string; actor: string; reason: string }> }>('GET', `/api/v1/nodes/${id}`)).history;

beforeAll(async () => {
  // The node powers on with a failing disk: a critical condition at inspection.
  writeFileSync(faultsFile, JSON.stringify({ all: ['smart-failure'] }));
  writeFileSync(profilesFile, [
    '- name: sim-h100-8',
    '  gpuModel: H100',
    '  gpuCount: 8',
    `  minGpuMemoryBytes: ${79 * 1024 ** 3}`,
    '  allowedDrivers: ["570.124.06"]',
    '  allowedVbios: ["96.00.99.00.01"]',
    '  pcieGen: 5',
    '  pcieWidth: 16',
    '  nvlinksPerGpu: 18',
    '  nicCount: 2',
    '  minNicSpeedMbps: 100000',
    '  nvmeCount: 2',
    '  dimmCount: 32',
    '  gates: { ncclBusbwGBs: 460, p2pGBs: 335, hostCopyGBs: 48, dcgmLevel: 3 }',
  ].join('\n'));
  const root = Buffer.from('metalfleet acceptance test root image\n'.repeat(1024));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--acceptance', 'on', '--sku-profiles-file', profilesFile,
    '--telemetry-interval-s', '1', '--health-interval-s', '0.5', '--command-ack-timeout-s', '5']);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'acceptance',
    '--faults-file', faultsFile, '--health-interval-s', '0.5', '--state-dir', join(dir, 'agent'), '--kernel-cmdline', '/nonexistent']);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: createHash('sha256').update(root).digest('hex'), cmdline: '' });
}, 90_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('repair, acceptance testing and the pool', { timeout: 240_000 }, () => {
  it('lists the operator\'s SKU profile before the defaults', async () => {
    const { items } = await api<{ items: Array<{ name: string }> }>('GET', '/api/v1/sku-profiles');
    expect(items.map((p) => p.name)).toEqual(['sim-h100-8', 'hgx-h100-8', 'hgx-h200-8', 'hgx-a100-8']);
  });

  it('fails acceptance on a slow NVLink after a repair, passes once fixed, and the node is picked as a spare', async () => {
    // Failed at inspection (the remediation policy may send it to repair at once).
    let node = await eventually(theNode, (n) => n?.state === 'failed' || n?.state === 'repair', 60_000);
    if (node.state === 'failed') await api('POST', `/api/v1/nodes/${node.id}/repair`, { reason: 'disk 1 SMART failed' });
    // The disk swapped; a spare NVLink cable badly seated: two links of GPU 5 train down.
    writeFileSync(faultsFile, JSON.stringify({ all: ['slow-nvlink'] }));
    node = await eventually(theNode, (n) => n.health.severity !== 'critical', 30_000);
    expect(await api('POST', `/api/v1/nodes/${node.id}/repaired`, { reason: 'replaced NVMe 1', ticket: 'RMA-1001' })).toMatchObject({ from: 'repair', to: 'inspecting' });
    node = await eventually(theNode, (n) => n.state === 'repair', 60_000);
    const failed = await runs(node.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ profile: 'sim-h100-8', passed: false });
    const failing = failed[0]!.checks.filter((c) => c.verdict === 'fail');
    expect(failing).toEqual([
      { name: 'nvlink', measured: 'GPU 5: 2 at 13.281 GB/s of 26.562', threshold: '18 up per GPU, all at one speed', verdict: 'fail' },
      { name: 'nccl-allreduce', measured: '301.4 GB/s at 8 GiB', threshold: '≥ 460 GB/s', verdict: 'fail' },
      { name: 'p2p-copy', measured: 'lowest 194.2 GB/s (GPU 5 → 0)', threshold: '≥ 335 GB/s each pair', verdict: 'fail' },
    ]);
    expect((await history(node.id)).at(-1)).toMatchObject({
      from: 'accepting', to: 'repair', event: 'acceptance-failed', actor: 'acceptance',
      reason: 'acceptance failed (sim-h100-8): nvlink: GPU 5: 2 at 13.281 GB/s of 26.562 (want 18 up per GPU, all at one speed); nccl-allreduce: 301.4 GB/s at 8 GiB (want ≥ 460 GB/s); p2p-copy: lowest 194.2 GB/s (GPU 5 → 0) (want ≥ 335 GB/s each pair)',
    });

    // Reseated: every link up.
    writeFileSync(faultsFile, '{}');
    expect(await api('POST', `/api/v1/nodes/${node.id}/repaired`, { reason: 'reseated the NVLink cable of GPU 5', ticket: 'RMA-1001' })).toMatchObject({ from: 'repair', to: 'inspecting' });
    node = await eventually(theNode, (n) => n.state === 'available', 60_000);
    const passed = await runs(node.id);
    expect(passed.map((r) => r.passed)).toEqual([true, false]);
    expect(passed[0]!.checks.find((c) => c.name === 'nccl-allreduce')).toMatchObject({ measured: '480.3 GB/s at 8 GiB', verdict: 'pass' });
    expect((await history(node.id)).slice(-4).map((h) => `${h.from} → ${h.to} (${h.event})`)).toEqual([
      'accepting → repair (acceptance-failed)', 'repair → inspecting (repaired)', 'inspecting → accepting (accept)', 'accepting → available (acceptance-passed)',
    ]);

    // In the pool: a template's spare.
    const tenant = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'training' });
    const template = await api<{ id: string }>('POST', '/api/v1/templates', { name: 'one', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 1, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    expect((await api<{ allocated: string[] }>('POST', `/api/v1/templates/${template.id}/apply`)).allocated).toEqual([node.id]);
  });
});
