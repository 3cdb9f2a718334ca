// GPU state (nvidia-smi) to health findings. Thresholds and their sources are
// in GPU-HEALTH.md §4–5; state is preferred over logs.
import { finding, type ConditionFinding } from './health-condition.ts';
import { shortPciId, type GpuSnapshot } from './gpu-snapshot.ts';
import { gpuThermalLimits, type ThermalLimit, type ThermalLimits } from './gpu-thermal-limits.ts';

export interface GpuExpectations {
  /** GPUs this node should have; fewer is the fallen-off-the-bus path. */
  expectedGpuCount: number | null;
  /** In a VM a narrower PCIe link can be legitimate. */
  virtualMachine: boolean;
}

export interface PreviousSample {
  snapshots: readonly GpuSnapshot[];
  elapsedSeconds: number;
}

// SRAM corrected errors above this fail the node (AZ check_gpu_ecc); DRAM likewise.
const sramCorrectedLimit = 10_000;
const dramCorrectedLimit = 20_000_000;
const retiredPagesLimit = 60;
const uncorrectableRemappedRowsLimit = 512;
// Allowed PCIe replays per minute per lane by generation (DCGM, BER 1e-12).
const replaysPerLanePerMinute = [0, 0.15, 0.3, 0.48, 0.96, 1.92, 3.84];

export function gpuComponent(gpu: Pick<GpuSnapshot, 'pciBusId' | 'index'>): string {
  return gpu.pciBusId ? `gpu:${shortPciId(gpu.pciBusId)}` : `gpu:${gpu.index}`;
}

function isYes(value: boolean | null): boolean {
  return value === true;
}

function recoveryRemediation(action: string): ConditionFinding['remediation'] {
  const a = action.toLowerCase();
  if (a.includes('reboot')) return 'reboot';
  if (a.includes('reset')) return 'reset-gpu';
  return 'reset-gpu'; // Drain P2P: drain, then reset clears it
}

function eccFindings(gpu: GpuSnapshot, component: string): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  const { ecc, rowRemap } = gpu;
  if ((ecc.volatileUncorrected ?? 0) > 0) {
    const remediation = isYes(rowRemap.failure) ? 'replace' : 'reset-gpu';
    out.push(finding(component, 'ecc-volatile-uncorrectable', 'critical', remediation,
      `${ecc.volatileUncorrected} uncorrectable ECC errors since the driver loaded${isYes(rowRemap.failure) ? ' and row remapping failed' : ''}`));
  } else if ((ecc.aggregateUncorrected ?? 0) > 0) {
    out.push(finding(component, 'ecc-aggregate-uncorrectable', 'warning', 'none',
      `${ecc.aggregateUncorrected} uncorrectable ECC errors over the GPU's lifetime (none since the driver loaded)`));
  }
  if (isYes(ecc.sramThresholdExceeded)) {
    out.push(finding(component, 'sram-threshold-exceeded', 'critical', 'replace', 'SRAM error threshold exceeded: RMA the GPU'));
  } else if ((ecc.sramAggregateCorrected ?? 0) > sramCorrectedLimit) {
    out.push(finding(component, 'sram-corrected-errors-high', 'critical', 'replace', `${ecc.sramAggregateCorrected} corrected SRAM errors (limit ${sramCorrectedLimit})`));
  } else if ((ecc.dramAggregateCorrected ?? 0) > dramCorrectedLimit) {
    out.push(finding(component, 'dram-corrected-errors-high', 'critical', 'replace', `${ecc.dramAggregateCorrected} corrected DRAM errors (limit ${dramCorrectedLimit})`));
  } else if ((ecc.aggregateCorrected ?? 0) > 0) {
    out.push(finding(component, 'ecc-corrected-errors', 'ok', 'none', `${ecc.aggregateCorrected} corrected ECC errors over the GPU's lifetime`));
  }
  if (isYes(ecc.unrepairableMemory)) out.push(finding(component, 'memory-unrepairable', 'critical', 'replace', 'GPU memory is unrepairable'));
  if (ecc.modeCurrent && ecc.modePending && ecc.modeCurrent !== ecc.modePending) {
    out.push(finding(component, 'ecc-mode-pending', 'warning', 'reboot', `ECC mode ${ecc.modeCurrent}, ${ecc.modePending} after reboot`));
  }
  return out;
}

function memoryRepairFindings(gpu: GpuSnapshot, component: string): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  const { rowRemap, retiredPages } = gpu;
  if (isYes(rowRemap.failure)) out.push(finding(component, 'row-remap-failure', 'critical', 'replace', 'row remapping failed: no spare rows left; RMA the GPU'));
  else if (isYes(rowRemap.pending)) out.push(finding(component, 'row-remap-pending', 'warning', 'reset-gpu', 'a remapped row is pending: reset the GPU at the next drain'));
  if ((rowRemap.uncorrectable ?? 0) >= uncorrectableRemappedRowsLimit) {
    out.push(finding(component, 'remapped-rows-high', 'warning', 'replace', `${rowRemap.uncorrectable} rows remapped for uncorrectable errors`));
  }
  if ((rowRemap.banksWithoutSpares ?? 0) > 0) {
    out.push(finding(component, 'row-remap-banks-exhausted', 'warning', 'none', `${rowRemap.banksWithoutSpares} memory banks have no spare rows left`));
  }
  const retired = (retiredPages.singleBit ?? 0) + (retiredPages.doubleBit ?? 0);
  if (retired >= retiredPagesLimit) out.push(finding(component, 'retired-pages-high', 'critical', 'replace', `${retired} pages retired (limit ${retiredPagesLimit})`));
  if (isYes(retiredPages.pending)) out.push(finding(component, 'retired-pages-pending', 'warning', 'reboot', 'a page retirement is pending: reboot (driver reload) to apply'));
  return out;
}

