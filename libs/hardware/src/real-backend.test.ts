import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateHealth } from '@metalfleet/domain';
import { createRealBackend } from './real-backend.ts';

// Read independently of systeminformation: what sysfs says about this machine.
function sysfsPhysicalMacs(): string[] {
  return readdirSync('/sys/class/net')
    .filter((iface) => !readlinkSync(`/sys/class/net/${iface}`).includes('/virtual/'))
    .map((iface) => readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim().toLowerCase())
    .sort();
}

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/nvidia/${name}`, import.meta.url));

describe('real backend (this machine)', () => {
  it('reports the physical NICs sysfs lists as the identity MACs', async () => {
    const identity = await createRealBackend().identity();
    expect([...identity.macs].sort()).toEqual(sysfsPhysicalMacs());
  });

  it('collects an inventory through the registry, recording the parts it could not read', async () => {
    const inventory = await createRealBackend().inventory();
    expect(inventory.cpus.length).toBeGreaterThan(0);
    expect(inventory.memory.totalBytes).toBeGreaterThan(0);
    expect(inventory.os.kernel).not.toBe('');
    expect(inventory.nics.map((n) => n.mac).sort()).toEqual(expect.arrayContaining(sysfsPhysicalMacs()));
    for (const failure of inventory.failures) expect(failure.message).not.toBe('');
    // lldpd is not installed on CI machines: recorded as a failure, the rest still there
    expect(inventory.failures.map((f) => f.collector)).toContain('lldp');
  });
});

describe('real backend on recorded outputs (offline diagnosis)', () => {
  it('reads GPUs from a saved nvidia-smi XML and Xids from a saved dmesg', async () => {
    const backend = createRealBackend({ nvidiaSmiXmlFile: fixture('GuanceCloud__datakit__gtx-8card.xml'), kmsgFile: fixture('leptonai__gpud__dmesg-with-xid-119.log') });
    await backend.start(() => {});
    const inventory = await backend.inventory();
    expect(inventory.gpus).toHaveLength(8);
    expect(inventory.gpus[0]).toMatchObject({ model: 'Tesla V100S-PCIE-32GB', driverVersion: '460.73.01', pcieMaxWidth: 16 });
    const findings = evaluateHealth(await backend.health(), { ...backend.expectations(), now: new Date() });
    expect(findings.map((f) => `${f.component} ${f.code}`)).toEqual(['gpu:0000:9b:00 xid-119']);
    // The inventory reads the host through systeminformation (a dozen commands): seconds on a busy 2-core machine.
  }, 30_000);
});
