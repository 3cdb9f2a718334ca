// A simulated 8-GPU H100 node. Everything about it is derived from
// (fleet seed, index), so a restarted simulator registers the same machines
// again. Used by `metalfleet-agent --simulate N` and by tests.
import { createHash } from 'node:crypto';
import { emptyInventory, type Inventory, type NodeIdentity } from '@metalfleet/domain';
import type { GpuReading, HardwareBackend, TelemetryReading } from './hardware-backend.ts';

const GiB = 1024 ** 3;
const gpuCount = 8;

function digest(seed: string, index: number, field: string): string {
  return createHash('sha256').update(`${seed}:${index}:${field}`).digest('hex');
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Locally administered unicast MACs (02:...), never clashing with real vendors. */
function macFrom(hex: string): string {
  return ['02', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10)].join(':');
}

export function createSimulatedBackend(options: { seed: string; index: number; startedAt?: Date }): HardwareBackend {
  const { seed, index } = options;
  const startedAt = options.startedAt ?? new Date();
  const name = `sim-${String(index).padStart(3, '0')}`;
  const serial = `SIM${digest(seed, index, 'serial').slice(0, 9).toUpperCase()}`;
  const macs = [0, 1].map((port) => macFrom(digest(seed, index, `mac${port}`)));
  const gpuUuids = Array.from({ length: gpuCount }, (_, g) => `GPU-${uuidFrom(digest(seed, index, `gpu${g}`))}`);
  let tick = 0;

  const identity: NodeIdentity = {
    systemUuid: uuidFrom(digest(seed, index, 'uuid')),
    systemSerial: serial,
    chassisSerial: serial,
    boardSerial: `BRD${digest(seed, index, 'board').slice(0, 9).toUpperCase()}`,
    macs,
    bmcAddress: '',
  };

  return {
    label: `simulated #${index}`,

    async identity() {
      return { ...identity, macs: [...identity.macs] };
    },

    async inventory(): Promise<Inventory> {
      const inventory = emptyInventory();
      inventory.system = {
        vendor: 'Simulated', model: 'SIM-HGX-H100-8', biosVendor: 'Simulated', biosVersion: '1.5.2',
        bmcFirmwareVersion: '2.1.0', virtual: true, hostname: name,
      };
      inventory.cpus = [0, 1].map(() => ({ vendor: 'GenuineIntel', model: 'Intel Xeon Platinum 8480+', cores: 56, threads: 112, baseGhz: 2.0 }));
      inventory.memory = {
        totalBytes: 2048 * GiB,
        dimms: Array.from({ length: 32 }, (_, d) => ({ locator: `DIMM_${d}`, sizeBytes: 64 * GiB, type: 'DDR5', speedMts: 4800, serial: `${serial}-D${d}` })),
      };
      inventory.disks = [0, 1].map((d) => ({ name: `/dev/nvme${d}n1`, model: 'SAMSUNG MZQL23T8HCLS', serial: `${serial}-N${d}`, sizeBytes: 3.84e12, nvme: true, firmware: 'GDC5902Q' }));
      inventory.nics = macs.map((mac, port) => ({ name: `eth${port}`, mac, speedMbps: 100_000, linkUp: true, driver: 'mlx5_core', firmware: '28.39.1002', physical: true }));
      inventory.gpus = gpuUuids.map((uuid, g) => ({
        index: g, model: 'NVIDIA H100 80GB HBM3', uuid, serial: `${serial.slice(3)}${g}`, vbiosVersion: '96.00.99.00.01',
        driverVersion: '570.124.06', cudaVersion: '12.8', pciBusId: `00000000:${(0x18 + g * 0x10).toString(16).toUpperCase()}:00.0`, memoryBytes: 80 * GiB,
      }));
      inventory.os = { distro: 'metalfleet discovery image', release: '0.1', kernel: '6.1.0-simulated', arch: 'x64', machineId: digest(seed, index, 'machine-id').slice(0, 32) };
      inventory.collectedAt = new Date();
      return inventory;
    },

    async telemetry(): Promise<TelemetryReading> {
      tick += 1;
      const wave = (phase: number) => 0.5 + 0.5 * Math.sin(tick / 5 + phase + index);
      const gpus: GpuReading[] = gpuUuids.map((uuid, g) => ({
        index: g, uuid, temperatureC: 38 + 40 * wave(g), powerW: 90 + 600 * wave(g), utilizationPercent: 100 * wave(g),
        memoryUsedBytes: Math.round(80 * GiB * wave(g + 1)), eccVolatileUncorrected: 0,
      }));
      return {
        at: new Date(),
        cpuLoadPercent: 100 * wave(0.3),
        memoryUsedBytes: Math.round(2048 * GiB * 0.2),
        memoryTotalBytes: 2048 * GiB,
        uptimeSeconds: (Date.now() - startedAt.getTime()) / 1000,
        gpus,
      };
    },
  };
}
