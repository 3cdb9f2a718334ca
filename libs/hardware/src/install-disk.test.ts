import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockDevices, pickInstallDisk } from './install-disk.ts';

const gib = 2 ** 30;

describe('install disk', () => {
  it('takes the first fixed whole disk, in natural order, and skips loop, RAM, CD, removable and empty devices', () => {
    const devices = [
      { name: 'loop0', sizeBytes: gib, removable: false }, { name: 'sr0', sizeBytes: gib, removable: true },
      { name: 'sdb', sizeBytes: 8 * gib, removable: true }, { name: 'nvme10n1', sizeBytes: gib, removable: false },
      { name: 'nvme2n1', sizeBytes: 2 * gib, removable: false }, { name: 'vdz', sizeBytes: 0, removable: false },
    ];
    expect(pickInstallDisk(devices)).toEqual({ path: '/dev/nvme2n1', sizeBytes: 2 * gib });
  });

  it('uses the disk the kernel command line names, and refuses one that does not exist', () => {
    const devices = [{ name: 'vda', sizeBytes: gib, removable: false }, { name: 'vdb', sizeBytes: 2 * gib, removable: false }];
    expect(pickInstallDisk(devices, '/dev/vdb')).toEqual({ path: '/dev/vdb', sizeBytes: 2 * gib });
    expect(pickInstallDisk(devices, '/dev/sda')).toEqual({ error: 'the disk /dev/sda (metalfleet.disk) does not exist; disks: vda, vdb' });
    expect(pickInstallDisk([{ name: 'loop0', sizeBytes: gib, removable: false }])).toEqual({ error: 'no fixed disk to install to (block devices: loop0)' });
  });

  it('reads sizes (512-byte sectors) and the removable flag from sysfs', () => {
    const sys = mkdtempSync(join(tmpdir(), 'mf-block-'));
    mkdirSync(join(sys, 'vda'));
    writeFileSync(join(sys, 'vda', 'size'), '131072\n');
    writeFileSync(join(sys, 'vda', 'removable'), '0\n');
    expect(blockDevices(sys)).toEqual([{ name: 'vda', sizeBytes: 64 * 2 ** 20, removable: false }]);
  });
});
