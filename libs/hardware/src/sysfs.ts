// Small sysfs reads the collectors need.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

export function readSysfs(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function nicFacts(iface: string, sysClassNet = '/sys/class/net'): { physical: boolean; driver: string } {
  const device = join(sysClassNet, iface, 'device');
  if (!existsSync(device)) return { physical: false, driver: '' };
  let driver = '';
  try {
    driver = basename(readlinkSync(join(device, 'driver')));
  } catch {
    // some devices have no driver bound
  }
  return { physical: true, driver };
}

/** NVIDIA display/3D controllers on the PCI bus: whether nvidia-smi should find GPUs here. */
export function nvidiaGpusOnPciBus(root = '/sys/bus/pci/devices'): number {
  try {
    return readdirSync(root).filter((d) => readSysfs(join(root, d, 'vendor')) === '0x10de' && (readSysfs(join(root, d, 'class')) ?? '').startsWith('0x03')).length;
  } catch {
    return 0;
  }
}

/** EDAC memory controllers: /sys/devices/system/edac/mc/mc*\/{ce_count,ue_count}. */
export function edacCounters(root = '/sys/devices/system/edac/mc'): Array<{ controller: string; correctable: number; uncorrectable: number }> {
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((d) => /^mc\d+$/.test(d)).map((controller) => ({
    controller,
    correctable: Number(readSysfs(join(root, controller, 'ce_count')) ?? 0),
    uncorrectable: Number(readSysfs(join(root, controller, 'ue_count')) ?? 0),
  }));
}
