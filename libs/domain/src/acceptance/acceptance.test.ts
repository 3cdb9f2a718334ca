import { describe, expect, it } from 'vitest';
import { emptyInventory, type Gpu, type Inventory } from '../inventory.ts';
import type { NvlinkGpuState } from '../health/host-snapshot.ts';
import { accepted, checkConformance } from './conformance.ts';
import { checkDcgmDiag, checkNccl } from './diagnostics.ts';
import { defaultSkuProfiles, skuOf, type SkuProfile } from './sku-profile.ts';

const GiB = 1024 ** 3;
const h100 = defaultSkuProfiles.find((p) => p.name === 'hgx-h100-8') as SkuProfile;
const gpu = (index: number, extra: Partial<Gpu> = {}): Gpu => ({
  index, model: 'NVIDIA H100 80GB HBM3', uuid: `GPU-${index}`, serial: `165092406${index}`, vbiosVersion: '96.00.99.00.01', driverVersion: '570.124.06', cudaVersion: '12.8',
  pciBusId: `0000:1${index}:00.0`, memoryBytes: 80 * GiB, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: 5, pcieCurrentWidth: 16, migMode: 'Disabled', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: 'Enabled', ...extra,
});
function node(gpus: Gpu[] = Array.from({ length: 8 }, (_, i) => gpu(i))): Inventory {
  const inventory = emptyInventory();
  inventory.gpus = gpus;
  inventory.nics = Array.from({ length: 9 }, (_, i) => ({ name: `ib${i}`, mac: `aa:00:00:00:00:0${i}`, speedMbps: i === 8 ? 25_000 : 400_000, linkUp: true, driver: 'mlx5', firmware: '', physical: true, neighbor: null }));
  inventory.disks = Array.from({ length: 8 }, (_, i) => ({ name: `nvme${i}n1`, model: 'SAMSUNG', serial: `S${i}`, sizeBytes: 3.84e12, nvme: true, firmware: '' }));
  inventory.memory.dimms = Array.from({ length: 32 }, (_, d) => ({ locator: `DIMM_${d}`, sizeBytes: 64 * GiB, type: 'DDR5', speedMts: 4800, serial: `D${d}`, ecc: true }));
  return inventory;
}
const links = (up: number[]): NvlinkGpuState[] => up.map((n, gpuIndex) => ({ gpuIndex, uuid: `GPU-${gpuIndex}`, links: Array.from({ length: 18 }, (_, l) => (l < n ? 26.562 : null)) }));
const failed = (checks: ReturnType<typeof checkConformance>) => checks.filter((c) => c.verdict === 'fail').map((c) => `${c.name}: ${c.measured} (${c.threshold})`);

