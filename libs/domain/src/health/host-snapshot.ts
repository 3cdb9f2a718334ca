// Host-side and fabric signals, parsed by libs/hardware.

export interface DiskHealth {
  device: string;
  model: string;
  serial: string;
  smartPassed: boolean | null;
  /** NVMe critical_warning bitfield; 0 is healthy. */
  nvmeCriticalWarning: number | null;
  percentageUsed: number | null;
  mediaErrors: number | null;
  reallocatedSectors: number | null;
  pendingSectors: number | null;
}

export interface MemoryControllerHealth {
  controller: string;
  correctable: number;
  uncorrectable: number;
}

export interface NicState {
  name: string;
  linkUp: boolean;
  speedMbps: number | null;
  maxSpeedMbps: number | null;
  /** Cabled and expected up (e.g. it had a link before, or LLDP saw a neighbour). */
  expectedUp: boolean;
}

export interface NvlinkGpuState {
  gpuIndex: number;
  uuid: string;
  /** Per link: speed in GB/s, or null when the link is inactive. */
  links: Array<number | null>;
}

export type DcgmVerdict = 'pass' | 'warn' | 'fail';

export interface DcgmHealthFinding {
  gpuId: string;
  system: string;
  verdict: DcgmVerdict;
  message: string;
}

export interface DcgmDiagResult {
  test: string;
  gpuIds: string[];
  status: 'pass' | 'fail' | 'warn' | 'skip';
  info: string;
  /** DCGM error_severity of the first warning (6 = drain and reset, 2 = isolate). */
  errorSeverity: number | null;
}

/** NVLink error counters that grew since the agent's first sample (counters are cumulative since driver load). */
export interface NvlinkErrorGrowth {
  gpuIndex: number;
  link: number;
  replay: number;
  recovery: number;
  crc: number;
}
