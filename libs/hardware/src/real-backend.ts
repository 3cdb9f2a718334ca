// The real machine, through systeminformation (and sysfs where it is silent).
// Each part is collected on its own with a timeout; a part that fails is
// recorded in inventory.failures and the rest still goes out.
import { uptime } from 'node:os';
import si from 'systeminformation';
import { emptyInventory, type CollectorFailure, type Inventory, type NodeIdentity } from '@metalfleet/domain';
import type { HardwareBackend, TelemetryReading } from './hardware-backend.ts';
import { nicFacts } from './sysfs-net.ts';
import { withTimeout } from './with-timeout.ts';

const partTimeoutMs = 10_000;

function clean(value: string | undefined | null): string {
  const v = (value ?? '').trim();
  return v === '-' ? '' : v;
}

async function part<T>(name: string, failures: CollectorFailure[], work: () => Promise<T>): Promise<T | null> {
  try {
    return await withTimeout(work(), partTimeoutMs, name);
  } catch (error) {
    failures.push({ collector: name, message: error instanceof Error ? error.message : String(error) });
    return null;
  }
}

async function physicalNics() {
  const nics = await si.networkInterfaces();
  return (Array.isArray(nics) ? nics : [nics])
    .filter((n) => !n.internal && n.mac && n.mac !== '00:00:00:00:00:00')
    .map((n) => ({ nic: n, facts: nicFacts(n.iface) }));
}

export function createRealBackend(): HardwareBackend {
  return {
    label: 'real',

    async identity(): Promise<NodeIdentity> {
      const [system, chassis, board, nics] = await Promise.all([
        si.system(), si.chassis(), si.baseboard(), physicalNics(),
      ]);
      return {
        systemUuid: clean(system.uuid).toLowerCase(),
        systemSerial: clean(system.serial),
        chassisSerial: clean(chassis.serial),
        boardSerial: clean(board.serial),
        macs: nics.filter((n) => n.facts.physical).map((n) => n.nic.mac.toLowerCase()),
        bmcAddress: '',
      };
    },

    async inventory(): Promise<Inventory> {
      const inventory = emptyInventory();
      const failures: CollectorFailure[] = [];
      const [system, bios, cpu, mem, dimms, disks, nics, os, ids] = await Promise.all([
        part('system', failures, () => si.system()),
        part('bios', failures, () => si.bios()),
        part('cpu', failures, () => si.cpu()),
        part('memory', failures, () => si.mem()),
        part('dimms', failures, () => si.memLayout()),
        part('disks', failures, () => si.diskLayout()),
        part('nics', failures, physicalNics),
        part('os', failures, () => si.osInfo()),
        part('machine-id', failures, () => si.uuid()),
      ]);
      if (system) {
        Object.assign(inventory.system, { vendor: clean(system.manufacturer), model: clean(system.model), virtual: system.virtual });
      }
      if (bios) Object.assign(inventory.system, { biosVendor: clean(bios.vendor), biosVersion: clean(bios.version) });
      if (cpu) {
        const sockets = Math.max(1, cpu.processors || 1);
        inventory.cpus = Array.from({ length: sockets }, () => ({
          vendor: cpu.manufacturer, model: cpu.brand, cores: Math.round(cpu.physicalCores / sockets),
          threads: Math.round(cpu.cores / sockets), baseGhz: cpu.speed,
        }));
      }
      if (mem) inventory.memory.totalBytes = mem.total;
      if (dimms) {
        inventory.memory.dimms = dimms.filter((d) => d.size > 0).map((d) => ({
          locator: clean(d.bank), sizeBytes: d.size, type: clean(d.type), speedMts: d.clockSpeed ?? 0, serial: clean(d.serialNum),
        }));
      }
      if (disks) {
        inventory.disks = disks.map((d) => ({
          name: d.device, model: clean(d.name), serial: clean(d.serialNum), sizeBytes: d.size,
          nvme: d.interfaceType === 'NVMe' || d.device.includes('nvme'), firmware: clean(d.firmwareRevision),
        }));
      }
      if (nics) {
        inventory.nics = nics.map(({ nic, facts }) => ({
          name: nic.iface, mac: nic.mac.toLowerCase(), speedMbps: nic.speed && nic.speed > 0 ? nic.speed : 0,
          linkUp: nic.operstate === 'up', driver: facts.driver, firmware: '', physical: facts.physical,
        }));
      }
      if (os) {
        inventory.os = { distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch, machineId: ids?.os ?? '' };
        inventory.system.hostname = os.hostname;
      }
      inventory.failures = failures;
      inventory.collectedAt = new Date();
      return inventory;
    },

    async telemetry(): Promise<TelemetryReading> {
      const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
      return {
        at: new Date(),
        cpuLoadPercent: load.currentLoad,
        memoryUsedBytes: mem.active,
        memoryTotalBytes: mem.total,
        uptimeSeconds: uptime(),
        gpus: [],
      };
    },
  };
}