describe('SKU conformance', () => {
  it('passes a conforming 8x H100 node, every check with what it measured', () => {
    const checks = checkConformance(h100, { inventory: node(), nvlinks: links([18, 18, 18, 18, 18, 18, 18, 18]) });
    expect(failed(checks)).toEqual([]);
    expect(accepted(checks)).toBe(true);
    expect(checks.find((c) => c.name === 'nic-count')).toEqual({ name: 'nic-count', measured: '8 of 9 at ≥ 400 Gb/s, link up 8', threshold: '≥ 8 up', verdict: 'pass' });
  });

  it.each<[string, Inventory, NvlinkGpuState[], string[]]>([
    ['one GPU missing (fallen off the bus)', node(Array.from({ length: 7 }, (_, i) => gpu(i))), links([18, 18, 18, 18, 18, 18, 18]), ['gpu-count: 7 (= 8)']],
    ['GPU 5 with 2 NVLinks down', node(), links([18, 18, 18, 18, 18, 16, 18, 18]), ['nvlink: GPU 5: 16 up (18 up per GPU, all at one speed)']],
    ['a slow NVLink: 2 links of GPU 5 at half speed', node(), links(Array(8).fill(18)).map((g) => (g.gpuIndex === 5 ? { ...g, links: g.links.map((l, i) => (i < 2 ? 13.281 : l)) } : g)),
      ['nvlink: GPU 5: 2 at 13.281 GB/s of 26.562 (18 up per GPU, all at one speed)']],
    ['an old VBIOS on GPU 2', node(Array.from({ length: 8 }, (_, i) => gpu(i, i === 2 ? { vbiosVersion: '96.00.30.00.01' } : {}))), links(Array(8).fill(18)),
      ['vbios-version: GPU 2: 96.00.30.00.01 (one of 96.00.99.00.01)']],
    ['MIG left on', node(Array.from({ length: 8 }, (_, i) => gpu(i, i === 0 ? { migMode: 'Enabled' } : {}))), links(Array(8).fill(18)), ['mig-off: GPU 0: MIG Enabled (MIG disabled)']],
    ['a GPU on a Gen4 x8 link', node(Array.from({ length: 8 }, (_, i) => gpu(i, i === 7 ? { pcieLinkMaxGen: 4, pcieCurrentWidth: 8 } : {}))), links(Array(8).fill(18)),
      ['pcie-link: GPU 7: Gen4 x8 (Gen5 x16)']],
    // A Gen5 x16 GPU whose link trained at x8 (a bad riser or slot): the GPU's own maximum says nothing of it.
    ['a Gen5 x16 GPU whose link trained at x8', node(Array.from({ length: 8 }, (_, i) => gpu(i, i === 4 ? { pcieCurrentWidth: 8 } : {}))), links(Array(8).fill(18)),
      ['pcie-link: GPU 4: Gen5 x8 (Gen5 x16)']],
    ['a Gen5 GPU in a Gen4 slot', node(Array.from({ length: 8 }, (_, i) => gpu(i, i === 1 ? { pcieLinkMaxGen: 4 } : {}))), links(Array(8).fill(18)),
      ['pcie-link: GPU 1: Gen4 x16 (Gen5 x16)']],
  ])('fails %s, naming it', (_name, inventory, nvlinks, expected) => {
    const checks = checkConformance({ ...h100, allowedVbios: ['96.00.99.00.01'] }, { inventory, nvlinks });
    expect(failed(checks)).toEqual(expected);
    expect(accepted(checks)).toBe(false);
  });

  it('skips what was not read, and says so', () => {
    const checks = checkConformance(h100, { inventory: node(), nvlinks: null });
    expect(checks.find((c) => c.name === 'nvlink')).toEqual({ name: 'nvlink', measured: 'not read', threshold: '18 up per GPU, all at one speed', verdict: 'skip' });
  });

  it('finds a node\'s SKU by its GPUs, also when it is short of one', () => {
    expect(skuOf(node().gpus, defaultSkuProfiles)?.name).toBe('hgx-h100-8');
    expect(skuOf(node().gpus.slice(1), defaultSkuProfiles)?.name).toBe('hgx-h100-8');
    expect(skuOf([{ model: 'NVIDIA H200' }], defaultSkuProfiles)?.name).toBe('hgx-h200-8');
    expect(skuOf([{ model: 'Tesla T4' }], defaultSkuProfiles)).toBeNull();
    // Whole words, and the SXM parts only: an RTX A1000 is no A100, an H100 PCIe or NVL card no HGX H100.
    expect(skuOf([{ model: 'NVIDIA RTX A1000' }], defaultSkuProfiles)).toBeNull();
    expect(skuOf([{ model: 'NVIDIA H100 PCIe' }], defaultSkuProfiles)).toBeNull();
    expect(skuOf([{ model: 'NVIDIA H100 NVL' }], defaultSkuProfiles)).toBeNull();
    expect(skuOf([{ model: 'NVIDIA A100-SXM4-80GB' }], defaultSkuProfiles)?.name).toBe('hgx-a100-8');
    expect(skuOf([], defaultSkuProfiles)).toBeNull();
  });
});

describe('diagnostics against the gates', () => {
  it('judges NCCL bus bandwidth against the SKU\'s gate, and any wrong result', () => {
    expect(checkNccl(h100, { busbwGBs: 479.7, sizeBytes: 16 * GiB, wrongResults: 0 }).map((c) => c.verdict)).toEqual(['pass', 'pass']);
    expect(checkNccl(h100, { busbwGBs: 338.82, sizeBytes: 8 * GiB, wrongResults: 2 })).toEqual([
      { name: 'nccl-allreduce', measured: '338.82 GB/s at 8 GiB', threshold: '≥ 460 GB/s', verdict: 'fail' },
      { name: 'nccl-correctness', measured: '2 wrong', threshold: '0 wrong', verdict: 'fail' },
    ]);
    expect(checkNccl(h100, null)[0]?.verdict).toBe('skip');
  });

  it('judges dcgmi diag: a warning or failure fails, naming the test and GPU', () => {
    const pass = { test: 'PCIe', gpuIds: [], status: 'pass' as const, info: '', errorSeverity: null };
    expect(checkDcgmDiag(h100, [pass]).verdict).toBe('pass');
    expect(checkDcgmDiag(h100, [pass, { ...pass, test: 'Memory Bandwidth', gpuIds: ['3'], status: 'fail' }])).toMatchObject({ verdict: 'fail', measured: 'Memory Bandwidth fail (GPU 3)' });
    expect(checkDcgmDiag(h100, [])).toMatchObject({ verdict: 'fail' });
    expect(checkDcgmDiag(h100, null)).toMatchObject({ verdict: 'skip', measured: 'DCGM not installed' });
  });
});
