import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRealBackend } from './real-backend.ts';

// Read independently of systeminformation: what sysfs says about this machine.
function sysfsPhysicalMacs(): string[] {
  return readdirSync('/sys/class/net')
    .filter((iface) => !readlinkSync(`/sys/class/net/${iface}`).includes('/virtual/'))
    .map((iface) => readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim().toLowerCase())
    .sort();
}

describe('real backend (this machine)', () => {
  it('reports the physical NICs sysfs lists as the identity MACs', async () => {
    const identity = await createRealBackend().identity();
    expect([...identity.macs].sort()).toEqual(sysfsPhysicalMacs());
  });

  it('collects an inventory with CPUs, memory and a timestamp, listing any failed part', async () => {
    const inventory = await createRealBackend().inventory();
    expect(inventory.cpus.length).toBeGreaterThan(0);
    expect(inventory.memory.totalBytes).toBeGreaterThan(0);
    expect(inventory.os.kernel).not.toBe('');
    expect(inventory.collectedAt).toBeInstanceOf(Date);
    for (const failure of inventory.failures) expect(failure.message).not.toBe('');
  });
});
