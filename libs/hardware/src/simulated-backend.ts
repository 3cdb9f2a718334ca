// A simulated GPU node (default: an HGX H100 8-GPU node as the default SKU
// profile expects it: 8 GPUs, 8 NICs at 400 Gb/s, 8 NVMe drives) whose identity is derived from
// (seed, index), so a restarted simulator registers the same machines. It feeds
// the same health pipeline as real hardware: GPU snapshots, kernel log lines
// (through the real kernel log parser), NVLink, SMART and NIC states, with the
// faults of simulated-faults.ts applied.
import { createHash } from 'node:crypto';
import {
  emptyGpuSnapshot, emptyInventory, type DiskHealth, type GpuSnapshot, type HealthReadings, type Inventory, type NodeIdentity,
} from '@metalfleet/domain';
import { simulatedAcceptanceOutputs } from './acceptance-suite.ts';
import type { GpuReading, HardwareBackend, TelemetryReading } from './hardware-backend.ts';
import { KernelLogFollower } from './kernel-log-follower.ts';
import type { FaultKind } from './simulated-faults.ts';
import { simulatedNvidiaSmiXml } from './simulated-nvidia-smi-xml.ts';

const GiB = 1024 ** 3;

export interface SimulatedMachineSpec {
  gpuModel: string;
  gpuCount: number;
  nvlinksPerGpu: number;
  nicCount: number;
  diskCount: number;
}

export const defaultSimulatedSpec: SimulatedMachineSpec = { gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8, nvlinksPerGpu: 18, nicCount: 8, diskCount: 8 };
/** ConnectX-7 NDR, one per GPU as on an HGX H100 node. */
const nicSpeedMbps = 400_000;

export interface SimulatedBackendOptions {
  seed: string;
  index: number;
  spec?: Partial<SimulatedMachineSpec>;
  /** Faults to apply now; read at every health and telemetry cycle. */
  faults?: () => readonly FaultKind[];
  startedAt?: Date;
  /** A text file this node's kernel log is followed from as it grows (created if missing): append an Xid line to inject one. */
  kernelLogFile?: string | undefined;
}

/** The agent's --simulate-seed unless told otherwise. */
export const defaultSimulationSeed = 'metalfleet-dev';

/**
 * Node `index` of the simulated fleet `seed`: sim-001 for the default seed, <seed>-001 for a seed that is a plain
 * host name label (rack-b-001), sim-<hash>-001 for any other (40 bits of the seed's SHA-256). Two fleets of different
 * seeds never share a name, unless someone searched for two seeds whose hashes begin alike.
 */
export function simulatedHostname(seed: string, index: number): string {
  const number = String(index).padStart(3, '0');
  if (seed === defaultSimulationSeed) return `sim-${number}`;
  if (/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/.test(seed) && seed !== 'sim' && !seed.startsWith('sim-')) return `${seed}-${number}`;
  return `sim-${createHash('sha256').update(seed).digest('hex').slice(0, 10)}-${number}`;
}

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

// Which GPU each fault hits, so conditions land on a stable component.
const faultGpu: Partial<Record<FaultKind, number>> = {
  'xid79-fallen-off-bus': 3, 'xid48-row-remap-failure': 2, 'xid119-gsp-timeout': 5, 'thermal-slowdown': 1, 'pcie-x8': 4, 'nvlink-down': 6,
  'slow-nvlink': 5, 'old-vbios': 2, 'gpu-missing': 3, 'weak-cooling': 6,
};

const kernelLines: Partial<Record<FaultKind, (pci: string) => string[]>> = {
  'xid79-fallen-off-bus': (pci) => [`NVRM: Xid (PCI:${pci}): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.`],
  'xid48-row-remap-failure': (pci) => [
    `NVRM: Xid (PCI:${pci}): 48, pid=4242, name=python3, An uncorrectable double bit error (DBE) has been detected on GPU`,
    `NVRM: Xid (PCI:${pci}): 64, pid=4242, name=python3, Row Remapper: Failure to remap row`,
  ],
  'xid119-gsp-timeout': (pci) => [`NVRM: Xid (PCI:${pci}): 119, pid=3100, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU5 GSP!`],
};

