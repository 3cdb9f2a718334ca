// The real machine: the collector registries, in one explicit list each.
import { readFile } from 'node:fs/promises';
import { uptime } from 'node:os';
import si from 'systeminformation';
import { emptyInventory, type NodeIdentity } from '@metalfleet/domain';
import { collectHealth, collectInventory, type HealthCollector, type InventoryCollector } from './collector.ts';
import { bmcAddress, bmcCollector } from './collectors/bmc-collector.ts';
import { dcgmCollector, gpuHealthCollector, gpuInventoryCollector, gpuSources, nvlinkCollector, readGpuTelemetry } from './collectors/gpu-collectors.ts';
import { edacCollector, kernelLogCollector, smartCollector } from './collectors/host-health-collectors.ts';
import { lldpCollector, nicHealthCollector, nicInventoryCollector, physicalInterfaces } from './collectors/nic-collectors.ts';
import { clean, cpuCollector, diskCollector, memoryCollector, osCollector, systemCollector } from './collectors/system-collectors.ts';
import { runAcceptanceTools } from './acceptance-suite.ts';
import { runCommand, type RunCommand } from './command-runner.ts';
import type { HardwareBackend, TelemetryReading } from './hardware-backend.ts';
import { KernelLogFollower } from './kernel-log-follower.ts';
import { expectedNvlinks } from './parsers/nvlink.ts';
import { nvidiaGpusOnPciBus } from './sysfs.ts';

export interface RealBackendOptions {
  run?: RunCommand;
  /** Recorded outputs to read instead of running the tools (offline diagnosis). */
  nvidiaSmiXmlFile?: string | undefined;
  nvidiaSmiCsvFile?: string | undefined;
  kmsgFile?: string | undefined;
  /** GPUs this node must have; 0 = as many as the PCI bus shows. */
  expectedGpus?: number;
  dcgmDiagIntervalMs?: number;
}


export function createRealBackend(options: RealBackendOptions = {}): HardwareBackend {
  const run = options.run ?? runCommand;
  const sources = gpuSources({ run, nvidiaSmiXmlFile: options.nvidiaSmiXmlFile, nvidiaSmiCsvFile: options.nvidiaSmiCsvFile });
  const follower = new KernelLogFollower();
  const offline = Boolean(options.nvidiaSmiXmlFile || options.nvidiaSmiCsvFile || options.kmsgFile);
  let mostGpusSeen = 0;
  let virtualMachine = false;
  let gpuModel = '';
  let kernelLogProblem: string | null = null;

  const inventoryCollectors: InventoryCollector[] = [
    systemCollector, cpuCollector, memoryCollector, diskCollector, osCollector,
    nicInventoryCollector(run), lldpCollector(run), gpuInventoryCollector(sources), bmcCollector(run),
  ];
  const healthCollectors: HealthCollector[] = [
    gpuHealthCollector(sources), kernelLogCollector(follower, () => kernelLogProblem), nvlinkCollector(sources), dcgmCollector(sources, options.dcgmDiagIntervalMs ?? 6 * 3600_000),
    ...(offline ? [] : [smartCollector(run), edacCollector, nicHealthCollector(run)]),
  ];

  return {
    label: offline ? 'recorded' : 'real',

    async start(onError) {
      if (options.kmsgFile) {
        follower.pushLines(await readFile(options.kmsgFile, 'utf8'));
        return;
      }
      try {
        await follower.start(onError);
      } catch (error) {
        // No /dev/kmsg (some containers) or no permission: the agent still runs; health shows the gap.
        kernelLogProblem = `cannot follow /dev/kmsg: ${(error as Error).message}`;
      }
    },

    stop: () => follower.stop(),
    onKernelEvents: (listener) => follower.onEvents(listener),

    async identity(): Promise<NodeIdentity> {
      const [system, chassis, board, nics, bmc] = await Promise.all([si.system(), si.chassis(), si.baseboard(), physicalInterfaces(), bmcAddress(run)]);
      return {
        systemUuid: clean(system.uuid).toLowerCase(),
        systemSerial: clean(system.serial),
        chassisSerial: clean(chassis.serial),
        boardSerial: clean(board.serial),
        macs: nics.filter((n) => n.physical).map((n) => n.mac),
        bmcAddress: bmc,
      };
    },

    async inventory() {
      const inventory = await collectInventory(inventoryCollectors, emptyInventory());
      virtualMachine = inventory.system.virtual;
      mostGpusSeen = Math.max(mostGpusSeen, inventory.gpus.length);
      gpuModel = inventory.gpus[0]?.model ?? gpuModel;
      return inventory;
    },

    async acceptanceOutputs(args) {
      return runAcceptanceTools(run, args, Math.max(mostGpusSeen, options.expectedGpus ?? 0));
    },

    async health() {
      const readings = await collectHealth(healthCollectors);
      if (readings.gpus?.ok) mostGpusSeen = Math.max(mostGpusSeen, readings.gpus.gpus.length);
      return readings;
    },

    expectations() {
      const configured = options.expectedGpus ?? 0;
      const expected = Math.max(configured, offline ? 0 : nvidiaGpusOnPciBus(), mostGpusSeen);
      return { expectedGpuCount: expected > 0 ? expected : null, expectedNvlinksPerGpu: expectedNvlinks(gpuModel), virtualMachine };
    },

    async telemetry(): Promise<TelemetryReading> {
      const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
      const hasGpus = !offline && mostGpusSeen > 0;
      const gpus = hasGpus ? await readGpuTelemetry(sources).catch(() => []) : [];
      return {
        at: new Date(),
        cpuLoadPercent: load.currentLoad,
        memoryUsedBytes: mem.active,
        memoryTotalBytes: mem.total,
        uptimeSeconds: uptime(),
        gpus: gpus.map((g) => ({
          index: g.index, uuid: g.uuid, temperatureC: g.temperature.gpuC ?? 0, memoryTemperatureC: g.temperature.memoryC ?? 0, powerW: g.power.drawW ?? 0,
          utilizationPercent: g.utilizationGpuPercent ?? 0, memoryUsedBytes: (g.memoryUsedMiB ?? 0) * 1024 * 1024,
          eccVolatileUncorrected: g.ecc.volatileUncorrected ?? 0, eccVolatileCorrected: g.ecc.volatileCorrected ?? 0, clockEventReasons: g.clockEventsActive ?? [],
        })),
      };
    },
  };
}
