// Everything a backend (real or simulated) read from the machine in one
// health cycle, and the one function that turns it into findings.
import { classifyGpus, classifyNvidiaSmiFailure, type GpuExpectations, type PreviousSample } from './gpu-classify.ts';
import type { GpuSnapshot } from './gpu-snapshot.ts';
import { finding, type ConditionFinding } from './health-condition.ts';
import { classifyDcgmDiag, classifyDcgmHealth, classifyDisks, classifyMemoryControllers, classifyNics, classifyNvlinkErrors, classifyNvlinks } from './host-classify.ts';
import type { DcgmDiagResult, DcgmHealthFinding, DiskHealth, MemoryControllerHealth, NicState, NvlinkErrorGrowth, NvlinkGpuState } from './host-snapshot.ts';
import { classifyKernelEvents } from './kernel-classify.ts';
import type { SeenKernelEvent } from './kernel-events.ts';

export type GpuReadout =
  | { ok: true; gpus: GpuSnapshot[] }
  | { ok: false; failure: 'timeout' | 'error'; detail: string };

export interface HealthReadings {
  /** Absent on machines without NVIDIA GPUs. */
  gpus?: GpuReadout;
  kernelEvents: SeenKernelEvent[];
  nvlinks?: NvlinkGpuState[];
  nvlinkErrors?: NvlinkErrorGrowth[];
  dcgmHealth?: DcgmHealthFinding[];
  dcgmDiag?: DcgmDiagResult[];
  disks?: DiskHealth[];
  memoryControllers?: MemoryControllerHealth[];
  nics?: NicState[];
  /** Collectors that could not read their part (tool missing, timeout, parse error). */
  failures: Array<{ collector: string; message: string }>;
}

export interface HealthContext extends GpuExpectations {
  expectedNvlinksPerGpu: number | null;
  now: Date;
  previous?: PreviousSample;
}

export function evaluateHealth(readings: HealthReadings, context: HealthContext): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  if (readings.gpus?.ok === true) out.push(...classifyGpus(readings.gpus.gpus, context, context.previous));
  else if (readings.gpus?.ok === false) out.push(classifyNvidiaSmiFailure(readings.gpus.failure, readings.gpus.detail));
  out.push(...classifyKernelEvents(readings.kernelEvents, context.now));
  if (readings.nvlinks) out.push(...classifyNvlinks(readings.nvlinks, context.expectedNvlinksPerGpu));
  if (readings.nvlinkErrors) out.push(...classifyNvlinkErrors(readings.nvlinkErrors));
  if (readings.dcgmHealth) out.push(...classifyDcgmHealth(readings.dcgmHealth));
  if (readings.dcgmDiag) out.push(...classifyDcgmDiag(readings.dcgmDiag));
  if (readings.disks) out.push(...classifyDisks(readings.disks));
  if (readings.memoryControllers) out.push(...classifyMemoryControllers(readings.memoryControllers));
  if (readings.nics) out.push(...classifyNics(readings.nics));
  for (const f of readings.failures) out.push(finding(`collector:${f.collector}`, 'collector-failed', 'warning', 'none', `${f.collector} could not be read: ${f.message}`));
  return out;
}
