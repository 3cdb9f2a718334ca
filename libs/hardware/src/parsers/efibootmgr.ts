// `efibootmgr` (no arguments): which boot entry boots from the network.
//   BootCurrent: 0001
//   BootOrder: 0001,0003,0000
//   Boot0000* UiApp
//   Boot0003* UEFI PXEv4 (MAC:525400123456)
//   Boot0004* UEFI HTTPv4 (MAC:525400123456)

export interface BootEntry {
  id: string;
  label: string;
  active: boolean;
}

export function parseEfiBootEntries(output: string): BootEntry[] {
  const entries: BootEntry[] = [];
  for (const line of output.split('\n')) {
    const [, id, star, label] = /^Boot([0-9A-Fa-f]{4})(\*?)\s+(.*)$/.exec(line.trim()) ?? [];
    if (id && label !== undefined) entries.push({ id: id.toUpperCase(), active: star === '*', label: label.trim() });
  }
  return entries;
}

const network = /\bPXE|\bNetwork\b|\bNIC\b|HTTP/i;
// Firmware menus and shells are not disks either.
const notDisk = /UiApp|Setup|Shell|Boot Manager|EFI Internal|Firmware/i;

/** The first active PXE (IPv4 before IPv6) entry; HTTP boot and disks are not PXE. */
export function pxeBootEntry(entries: readonly BootEntry[]): BootEntry | null {
  const pxe = entries.filter((e) => e.active && network.test(e.label) && !/HTTP/i.test(e.label));
  return pxe.find((e) => /v4|IPv4/i.test(e.label)) ?? pxe[0] ?? null;
}

/** The first active entry that boots a disk (not the network, not a firmware menu). */
export function diskBootEntry(entries: readonly BootEntry[]): BootEntry | null {
  return entries.find((e) => e.active && !network.test(e.label) && !notDisk.test(e.label)) ?? null;
}
