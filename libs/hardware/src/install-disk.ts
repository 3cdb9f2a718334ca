// Which disk an install image writes to: the one the kernel command line
// names (metalfleet.disk=/dev/…), or the first fixed whole disk the kernel
// sees (/sys/block), never a removable one, a CD, a RAM or loop device.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface BlockDevice {
  name: string;
  sizeBytes: number;
  removable: boolean;
}

const notDisks = /^(loop|ram|zram|sr|fd|dm-|md|nbd)/;

/** The disk to install to, or why there is none. */
export function pickInstallDisk(devices: readonly BlockDevice[], requested = ''): { path: string; sizeBytes: number } | { error: string } {
  if (requested !== '') {
    const wanted = devices.find((d) => d.name === basename(requested));
    return wanted ? { path: `/dev/${wanted.name}`, sizeBytes: wanted.sizeBytes } : { error: `the disk ${requested} (metalfleet.disk) does not exist; disks: ${devices.map((d) => d.name).join(', ') || 'none'}` };
  }
  const fixed = devices.filter((d) => !notDisks.test(d.name) && !d.removable && d.sizeBytes > 0)
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const first = fixed[0];
  return first ? { path: `/dev/${first.name}`, sizeBytes: first.sizeBytes } : { error: `no fixed disk to install to (block devices: ${devices.map((d) => d.name).join(', ') || 'none'})` };
}

/** Whole disks as the kernel lists them. */
export function blockDevices(sysBlock = '/sys/block'): BlockDevice[] {
  if (!existsSync(sysBlock)) return [];
  const read = (name: string, file: string) => {
    try {
      return readFileSync(join(sysBlock, name, file), 'utf8').trim();
    } catch {
      return '';
    }
  };
  return readdirSync(sysBlock).map((name) => ({ name, sizeBytes: Number(read(name, 'size') || 0) * 512, removable: read(name, 'removable') === '1' }));
}

/** The install target on this machine; throws with the reason when there is none. */
export async function installTarget(requested = ''): Promise<{ path: string; sizeBytes: number }> {
  const picked = pickInstallDisk(blockDevices(), requested);
  if ('error' in picked) throw new Error(picked.error);
  return picked;
}
