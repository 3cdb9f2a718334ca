// SKU conformance (libs/domain) on real nvidia-smi outputs (fixtures/nvidia),
// read through the inventory collector as a node reports them: an H100 passes
// the GPU checks of the H100 profile, the same H100 with MIG on fails mig-off,
// and an A100 is not an H100.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConformance, defaultSkuProfiles, emptyInventory, skuOf, type Gpu } from '@metalfleet/domain';
import { gpuInventoryCollector, gpuSources } from './gpu-collectors.ts';

const fixture = (file: string) => fileURLToPath(new URL(`../../fixtures/nvidia/${file}`, import.meta.url));
const capture = (gpu: string, load = 'idle') => `utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-${gpu}__590.48.01.${load}.query-gpu.csv`;
const gpuChecks = ['gpu-model', 'gpu-memory', 'pcie-link', 'mig-off'];

async function gpusOf(source: { nvidiaSmiCsvFile?: string; nvidiaSmiXmlFile?: string }): Promise<Gpu[]> {
  return (await gpuInventoryCollector(gpuSources(source)).collect(emptyInventory())).gpus ?? [];
}
async function verdicts(gpus: Gpu[], profileName: string) {
  const profile = defaultSkuProfiles.find((p) => p.name === profileName)!;
  const checks = checkConformance(profile, { inventory: { ...emptyInventory(), gpus }, nvlinks: null });
  return Object.fromEntries(checks.filter((c) => gpuChecks.includes(c.name)).map((c) => [c.name, `${c.verdict}: ${c.measured}`]));
}

describe('SKU conformance on real nvidia-smi outputs', () => {
  it('an H100 80GB HBM3 (590.48.01, Gen5 x16) passes the H100 profile\'s GPU checks', async () => {
    const gpus = await gpusOf({ nvidiaSmiCsvFile: fixture(capture('h100-80gb-hbm3')) });
    expect(skuOf(gpus, defaultSkuProfiles)?.name).toBe('hgx-h100-8');
    expect(await verdicts(gpus, 'hgx-h100-8')).toEqual({ 'gpu-model': 'pass: all 1', 'gpu-memory': 'pass: all 1', 'pcie-link': 'pass: all 1', 'mig-off': 'pass: all 1' });
  });

  it('the same H100 with MIG instances fails mig-off', async () => {
    const gpus = await gpusOf({ nvidiaSmiCsvFile: fixture(capture('h100-mig')) });
    expect((await verdicts(gpus, 'hgx-h100-8'))['mig-off']).toBe('fail: GPU 0: MIG Enabled');
  });

  it('an A100-SXM4-80GB (telegraf\'s XML, MIG on) is no H100, and fails mig-off against its own profile', async () => {
    const gpus = await gpusOf({ nvidiaSmiXmlFile: fixture('influxdata__telegraf__a100-sxm4-v12.xml') });
    expect(skuOf(gpus, defaultSkuProfiles)?.name).toBe('hgx-a100-8');
    expect((await verdicts(gpus, 'hgx-h100-8'))['gpu-model']).toMatch(/^fail: GPU 0: NVIDIA A100-SXM4-80GB/);
    expect(await verdicts(gpus, 'hgx-a100-8')).toMatchObject({ 'gpu-model': 'pass: all 1', 'mig-off': 'fail: GPU 0: MIG Enabled' });
  });
});
