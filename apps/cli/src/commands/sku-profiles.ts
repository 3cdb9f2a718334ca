// metalfleet sku-profiles: the SKU profiles acceptance testing judges nodes by,
// in the order nodes are matched (the API's, the file's, then the defaults);
// `set` makes or replaces one from a YAML or JSON file (checked here first),
// `rm` removes one made through the API.
import type { Command } from 'commander';
import type { Static } from 'typebox';
import { SkuProfile, type SkuProfileList } from '@metalfleet/api';
import { loadDataFile } from '@metalfleet/config';
import type { CliContext } from '../context.ts';
import { formatTable } from '../table.ts';

const GiB = 1024 ** 3;

export function registerSkuProfiles(program: Command, ctx: CliContext): void {
  const profiles = program.command('sku-profiles').description('the SKU profiles acceptance testing judges nodes by');
  profiles.command('ls', { isDefault: true }).description('the profiles in force, in the order nodes are matched').action(async () => {
    const list = await ctx.client().get<Static<typeof SkuProfileList>>('/api/v1/sku-profiles');
    ctx.print(list, () => formatTable(['NAME', 'SOURCE', 'GPUS', 'GPU MEMORY', 'PCIE', 'NVLINKS', 'NICS', 'NVME', 'NCCL GATE', 'STRESS', 'DCGM'], list.items.map((p) => [
      p.name, p.source, `${p.gpuCount} x ${p.gpuModel}`, `≥ ${Math.round(p.minGpuMemoryBytes / GiB)} GiB`, `Gen${p.pcieGen} x${p.pcieWidth}`, p.nvlinksPerGpu === null ? '-' : String(p.nvlinksPerGpu),
      `${p.nicCount} at ${p.minNicSpeedMbps / 1000} Gb/s`, String(p.nvmeCount), p.gates.ncclBusbwGBs > 0 ? `≥ ${p.gates.ncclBusbwGBs} GB/s` : '-',
      p.gates.stress ? `${p.gates.stress.seconds} s, ≤ ${p.gates.stress.maxTempSpreadC} °C spread` : '-', `-r ${p.gates.dcgmLevel}`,
    ])));
  });
  profiles.command('set').description('make or replace a profile (admin): one profile in a YAML or JSON file; it comes before the file\'s and the defaults')
    .argument('<file>', 'the profile (docs/acceptance.md)')
    .action(async (file: string) => {
      // Checked before anything is sent: the file and the field are named.
      const profile = loadDataFile(file, SkuProfile);
      const saved = await ctx.client().request<SkuProfile>('PUT', `/api/v1/sku-profiles/${encodeURIComponent(profile.name)}`, profile);
      ctx.print(saved, () => `SKU profile ${saved.name} saved: ${saved.gpuCount} x ${saved.gpuModel}`);
    });
  profiles.command('rm').description('remove a profile made through the API (admin)').argument('<name>').action(async (name: string) => {
    await ctx.client().request('DELETE', `/api/v1/sku-profiles/${encodeURIComponent(name)}`);
    ctx.print({ removed: name }, () => `SKU profile ${name} removed`);
  });
}
