// metalfleet sku-profiles: the SKU profiles acceptance testing judges nodes by,
// in the order nodes are matched (the operator's file, then the defaults).
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { SkuProfileList } from '@metalfleet/api';
import type { CliContext } from '../context.ts';
import { formatTable } from '../table.ts';

const GiB = 1024 ** 3;

export function registerSkuProfiles(program: Command, ctx: CliContext): void {
  program.command('sku-profiles').description('the SKU profiles acceptance testing judges nodes by, in the order nodes are matched')
    .action(async () => {
      const list = await ctx.client().get<Static<typeof SkuProfileList>>('/api/v1/sku-profiles');
      ctx.print(list, () => formatTable(['NAME', 'GPUS', 'GPU MEMORY', 'PCIE', 'NVLINKS', 'NICS', 'NVME', 'NCCL GATE', 'DCGM'], list.items.map((p) => [
        p.name, `${p.gpuCount} x ${p.gpuModel}`, `≥ ${Math.round(p.minGpuMemoryBytes / GiB)} GiB`, `Gen${p.pcieGen} x${p.pcieWidth}`, p.nvlinksPerGpu === null ? '-' : String(p.nvlinksPerGpu),
        `${p.nicCount} at ${p.minNicSpeedMbps / 1000} Gb/s`, String(p.nvmeCount), p.gates.ncclBusbwGBs > 0 ? `≥ ${p.gates.ncclBusbwGBs} GB/s` : '-', `-r ${p.gates.dcgmLevel}`,
      ])));
    });
}
