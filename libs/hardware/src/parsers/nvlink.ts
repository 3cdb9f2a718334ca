// `nvidia-smi nvlink -s` → per-GPU link states. "<inactive>" links and
// "all links are inActive" are down; "Device does not have or support Nvlink"
// means the GPU has none (PCIe cards).
import type { NvlinkGpuState } from '@metalfleet/domain';

export function parseNvlinkStatus(output: string): NvlinkGpuState[] {
  const gpus: NvlinkGpuState[] = [];
  let current: NvlinkGpuState | null = null;
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.replace(/^\uFEFF/, '').trim();
    const gpu = /^GPU (\d+): .*\(UUID: ([^)]+)\)/.exec(line);
    if (gpu?.[1] && gpu[2]) {
      current = { gpuIndex: Number(gpu[1]), uuid: gpu[2], links: [] };
      gpus.push(current);
      continue;
    }
    if (!current) continue;
    const link = /^Link (\d+): (.+)$/.exec(line);
    if (link?.[1] && link[2]) {
      const speed = /^([\d.]+) GB\/s$/.exec(link[2].trim());
      if (speed?.[1]) current.links[Number(link[1])] = Number(speed[1]);
      else if (/inactive/i.test(link[2])) current.links[Number(link[1])] = null;
    } else if (/all links are inactive/i.test(line)) {
      current.links = current.links.length > 0 ? current.links.map(() => null) : [null];
    }
  }
  return gpus.map((g) => ({ ...g, links: Array.from(g.links, (l) => l ?? null) }));
}

/** Links each GPU model has when healthy (GPU-HEALTH.md §4); null when unknown or PCIe-only. */
export function expectedNvlinks(model: string): number | null {
  if (/H100|H200|H800|B200|B100|GB200/i.test(model) && !/PCIe|NVL/i.test(model)) return 18;
  if (/A100-SXM|A800-SXM/i.test(model)) return 12;
  return null;
}

export interface NvlinkThroughput {
  gpuIndex: number;
  links: Array<{ txKiB: number; rxKiB: number }>;
}

/** `nvidia-smi nvlink -gt d`: data counters per link. */
export function parseNvlinkThroughput(output: string): NvlinkThroughput[] {
  const gpus: NvlinkThroughput[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.replace(/^\uFEFF/, '').trim();
    const gpu = /^GPU (\d+):/.exec(line);
    if (gpu?.[1]) {
      gpus.push({ gpuIndex: Number(gpu[1]), links: [] });
      continue;
    }
    const m = /^Link (\d+): Data (Tx|Rx): ([\d.]+) KiB$/.exec(line);
    const current = gpus.at(-1);
    if (!m?.[1] || !m[2] || !m[3] || !current) continue;
    const link = (current.links[Number(m[1])] ??= { txKiB: 0, rxKiB: 0 });
    if (m[2] === 'Tx') link.txKiB = Number(m[3]);
    else link.rxKiB = Number(m[3]);
  }
  return gpus;
}

export interface NvlinkErrorCounters {
  gpuIndex: number;
  uuid: string;
  /** Per link: replay, recovery and CRC error counters. */
  links: Array<{ replay: number; recovery: number; crc: number }>;
}

/** `nvidia-smi nvlink -e`: "Link N: Replay Errors: 0", "Link N: Recovery Errors: 0", "Link N: CRC Errors: 0". */
export function parseNvlinkErrors(output: string): NvlinkErrorCounters[] {
  const gpus: NvlinkErrorCounters[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    const gpu = /^GPU (\d+): .*\(UUID: ([^)]+)\)/.exec(line);
    if (gpu?.[1] && gpu[2]) {
      gpus.push({ gpuIndex: Number(gpu[1]), uuid: gpu[2], links: [] });
      continue;
    }
    const m = /^Link (\d+): (Replay|Recovery|CRC)(?: Data| Flit)? Errors: (\d+)$/i.exec(line);
    const current = gpus.at(-1);
    if (!m?.[1] || !m[2] || !m[3] || !current) continue;
    const link = (current.links[Number(m[1])] ??= { replay: 0, recovery: 0, crc: 0 });
    const key = m[2].toLowerCase() as 'replay' | 'recovery' | 'crc';
    link[key] += Number(m[3]);
  }
  return gpus;
}
