import { describe, expect, it } from 'vitest';
import { diskBootEntry, parseEfiBootEntries, pxeBootEntry } from './efibootmgr.ts';

// OVMF in QEMU with a virtio NIC, as `efibootmgr` prints it.
const ovmf = `BootCurrent: 0001
Timeout: 0 seconds
BootOrder: 0001,0000,0002,0003,0004
Boot0000* UiApp	FvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)
Boot0001* debian	HD(1,GPT,5a0e4b0e-8f5c-4b3c-9c1a-0e8b2c3d4e5f,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)
Boot0002* UEFI PXEv6 (MAC:525400123456)	PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,1)/IPv6([::]:<->[::]:,0,0)
Boot0003* UEFI PXEv4 (MAC:525400123456)	PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,1)/IPv4(0.0.0.0,0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)
Boot0004* UEFI HTTPv4 (MAC:525400123456)	PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,1)/IPv4(0.0.0.0,0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)/Uri()
`;

describe('efibootmgr', () => {
  it('finds the IPv4 PXE entry', () => {
    const entries = parseEfiBootEntries(ovmf);
    expect(entries.map((e) => e.id)).toEqual(['0000', '0001', '0002', '0003', '0004']);
    expect(pxeBootEntry(entries)).toMatchObject({ id: '0003', label: expect.stringContaining('UEFI PXEv4') });
  });

  it('skips inactive entries and answers null without any network entry', () => {
    expect(pxeBootEntry(parseEfiBootEntries('Boot0003  UEFI PXEv4 (MAC:1)\nBoot0001* debian\n'))).toBeNull();
  });

  it('finds the disk entry for the boot after an install, never a firmware menu or a network entry', () => {
    expect(diskBootEntry(parseEfiBootEntries(ovmf))).toMatchObject({ id: '0001', label: expect.stringContaining('debian') });
    expect(diskBootEntry(parseEfiBootEntries('Boot0000* UiApp\nBoot0003* UEFI PXEv4 (MAC:1)\nBoot0005* EFI Internal Shell\n'))).toBeNull();
  });
});