/** A limit's origin, said when it is not the driver's own number. */
function limitNote(limit: ThermalLimit): string {
  return limit.source === 'reported' ? '' : ` (${limit.basis})`;
}

/** One temperature finding: the worse of the absolute limits and the T.Limit headroom. */
function temperatureFinding(gpu: GpuSnapshot, component: string, { slowdown, shutdown }: ThermalLimits): ConditionFinding | null {
  const t = gpu.temperature;
  const found: ConditionFinding[] = [];
  if (t.gpuC !== null && t.gpuC >= shutdown.celsius) {
    found.push(finding(component, 'temperature-critical', 'critical', 'none', `GPU at ${t.gpuC} C, shutdown threshold ${shutdown.celsius} C${limitNote(shutdown)}`));
  } else if (t.gpuC !== null && t.gpuC >= slowdown.celsius) {
    found.push(finding(component, 'temperature-high', 'warning', 'none', `GPU at ${t.gpuC} C, slowdown threshold ${slowdown.celsius} C${limitNote(slowdown)}`));
  }
  if (t.tlimitC !== null && t.tlimitC <= 0) {
    found.push(finding(component, 'temperature-critical', 'critical', 'none', `GPU at its thermal limit (T.Limit headroom ${t.tlimitC} C)`));
  } else if (t.tlimitC !== null && t.tlimitC <= 5) {
    found.push(finding(component, 'temperature-high', 'warning', 'none', `GPU ${t.tlimitC} C from its thermal limit`));
  }
  return found.find((f) => f.severity === 'critical') ?? found[0] ?? null;
}

function thermalFindings(gpu: GpuSnapshot, component: string): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  const limits = gpuThermalLimits(gpu);
  const temperature = temperatureFinding(gpu, component, limits);
  if (temperature) out.push(temperature);
  const t = gpu.temperature;
  const memoryMax = limits.memoryMax;
  if (t.memoryC !== null && memoryMax !== null && t.memoryC >= memoryMax.celsius) {
    out.push(finding(component, 'memory-temperature-high', 'warning', 'none', `HBM at ${t.memoryC} C, limit ${memoryMax.celsius} C${limitNote(memoryMax)}`));
  }
  return out;
}

/** Slowdowns active now, or whose counters grew since the previous sample (DCGM: violation counters rising). */
function clockEventFindings(gpu: GpuSnapshot, component: string, previous: GpuSnapshot | undefined): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  const active = new Set(gpu.clockEventsActive ?? []);
  // A slowdown between two samples shows only in its counter (µs, cumulative).
  const grew = (reason: string) => {
    const now = gpu.clockEventCounters[reason];
    const then = previous?.clockEventCounters[reason];
    return now !== undefined && then !== undefined && now > then ? (now - then) / 1e6 : 0;
  };
  const since = (reason: string, what: string) => (active.has(reason) ? `${what} active` : `${what} for ${grew(reason).toFixed(1)} s since the last sample`);
  const hwThermal = active.has('hw_thermal_slowdown') || grew('hw_thermal_slowdown') > 0;
  if (hwThermal) out.push(finding(component, 'thermal-slowdown', 'warning', 'none', `${since('hw_thermal_slowdown', 'hardware thermal slowdown')}: check cooling`));
  else if (active.has('sw_thermal_slowdown') || grew('sw_thermal_slowdown') > 0) {
    out.push(finding(component, 'thermal-slowdown', 'warning', 'none', `${since('sw_thermal_slowdown', 'software thermal slowdown')}: check cooling`));
  }
  if (active.has('hw_power_brake_slowdown') || grew('hw_power_brake_slowdown') > 0) {
    out.push(finding(component, 'power-brake-slowdown', 'warning', 'none', `${since('hw_power_brake_slowdown', 'hardware power brake')}: check the PSU / power supply`));
  } else if (active.has('hw_slowdown') && !hwThermal) {
    out.push(finding(component, 'hw-slowdown', 'warning', 'none', 'hardware slowdown active (cooling or power)'));
  }
  return out;
}

