// What the agent needs from the machine it runs on. A real backend reads the
// hardware; the simulated one invents a plausible GPU node. Same interface.
import type { Inventory, NodeIdentity } from '@metalfleet/domain';

export interface GpuReading {
  index: number;
  uuid: string;
  temperatureC: number;
  powerW: number;
  utilizationPercent: number;
  memoryUsedBytes: number;
  eccVolatileUncorrected: number;
}

export interface TelemetryReading {
  at: Date;
  cpuLoadPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  uptimeSeconds: number;
  gpus: GpuReading[];
}

export interface HardwareBackend {
  /** Short label for logs: "real" or "simulated #3". */
  readonly label: string;
  identity(): Promise<NodeIdentity>;
  inventory(): Promise<Inventory>;
  telemetry(): Promise<TelemetryReading>;
}
