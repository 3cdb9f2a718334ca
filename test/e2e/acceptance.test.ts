// The way back, over real transports (gRPC, MQTT, the agent's simulated
// hardware), as the issue tells it: a node accepted into the pool is given to a
// tenant whose image is broken, and its reimage fails; it goes to repair, is
// marked repaired with a ticket, and is acceptance-tested before it serves
// (--acceptance on). A slow NVLink (two links of GPU 5 at half speed, the
// all-reduce at ~300 GB/s) and weak cooling on GPU 6 (86 °C and slowed down
// under gpu_burn) fail the suite: back to repair, the failing checks its
// reason and its evidence. Fixed, marked repaired again: the suite passes, the
// node is available, and another tenant's template picks it as a spare, and
// it is accepted again in its new image before it serves (--acceptance-after-reimage). The SKU
// profile is the operator's file (the simulated machine has 2 NICs at 100 Gb/s
// and 2 NVMe).
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
  writeFileSync(faultsFile, '{}');
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
    '  ecc: true',
    '  gates: { ncclBusbwGBs: 460, p2pGBs: 335, hostCopyGBs: 48, dcgmLevel: 3, stress: { seconds: 300, maxTempSpreadC: 10 } }',
  ].join('\n'));
  const root = Buffer.from('metalfleet acceptance test root image\n'.repeat(1024));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--acceptance', 'on', '--acceptance-after-reimage', 'on', '--sku-profiles-file', profilesFile,
    '--telemetry-interval-s', '1', '--health-interval-s', '0.5', '--command-ack-timeout-s', '5']);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'acceptance',
    '--faults-file', faultsFile, '--health-interval-s', '0.5', '--state-dir', join(dir, 'agent'), '--kernel-cmdline', '/nonexistent']);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: createHash('sha256').update(root).digest('hex'), cmdline: '' });
  // A catalog entry whose checksum is not its file's: every reimage with it fails at the agent's check.
  await api('PUT', '/api/v1/images/broken/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: 'ab'.repeat(32), cmdline: '' });
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

  it('takes a node whose reimage failed through repair, a failed acceptance and a passed one back to the pool, where it is picked as a spare', async () => {
    // Accepted into the pool at power-on.
    let node = await eventually(theNode, (n) => n?.state === 'available', 60_000);
    expect((await runs(node.id)).map((r) => r.passed)).toEqual([true]);

    // Given to a tenant whose image is broken: the reimage fails (the remediation may send the node to repair at once).
    const broken = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'broken-image' });
    const brokenTemplate = await api<{ id: string }>('POST', '/api/v1/templates', { name: 'broken', image: 'broken@1.0', tenantId: broken.id, nodeCount: 1, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    expect((await api<{ allocated: string[] }>('POST', `/api/v1/templates/${brokenTemplate.id}/apply`)).allocated).toEqual([node.id]);
    node = await eventually(theNode, (n) => (n.state === 'failed' || n.state === 'repair') && n.tenant === null, 60_000);
    expect((await history(node.id)).some((h) => h.event === 'provision-failed' && /checksum mismatch/.test(h.reason))).toBe(true);
    if (node.state === 'failed') await api('POST', `/api/v1/nodes/${node.id}/repair`, { reason: 'reimage failed: checksum mismatch' });

    // Opened up to check it: a spare NVLink cable badly seated (two links of GPU 5 train down), and GPU 6's heatsink
    // not seated either. Neither shows at idle: inspection passes, acceptance does not.
    writeFileSync(faultsFile, JSON.stringify({ all: ['slow-nvlink', 'weak-cooling'] }));
    expect(await api('POST', `/api/v1/nodes/${node.id}/repaired`, { reason: 'reflashed the boot disk', ticket: 'RMA-1001' })).toMatchObject({ from: 'repair', to: 'inspecting' });
    node = await eventually(theNode, (n) => n.state === 'repair', 60_000);
    const failed = await runs(node.id);
    expect(failed.map((r) => r.passed)).toEqual([false, true]);
    expect(failed[0]).toMatchObject({ profile: 'sim-h100-8', passed: false });
    const failing = failed[0]!.checks.filter((c) => c.verdict === 'fail');
    expect(failing).toEqual([
      { name: 'nvlink', measured: 'GPU 5: 2 at 13.281 GB/s of 26.562', threshold: '18 up per GPU, all at one speed', verdict: 'fail' },
      { name: 'nccl-allreduce', measured: '301.4 GB/s at 8 GiB', threshold: '≥ 460 GB/s', verdict: 'fail' },
      { name: 'p2p-copy', measured: 'lowest 194.2 GB/s (GPU 5 → 0)', threshold: '≥ 335 GB/s each pair', verdict: 'fail' },
      { name: 'clock-throttle', measured: 'GPU 6: sw_thermal_slowdown', threshold: 'no thermal, power-brake or hardware slowdown under load', verdict: 'fail' },
      { name: 'temperature-spread', measured: '24 °C (GPU 0 62 °C to GPU 6 86 °C)', threshold: 'peaks within 10 °C', verdict: 'fail' },
    ]);
    expect((await history(node.id)).at(-1)).toMatchObject({
      from: 'accepting', to: 'repair', event: 'acceptance-failed', actor: 'acceptance',
      reason: expect.stringMatching(/^acceptance failed \(sim-h100-8\): nvlink: GPU 5: 2 at 13\.281 GB\/s of 26\.562 \(want 18 up per GPU, all at one speed\); nccl-allreduce: .*; clock-throttle: GPU 6: sw_thermal_slowdown/),
    });

    // Reseated both: every link up, GPU 6 as cool as the others.
    writeFileSync(faultsFile, '{}');
    expect(await api('POST', `/api/v1/nodes/${node.id}/repaired`, { reason: 'reseated the NVLink cable of GPU 5 and the heatsink of GPU 6', ticket: 'RMA-1001' })).toMatchObject({ from: 'repair', to: 'inspecting' });
    node = await eventually(theNode, (n) => n.state === 'available', 60_000);
    const passed = await runs(node.id);
    expect(passed.map((r) => r.passed)).toEqual([true, false, true]);
    expect(passed[0]!.checks.find((c) => c.name === 'nccl-allreduce')).toMatchObject({ measured: '480.3 GB/s at 8 GiB', verdict: 'pass' });
    expect(passed[0]!.checks.find((c) => c.name === 'gpu-stress')).toMatchObject({ measured: 'all 8 OK for 300 s (gpu_burn)', verdict: 'pass' });
    // ECC as the agent reported it at registration (GPU ECC mode, each DIMM's error correction).
    expect(passed[0]!.checks.filter((c) => c.name.endsWith('-ecc')).map((c) => `${c.name}: ${c.measured} ${c.verdict}`)).toEqual(['gpu-ecc: all 8 pass', 'memory-ecc: all 32 pass']);
    expect((await history(node.id)).slice(-4).map((h) => `${h.from} → ${h.to} (${h.event})`)).toEqual([
      'accepting → repair (acceptance-failed)', 'repair → inspecting (repaired)', 'inspecting → accepting (accept)', 'accepting → available (acceptance-passed)',
    ]);

    // In the pool: another tenant's template picks it as its spare.
    const tenant = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'training' });
    const template = await api<{ id: string }>('POST', '/api/v1/templates', { name: 'one', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 1, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    expect((await api<{ allocated: string[] }>('POST', `/api/v1/templates/${template.id}/apply`)).allocated).toEqual([node.id]);

    // Reimaged for that tenant (--acceptance-after-reimage): accepted again in its new image, off the tenant's network,
    // before it serves.
    node = await eventually(theNode, (n) => n.state === 'active', 60_000);
    expect((await runs(node.id)).map((r) => r.passed)).toEqual([true, true, false, true]);
    expect((await history(node.id)).slice(-3).map((h) => `${h.from} → ${h.to} (${h.event})`)).toEqual([
      'allocated → provisioning (provision)', 'provisioning → accepting (accept)', 'accepting → active (acceptance-passed)',
    ]);
  });
});
