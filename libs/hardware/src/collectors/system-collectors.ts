// Inventory from systeminformation: the machine, CPUs, memory, disks, OS.
import si from 'systeminformation';
import type { InventoryCollector } from '../collector.ts';

/** systeminformation reports a missing value as '' or '-'. */
export function clean(value: string | undefined | null): string {
  const v = (value ?? '').trim();
  return v === '-' ? '' : v;
}

const always = async () => true;

export const systemCollector: InventoryCollector = {
  name: 'system',
  probe: always,
  async collect(draft) {
    const [system, bios] = await Promise.all([si.system(), si.bios()]);
    return {
      system: { ...draft.system, vendor: clean(system.manufacturer), model: clean(system.model), virtual: system.virtual, biosVendor: clean(bios.vendor), biosVersion: clean(bios.version) },
    };
  },
};

export const cpuCollector: InventoryCollector = {
  name: 'cpu',
  probe: always,
  async collect() {
    const cpu = await si.cpu();
    const sockets = Math.max(1, cpu.processors || 1);
    return {
      cpus: Array.from({ length: sockets }, () => ({
        vendor: cpu.manufacturer, model: cpu.brand, cores: Math.round(cpu.physicalCores / sockets), threads: Math.round(cpu.cores / sockets), baseGhz: cpu.speed,
      })),
    };
  },
};

export const memoryCollector: InventoryCollector = {
  name: 'memory',
  probe: always,
  async collect() {
    const [mem, dimms] = await Promise.all([si.mem(), si.memLayout()]);
    return {
      memory: {
        totalBytes: mem.total,
        dimms: dimms.filter((d) => d.size > 0).map((d) => ({ locator: clean(d.bank), sizeBytes: d.size, type: clean(d.type), speedMts: d.clockSpeed ?? 0, serial: clean(d.serialNum), ecc: d.ecc ?? null })),
      },
    };
  },
};

export const diskCollector: InventoryCollector = {
  name: 'disks',
  probe: always,
  async collect() {
    const disks = await si.diskLayout();
    return {
      disks: disks.map((d) => ({
        name: d.device, model: clean(d.name), serial: clean(d.serialNum), sizeBytes: d.size,
        nvme: d.interfaceType === 'NVMe' || d.device.includes('nvme'), firmware: clean(d.firmwareRevision),
      })),
    };
  },
};

export const osCollector: InventoryCollector = {
  name: 'os',
  probe: always,
  async collect(draft) {
    const [os, ids] = await Promise.all([si.osInfo(), si.uuid()]);
    return {
      os: { distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch, machineId: ids.os ?? '' },
      system: { ...draft.system, hostname: os.hostname },
    };
  },
};
