import { describe, expect, it } from 'vitest';
import { emptyInventory, type Inventory } from './inventory.ts';
import type { NodeIdentity } from './node-identity.ts';
import { identityProblem, inventoryProblem } from './registration-limits.ts';

const ok: NodeIdentity = { systemUuid: '4c4c4544-0042-3510-8052-b4c04f4e4d32', systemSerial: 'SN-1', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' };
const macs = (n: number) => Array.from({ length: n }, (_, i) => `0c:42:a1:00:${String(Math.floor(i / 256)).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`);

describe('identityProblem', () => {
  it.each<[string, Partial<NodeIdentity>, RegExp | null]>([
    ['a plain identity', {}, null],
    ['128-character serial', { systemSerial: 'S'.repeat(128) }, null],
    ['1 MiB system serial', { systemSerial: 'S'.repeat(1 << 20) }, /system serial is 1048576 characters long \(at most 128\)/],
    ['long board serial', { boardSerial: 'B'.repeat(129) }, /board serial/],
    ['long UUID', { systemUuid: 'u'.repeat(200) }, /system UUID/],
    ['64 MACs', { macs: macs(64) }, null],
    ['65 MACs', { macs: macs(65) }, /65 MAC addresses \(at most 64\)/],
    ['an unparseable MAC', { macs: ['0c:42:a1:00:00:01', 'not-a-mac'] }, /MAC address "not-a-mac" is not a MAC/],
    ['dotted and bare MACs', { macs: ['0c42.a100.0001', '0C42A1000002'] }, null],
    // PostgreSQL text holds no NUL (SQLite does): refused on both stores alike.
    ['a NUL in a serial', { chassisSerial: 'CH\u00001' }, /chassis serial holds a NUL character/],
    ['a NUL in a MAC', { macs: ['0c:42:a1:00:00:01\u0000'] }, /is not a MAC/],
  ])('%s', (_name, partial, expected) => {
    const problem = identityProblem({ ...ok, ...partial });
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});

describe('inventoryProblem', () => {
  const inv = (change: (i: Inventory) => void) => {
    const i = emptyInventory();
    change(i);
    return i;
  };
  it.each<[string, Inventory, RegExp | null]>([
    ['an empty inventory', emptyInventory(), null],
    ['a 254-character hostname', inv((i) => { i.system.hostname = 'h'.repeat(254); }), /hostname is 254 characters long/],
    ['a megabyte GPU model', inv((i) => { i.gpus.push({ index: 0, model: 'H'.repeat(1 << 20), uuid: '', serial: '', vbiosVersion: '', driverVersion: '', cudaVersion: '', pciBusId: '', memoryBytes: 0, pcieMaxGen: 0, pcieMaxWidth: 0, pcieLinkMaxGen: 0, pcieCurrentWidth: 0, migMode: '', powerLimitW: 0, defaultPowerLimitW: 0, eccMode: '' }); }), /inventory\.gpus\[0\]\.model is 1048576 characters long/],
    ['a NUL in a hostname', inv((i) => { i.system.hostname = 'gpu\u0000-001'; }), /hostname holds a NUL character/],
    ['a NUL deep in a collector failure', inv((i) => { i.failures.push({ collector: 'nvidia-smi', message: 'exit 9\u0000' }); }), /inventory\.failures\[0\]\.message holds a NUL character/],
    ['ten thousand disks', inv((i) => { i.disks = Array.from({ length: 10_000 }, () => ({ name: 'sda', model: '', serial: '', sizeBytes: 0, nvme: false, firmware: '' })); }), /10000 disks \(at most 256\)/],
  ])('%s', (_name, inventory, expected) => {
    const problem = inventoryProblem(inventory);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});
