// One GPU's state as nvidia-smi reports it (XML or CSV), normalised across
// driver versions. `null` always means "not reported / N/A / not supported":
// never read a sentinel as 0.

export interface GpuSnapshot {
  index: number;
  pciBusId: string;
  uuid: string;
  serial: string;
  model: string;
  architecture: string | null;
  vbiosVersion: string;
  driverVersion: string;
  cudaVersion: string;
  performanceState: string | null;
  virtualizationMode: string | null;
  migCurrent: string | null;
  migPending: string | null;
  ecc: EccState;
  retiredPages: { singleBit: number | null; doubleBit: number | null; pending: boolean | null };
  rowRemap: RowRemapState;
  recoveryAction: string | null;
  resetRequired: boolean | null;
  drainAndResetRecommended: boolean | null;
  /** Clock event (throttle) reasons that are active, e.g. `hw_thermal_slowdown`; null when not reported. */
  clockEventsActive: string[] | null;
  /** Cumulative µs per reason, e.g. `hw_thermal_slowdown`. */
  clockEventCounters: Record<string, number>;
  temperature: TemperatureState;
  power: PowerState;
  pcie: PcieState;
  fabric: { state: string | null; status: string | null };
  utilizationGpuPercent: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
}

export interface EccState {
  modeCurrent: string | null;
  modePending: string | null;
  volatileCorrected: number | null;
  volatileUncorrected: number | null;
  aggregateCorrected: number | null;
  aggregateUncorrected: number | null;
  sramAggregateCorrected: number | null;
  sramAggregateUncorrected: number | null;
  dramAggregateCorrected: number | null;
  sramThresholdExceeded: boolean | null;
  unrepairableMemory: boolean | null;
}

export interface RowRemapState {
  correctable: number | null;
  uncorrectable: number | null;
  pending: boolean | null;
  failure: boolean | null;
  /** Banks with no spare rows left (histogram "none"). */
  banksWithoutSpares: number | null;
}

export interface TemperatureState {
  gpuC: number | null;
  memoryC: number | null;
  slowdownC: number | null;
  shutdownC: number | null;
  memoryMaxC: number | null;
  /** Headroom to the max operating temperature (T.Limit), Hopper/Ada/Blackwell; °C. */
  tlimitC: number | null;
  /** The T.Limit reading at which hardware slowdown starts (e.g. -2); °C. */
  slowdownTlimitC: number | null;
  /** The T.Limit reading at which the GPU shuts down (e.g. -8); °C. */
  shutdownTlimitC: number | null;
}

export interface PowerState {
  drawW: number | null;
  limitW: number | null;
  defaultLimitW: number | null;
}

export interface PcieState {
  genCurrent: number | null;
  genMax: number | null;
  widthCurrent: number | null;
  widthMax: number | null;
  replayCounter: number | null;
}

export function emptyGpuSnapshot(index: number): GpuSnapshot {
  return {
    index, pciBusId: '', uuid: '', serial: '', model: '', architecture: null, vbiosVersion: '', driverVersion: '', cudaVersion: '',
    performanceState: null, virtualizationMode: null, migCurrent: null, migPending: null,
    ecc: {
      modeCurrent: null, modePending: null, volatileCorrected: null, volatileUncorrected: null, aggregateCorrected: null,
      aggregateUncorrected: null, sramAggregateCorrected: null, sramAggregateUncorrected: null, dramAggregateCorrected: null,
      sramThresholdExceeded: null, unrepairableMemory: null,
    },
    retiredPages: { singleBit: null, doubleBit: null, pending: null },
    rowRemap: { correctable: null, uncorrectable: null, pending: null, failure: null, banksWithoutSpares: null },
    recoveryAction: null, resetRequired: null, drainAndResetRecommended: null,
    clockEventsActive: null, clockEventCounters: {},
    temperature: { gpuC: null, memoryC: null, slowdownC: null, shutdownC: null, memoryMaxC: null, tlimitC: null, slowdownTlimitC: null, shutdownTlimitC: null },
    power: { drawW: null, limitW: null, defaultLimitW: null },
    pcie: { genCurrent: null, genMax: null, widthCurrent: null, widthMax: null, replayCounter: null },
    fabric: { state: null, status: null },
    utilizationGpuPercent: null, memoryUsedMiB: null, memoryTotalMiB: null,
  };
}

/** `00000000:9B:00.0` → `0000:9b:00`, the form kernel Xid lines use. */
export function shortPciId(busId: string): string {
  const m = /^(?:([0-9a-f]+):)?([0-9a-f]{2}):([0-9a-f]{2})(?:\.[0-7])?$/i.exec(busId.trim());
  if (!m) return busId.toLowerCase();
  const domain = (m[1] ?? '0').slice(-4).padStart(4, '0');
  return `${domain}:${m[2]}:${m[3]}`.toLowerCase();
}
