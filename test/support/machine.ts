// What this machine is, read from sysfs, independently of the agent's
// systeminformation-based collectors.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The SMBIOS system UUID, or '' where the firmware (or a container) exposes none. */
export function systemUuid(): string {
  const path = '/sys/class/dmi/id/product_uuid';
  return existsSync(path) ? readFileSync(path, 'utf8').trim().toLowerCase() : '';
}

/** MACs of interfaces backed by a device (not lo, bridges, veths, ifb). */
export function physicalMacs(): string[] {
  return readdirSync('/sys/class/net')
    .filter((iface) => !readlinkSync(`/sys/class/net/${iface}`).includes('/virtual/'))
    .map((iface) => readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim().toLowerCase())
    .filter((mac) => mac !== '00:00:00:00:00:00')
    .sort();
}