function pcieFindings(gpu: GpuSnapshot, component: string, expect: GpuExpectations, previous: GpuSnapshot | undefined, elapsedS: number): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  const p = gpu.pcie;
  if (p.widthCurrent !== null && p.widthMax !== null && p.widthCurrent < p.widthMax) {
    out.push(expect.virtualMachine
      ? finding(component, 'pcie-width-degraded', 'ok', 'none', `PCIe x${p.widthCurrent} of x${p.widthMax} (normal in some VMs)`)
      : finding(component, 'pcie-width-degraded', 'warning', 'replace', `PCIe link x${p.widthCurrent} of x${p.widthMax}: reseat or RMA`));
  }
  // The link generation drops at idle; judge it only under load in P0.
  const loaded = gpu.performanceState === 'P0' && (gpu.utilizationGpuPercent ?? 0) >= 50;
  if (loaded && p.genCurrent !== null && p.genMax !== null && p.genCurrent < p.genMax) {
    out.push(finding(component, 'pcie-gen-degraded', 'warning', 'none', `PCIe Gen${p.genCurrent} under load, Gen${p.genMax} possible`));
  }
  const before = previous?.pcie.replayCounter;
  if (p.replayCounter !== null && before !== null && before !== undefined && elapsedS > 0 && p.replayCounter >= before) {
    const perMinute = ((p.replayCounter - before) * 60) / elapsedS;
    const lanes = p.widthCurrent ?? 16;
    const allowed = Math.ceil((replaysPerLanePerMinute[p.genCurrent ?? 4] ?? 0.96) * lanes);
    if (perMinute > allowed) out.push(finding(component, 'pcie-replay-rate', 'warning', 'none', `PCIe replays ${perMinute.toFixed(1)}/min (allowed ${allowed}/min)`));
  }
  return out;
}

function otherFindings(gpu: GpuSnapshot, component: string): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  if (gpu.recoveryAction && gpu.recoveryAction.toLowerCase() !== 'none') {
    out.push(finding(component, 'recovery-action', 'critical', recoveryRemediation(gpu.recoveryAction), `the driver asks for: ${gpu.recoveryAction}`));
  } else if (isYes(gpu.resetRequired)) {
    out.push(finding(component, 'recovery-action', 'critical', 'reset-gpu', 'the driver says a GPU reset is required'));
  } else if (isYes(gpu.drainAndResetRecommended)) {
    out.push(finding(component, 'recovery-action', 'warning', 'reset-gpu', 'the driver recommends drain and reset'));
  }
  const fabricState = gpu.fabric.state;
  if (fabricState !== null && fabricState !== 'Completed') {
    out.push(finding(component, 'fabric-not-ready', 'critical', 'reboot', `NVLink fabric state ${fabricState}: restart nvidia-fabricmanager, then reboot`));
  } else if (gpu.fabric.status !== null && gpu.fabric.status !== 'Success') {
    out.push(finding(component, 'fabric-not-ready', 'critical', 'reboot', `NVLink fabric status ${gpu.fabric.status}`));
  }
  if (gpu.migCurrent && gpu.migPending && gpu.migCurrent !== gpu.migPending) {
    out.push(finding(component, 'mig-mode-pending', 'warning', 'reset-gpu', `MIG ${gpu.migCurrent}, ${gpu.migPending} after a GPU reset`));
  }
  if (gpu.power.limitW !== null && gpu.power.defaultLimitW !== null && gpu.power.limitW < gpu.power.defaultLimitW * 0.95) {
    out.push(finding(component, 'power-capped', 'warning', 'none', `power limit ${gpu.power.limitW} W below the default ${gpu.power.defaultLimitW} W`));
  }
  return out;
}

/** Findings for every GPU, plus a node-level finding when GPUs are missing. */
export function classifyGpus(gpus: readonly GpuSnapshot[], expect: GpuExpectations, previous?: PreviousSample): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const gpu of gpus) {
    const component = gpuComponent(gpu);
    const before = previous?.snapshots.find((p) => p.uuid === gpu.uuid && p.uuid !== '');
    out.push(
      ...otherFindings(gpu, component), ...eccFindings(gpu, component), ...memoryRepairFindings(gpu, component),
      ...thermalFindings(gpu, component), ...clockEventFindings(gpu, component, before), ...pcieFindings(gpu, component, expect, before, previous?.elapsedSeconds ?? 0),
    );
  }
  if (expect.expectedGpuCount !== null && gpus.length < expect.expectedGpuCount) {
    out.push(finding('node', 'gpu-missing', 'critical', 'reboot',
      `${gpus.length} of ${expect.expectedGpuCount} GPUs visible: a GPU fell off the bus or failed to initialise`));
  }
  return out;
}

/** nvidia-smi itself failing is a health signal (hangs on GSP timeouts, Xid 79/119). */
export function classifyNvidiaSmiFailure(kind: 'timeout' | 'error', detail: string): ConditionFinding {
  const text = detail.toLowerCase();
  if (kind === 'timeout') return finding('node', 'nvidia-smi-unresponsive', 'critical', 'reboot', `nvidia-smi did not answer: ${detail}`);
  if (text.includes('requires reset') || text.includes('unable to determine the device handle') || text.includes('unknown error')) {
    return finding('node', 'nvidia-smi-gpu-error', 'critical', 'reset-gpu', `nvidia-smi reports a GPU error: ${detail}`);
  }
  return finding('node', 'nvidia-smi-failed', 'warning', 'none', `nvidia-smi failed: ${detail}`);
}
