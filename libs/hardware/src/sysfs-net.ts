// What systeminformation does not say about NICs, read from sysfs: whether a
// device backs the interface (physical) and which driver runs it.
import { existsSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

export function nicFacts(iface: string, sysClassNet = '/sys/class/net'): { physical: boolean; driver: string } {
  const device = join(sysClassNet, iface, 'device');
  if (!existsSync(device)) return { physical: false, driver: '' };
  let driver = '';
  try {
    driver = basename(readlinkSync(join(device, 'driver')));
  } catch {
    // some virtual devices have no driver link
  }
  return { physical: true, driver };
}