export function createSimulatedBackend(options: SimulatedBackendOptions): HardwareBackend {
  const { seed, index } = options;
  const spec = { ...defaultSimulatedSpec, ...options.spec };
  const startedAt = options.startedAt ?? new Date();
  const currentFaults = () => new Set(options.faults?.() ?? []);
  const name = simulatedHostname(seed, index);
  const serial = `SIM${digest(seed, index, 'serial').slice(0, 9).toUpperCase()}`;
  const macs = Array.from({ length: spec.nicCount }, (_, port) => macFrom(digest(seed, index, `mac${port}`)));
  const gpuUuids = Array.from({ length: spec.gpuCount }, (_, g) => `GPU-${uuidFrom(digest(seed, index, `gpu${g}`))}`);
  const pciOf = (g: number) => `00000000:${(0x18 + g * 0x10).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
  const shortPci = (g: number) => `0000:${(0x18 + g * 0x10).toString(16).padStart(2, '0')}:00`;
  const follower = new KernelLogFollower(options.kernelLogFile, 100);
  const logged = new Set<FaultKind>();
  let tick = 0;

  const identity: NodeIdentity = {
    systemUuid: uuidFrom(digest(seed, index, 'uuid')),
    systemSerial: serial,
    chassisSerial: serial,
    boardSerial: `BRD${digest(seed, index, 'board').slice(0, 9).toUpperCase()}`,
    macs,
    bmcAddress: '',
  };

  const wave = (phase: number) => 0.5 + 0.5 * Math.sin(tick / 5 + phase + index);

  function gpuSnapshot(g: number, faults: Set<FaultKind>): GpuSnapshot {
    const s = emptyGpuSnapshot(g);
    const load = wave(g);
    s.pciBusId = pciOf(g);
    s.uuid = gpuUuids[g] ?? '';
    s.serial = `${serial.slice(3)}${g}`;
    s.model = spec.gpuModel;
    s.vbiosVersion = faults.has('old-vbios') && g === faultGpu['old-vbios'] ? '96.00.30.00.01' : '96.00.99.00.01';
    s.driverVersion = '570.124.06';
    s.cudaVersion = '12.8';
    s.performanceState = 'P0';
    s.migCurrent = 'Disabled';
    s.migPending = 'Disabled';
    s.ecc = { ...s.ecc, modeCurrent: 'Enabled', modePending: 'Enabled', volatileCorrected: 0, volatileUncorrected: 0, aggregateCorrected: 0, aggregateUncorrected: 0 };
    s.rowRemap = { correctable: 0, uncorrectable: 0, pending: false, failure: false, banksWithoutSpares: 0 };
    s.recoveryAction = 'None';
    s.clockEventsActive = [];
    s.temperature = { gpuC: Math.round(38 + 35 * load), memoryC: Math.round(40 + 30 * load), slowdownC: 87, shutdownC: 92, memoryMaxC: 95, tlimitC: null, slowdownTlimitC: null, shutdownTlimitC: null };
    s.power = { drawW: Math.round(90 + 560 * load), limitW: 700, defaultLimitW: 700 };
    s.pcie = { genCurrent: 5, genMax: 5, widthCurrent: 16, widthMax: 16, replayCounter: 0 };
    s.fabric = { state: 'Completed', status: 'Success' };
    s.utilizationGpuPercent = Math.round(100 * load);
    s.memoryUsedMiB = Math.round(81559 * load);
    s.memoryTotalMiB = 81559;
    if (faults.has('thermal-slowdown') && g === faultGpu['thermal-slowdown']) {
      s.temperature.gpuC = 91;
      s.clockEventsActive = ['hw_slowdown', 'hw_thermal_slowdown'];
    }
    if (faults.has('pcie-x8') && g === faultGpu['pcie-x8']) s.pcie.widthCurrent = 8;
    if (faults.has('xid48-row-remap-failure') && g === faultGpu['xid48-row-remap-failure']) {
      s.ecc.volatileUncorrected = 1;
      s.ecc.aggregateUncorrected = 1;
      s.rowRemap.uncorrectable = 8;
      s.rowRemap.failure = true;
    }
    return s;
  }

  /** Each link's speed (GB/s), null when down: two links of the GPU a link fault hits are down, or (slow) trained at half speed. */
  function nvlinksOf(g: number, faults: Set<FaultKind>): Array<number | null> {
    const down = faults.has('nvlink-down') && g === faultGpu['nvlink-down'];
    const slow = faults.has('slow-nvlink') && g === faultGpu['slow-nvlink'];
    return Array.from({ length: spec.nvlinksPerGpu }, (_, l) => (l >= 2 ? 26.562 : down ? null : slow ? 13.281 : 26.562));
  }

  function visibleGpus(faults: Set<FaultKind>): number[] {
    return gpuUuids.map((_, g) => g).filter((g) => !(faults.has('xid79-fallen-off-bus') && g === faultGpu['xid79-fallen-off-bus'])
      && !(faults.has('gpu-missing') && g === faultGpu['gpu-missing']));
  }

  function logFaults(faults: Set<FaultKind>): void {
    for (const fault of faults) {
      const lines = kernelLines[fault];
      if (!lines || logged.has(fault)) continue;
      logged.add(fault);
      follower.pushLines(lines(shortPci(faultGpu[fault] ?? 0)).join('\n'));
    }
  }

  return {
    label: `simulated #${index}`,

    // Faults are applied when readings are taken; only the kernel log file, if any, is followed in the background.
    start: (onError) => (options.kernelLogFile ? follower.followText(onError) : Promise.resolve()),
    stop: () => follower.stop(),
    onKernelEvents: (listener) => follower.onEvents(listener),

    async identity() {
      return { ...identity, macs: [...identity.macs] };
    },

    async inventory(): Promise<Inventory> {
      const faults = currentFaults();
      const inventory = emptyInventory();
      inventory.system = { vendor: 'Simulated', model: 'SIM-HGX-8GPU', biosVendor: 'Simulated', biosVersion: '1.5.2', bmcFirmwareVersion: '2.1.0', virtual: true, hostname: name };
      inventory.cpus = [0, 1].map(() => ({ vendor: 'GenuineIntel', model: 'Intel Xeon Platinum 8480+', cores: 56, threads: 112, baseGhz: 2.0 }));
      inventory.memory = {
        totalBytes: 2048 * GiB,
        dimms: Array.from({ length: 32 }, (_, d) => ({ locator: `DIMM_${d}`, sizeBytes: 64 * GiB, type: 'DDR5', speedMts: 4800, serial: `${serial}-D${d}`, ecc: true })),
      };
      inventory.disks = Array.from({ length: spec.diskCount }, (_, d) => ({ name: `/dev/nvme${d}n1`, model: 'SAMSUNG MZQL23T8HCLS', serial: `${serial}-N${d}`, sizeBytes: 3.84e12, nvme: true, firmware: 'GDC5902Q' }));
      inventory.nics = macs.map((mac, port) => ({
        name: `eth${port}`, mac, speedMbps: nicSpeedMbps, linkUp: !(faults.has('nic-down') && port === 1), driver: 'mlx5_core', firmware: '28.39.1002', physical: true,
        neighbor: { switchName: `leaf-${Math.ceil(index / 32)}`, switchId: `mac 02:00:00:00:${String(Math.ceil(index / 32)).padStart(2, '0')}:00`, portId: `Ethernet${((index - 1) % 32) * spec.nicCount + port}`, portDescription: `to ${name} port ${port}` },
      }));
      inventory.gpus = visibleGpus(faults).map((g) => {
        const s = gpuSnapshot(g, faults);
        return {
          index: g, model: s.model, uuid: s.uuid, serial: s.serial, vbiosVersion: s.vbiosVersion, driverVersion: s.driverVersion, cudaVersion: s.cudaVersion,
          pciBusId: s.pciBusId, memoryBytes: 80 * GiB, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: s.pcie.genMax ?? 5, pcieCurrentWidth: s.pcie.widthCurrent ?? 16, migMode: 'Disabled', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: 'Enabled',
        };
      });
      inventory.os = { distro: 'metalfleet discovery image', release: '0.1', kernel: '6.1.0-simulated', arch: 'x64', machineId: digest(seed, index, 'machine-id').slice(0, 32) };
      inventory.collectedAt = new Date();
      return inventory;
    },

    async health(): Promise<HealthReadings> {
      const faults = currentFaults();
      logFaults(faults);
      const gpus = visibleGpus(faults).map((g) => gpuSnapshot(g, faults));
      const disks: DiskHealth[] = Array.from({ length: spec.diskCount }, (_, d) => ({
        device: `/dev/nvme${d}`, model: 'SAMSUNG MZQL23T8HCLS', serial: `${serial}-N${d}`, smartPassed: !(faults.has('smart-failure') && d === 1),
        nvmeCriticalWarning: faults.has('smart-failure') && d === 1 ? 0x4 : 0, percentageUsed: 3, mediaErrors: 0, reallocatedSectors: null, pendingSectors: null,
      }));
      return {
        gpus: faults.has('xid119-gsp-timeout')
          ? { ok: false, failure: 'timeout', detail: 'nvidia-smi -q -x did not finish within 30000 ms' }
          : { ok: true, gpus },
        kernelEvents: follower.snapshot(),
        nvlinks: visibleGpus(faults).map((g) => ({
          gpuIndex: g, uuid: gpuUuids[g] ?? '',
          links: nvlinksOf(g, faults),
        })),
        disks,
        memoryControllers: [{ controller: 'mc0', correctable: 0, uncorrectable: 0 }, { controller: 'mc1', correctable: 0, uncorrectable: 0 }],
        nics: macs.map((_, port) => ({ name: `eth${port}`, linkUp: !(faults.has('nic-down') && port === 1), speedMbps: nicSpeedMbps, maxSpeedMbps: nicSpeedMbps, expectedUp: true })),
        failures: [],
      };
    },

    async acceptanceOutputs(args) {
      const faults = currentFaults();
      return simulatedAcceptanceOutputs({
        hostname: name,
        gpus: visibleGpus(faults).map((g) => ({ index: g, model: spec.gpuModel, uuid: gpuUuids[g] ?? '', pciBusId: pciOf(g), links: nvlinksOf(g, faults) })),
        // Two links of one GPU down cut the ring's bandwidth to about 300 GB/s.
        busbwGBs: faults.has('slow-nvlink') || faults.has('nvlink-down') ? 301.4 : 480.3,
        ...(faults.has('weak-cooling') ? { weakCooling: faultGpu['weak-cooling'] } : {}),
        gpuStateXml: simulatedNvidiaSmiXml(visibleGpus(faults).map((g) => gpuSnapshot(g, faults)), new Date()),
      }, args);
    },

    expectations() {
      return { expectedGpuCount: spec.gpuCount, expectedNvlinksPerGpu: spec.nvlinksPerGpu, virtualMachine: false };
    },

    async telemetry(): Promise<TelemetryReading> {
      tick += 1;
      const faults = currentFaults();
      // Readings only, not full snapshots: a simulator runs thousands of these per second.
      const gpus: GpuReading[] = visibleGpus(faults).map((g) => {
        const load = wave(g);
        const hot = faults.has('thermal-slowdown') && g === faultGpu['thermal-slowdown'];
        return {
          index: g, uuid: gpuUuids[g] ?? '', temperatureC: hot ? 91 : Math.round(38 + 35 * load), memoryTemperatureC: Math.round(40 + 30 * load),
          powerW: Math.round(90 + 560 * load), utilizationPercent: Math.round(100 * load), memoryUsedBytes: Math.round(81559 * load) * 1024 * 1024,
          eccVolatileUncorrected: faults.has('xid48-row-remap-failure') && g === faultGpu['xid48-row-remap-failure'] ? 1 : 0, eccVolatileCorrected: 0,
          clockEventReasons: hot ? ['hw_slowdown', 'hw_thermal_slowdown'] : [],
        };
      });
      return {
        at: new Date(), cpuLoadPercent: 100 * wave(0.3), memoryUsedBytes: Math.round(2048 * GiB * 0.2), memoryTotalBytes: 2048 * GiB,
        uptimeSeconds: (Date.now() - startedAt.getTime()) / 1000, gpus,
      };
    },
  };

}
