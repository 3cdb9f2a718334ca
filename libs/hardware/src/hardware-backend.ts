// What the agent needs from the machine it runs on. A real backend reads the
// hardware through the collector registry; the simulated one invents a GPU
// node with injectable faults. Same interface, same health pipeline after it.
import type { AcceptArgs, HealthReadings, Inventory, NodeIdentity } from '@metalfleet/domain';
import type { AcceptanceOutputs } from './acceptance-suite.ts';

export interface GpuReading {
  index: number;
  uuid: string;
  temperatureC: number;
  memoryTemperatureC: number;
  powerW: number;
  utilizationPercent: number;
  memoryUsedBytes: number;
  eccVolatileUncorrected: number;
  eccVolatileCorrected: number;
  clockEventReasons: string[];
}

export interface TelemetryReading {
  at: Date;
  cpuLoadPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  uptimeSeconds: number;
  gpus: GpuReading[];
}

export interface HealthExpectations {
  expectedGpuCount: number | null;
  expectedNvlinksPerGpu: number | null;
  virtualMachine: boolean;
}

export interface HardwareBackend {
  /** Short label for logs: "real" or "simulated #3". */
  readonly label: string;
  /** Starts background readers (the kernel log follower). */
  start(onError: (error: Error) => void): Promise<void>;
  stop(): void;
  /** Acceptance testing: what the tools printed for this suite (acceptance-suite.ts parses it). */
  acceptanceOutputs(args: AcceptArgs): Promise<AcceptanceOutputs>;
  identity(): Promise<NodeIdentity>;
  inventory(): Promise<Inventory>;
  telemetry(): Promise<TelemetryReading>;
  health(): Promise<HealthReadings>;
  expectations(): HealthExpectations;
  /** Calls `listener` when the kernel log shows new GPU events (an XID), so health can be evaluated at once. */
  onKernelEvents(listener: () => void): () => void;
}
