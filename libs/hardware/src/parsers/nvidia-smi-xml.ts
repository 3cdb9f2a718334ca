// `nvidia-smi -q -x` → GPU snapshots and inventory, across schema versions
// (DTD v11/v12/v13 and older): old and new tag names are tried in turn.
import { XMLParser } from 'fast-xml-parser';
import { clockEventReasonName, emptyGpuSnapshot, type GpuSnapshot } from '@metalfleet/domain';
import { number, sumKnown, text, yesNo } from './values.ts';

type Node = Record<string, unknown>;

export interface NvidiaSmiReport {
  driverVersion: string;
  cudaVersion: string;
  /** What the header claims; trimmed captures may list fewer <gpu> elements. */
  attachedGpus: number | null;
  gpus: GpuSnapshot[];
  /** Per GPU, the device's own maximum PCIe generation (the snapshot's genMax is the link's, capped by the host). */
  deviceMaxPcieGen: Array<number | null>;
}


const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  trimValues: true,
  isArray: (_name, jpath) => String(jpath) === 'nvidia_smi_log.gpu',
});

function get(node: unknown, path: string): unknown {
  let current: unknown = node;
  for (const part of path.split('/')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Node)[part];
  }
  return current;
}

/** First path that holds a value (old and new tag names). */
function first(node: unknown, ...paths: string[]): unknown {
  for (const p of paths) {
    const v = get(node, p);
    if (v !== undefined && text(v) !== null) return v;
  }
  return undefined;
}

/**
 * First path that holds an element (a block of child elements). `first` cannot
 * find these: an element has no text. A block that is just text (`N/A` in a
 * vGPU guest) is no element.
 */
function firstElement(node: unknown, ...paths: string[]): Node | undefined {
  for (const p of paths) {
    const v = get(node, p);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Node;
  }
  return undefined;
}

function reasons(gpu: Node): { active: string[] | null; counters: Record<string, number> } {
  // 535 renamed <clocks_throttle_reasons> to <clocks_event_reasons>; some v12 drivers still print the old one.
  const block = firstElement(gpu, 'clocks_event_reasons', 'clocks_throttle_reasons');
  let active: string[] | null = null;
  if (block) {
    active = [];
    for (const [key, value] of Object.entries(block)) {
      if (yesNo(value) === true) active.push(key.replace(/^clocks_(event|throttle)_reason_/, ''));
    }
  }
  const counters: Record<string, number> = {};
  for (const [key, value] of Object.entries(firstElement(gpu, 'clocks_event_reasons_counters') ?? {})) {
    const n = number(value);
    if (n !== null) counters[clockEventReasonName(key.replace(/^clocks_event_reasons_counters_/, ''))] = n;
  }
  return { active, counters };
}

function ecc(gpu: Node): GpuSnapshot['ecc'] {
  const e = (path: string) => number(get(gpu, `ecc_errors/${path}`));
  // Turing and later: sram/dram; Volta and older: single_bit/double_bit.
  const volatileUncorrected = sumKnown(e('volatile/sram_uncorrectable') ?? sumKnown(e('volatile/sram_uncorrectable_parity'), e('volatile/sram_uncorrectable_secded')),
    e('volatile/dram_uncorrectable')) ?? e('volatile/double_bit/total');
  const aggregateUncorrected = sumKnown(e('aggregate/sram_uncorrectable') ?? sumKnown(e('aggregate/sram_uncorrectable_parity'), e('aggregate/sram_uncorrectable_secded')),
    e('aggregate/dram_uncorrectable')) ?? e('aggregate/double_bit/total');
  return {
    modeCurrent: text(get(gpu, 'ecc_mode/current_ecc')),
    modePending: text(get(gpu, 'ecc_mode/pending_ecc')),
    volatileCorrected: sumKnown(e('volatile/sram_correctable'), e('volatile/dram_correctable')) ?? e('volatile/single_bit/total'),
    volatileUncorrected,
    aggregateCorrected: sumKnown(e('aggregate/sram_correctable'), e('aggregate/dram_correctable')) ?? e('aggregate/single_bit/total'),
    aggregateUncorrected,
    sramAggregateCorrected: e('aggregate/sram_correctable'),
    sramAggregateUncorrected: e('aggregate/sram_uncorrectable') ?? sumKnown(e('aggregate/sram_uncorrectable_parity'), e('aggregate/sram_uncorrectable_secded')),
    dramAggregateCorrected: e('aggregate/dram_correctable'),
    sramThresholdExceeded: yesNo(get(gpu, 'ecc_errors/aggregate/sram_threshold_exceeded')),
    unrepairableMemory: yesNo(get(gpu, 'ecc_errors/unrepairable_memory')),
  };
}

function snapshot(gpu: Node, index: number, driverVersion: string, cudaVersion: string): GpuSnapshot {
  const s = emptyGpuSnapshot(index);
  const { active, counters } = reasons(gpu);
  const histogramNone = number(get(gpu, 'remapped_rows/row_remapper_histogram/row_remapper_histogram_none'));
  return {
    ...s,
    pciBusId: text(get(gpu, 'pci/pci_bus_id')) ?? text(gpu['@_id']) ?? '',
    uuid: text(gpu['uuid']) ?? '',
    serial: text(gpu['serial']) ?? '',
    model: text(gpu['product_name']) ?? '',
    architecture: text(gpu['product_architecture']),
    vbiosVersion: text(gpu['vbios_version']) ?? '',
    driverVersion,
    cudaVersion,
    performanceState: text(first(gpu, 'performance_state')),
    virtualizationMode: text(first(gpu, 'gpu_virtualization_mode/virtualization_mode', 'virtualization_mode')),
    migCurrent: text(get(gpu, 'mig_mode/current_mig')),
    migPending: text(get(gpu, 'mig_mode/pending_mig')),
    ecc: ecc(gpu),
    retiredPages: {
      singleBit: number(get(gpu, 'retired_pages/multiple_single_bit_retirement/retired_count')),
      doubleBit: number(get(gpu, 'retired_pages/double_bit_retirement/retired_count')),
      pending: yesNo(first(gpu, 'retired_pages/pending_retirement', 'retired_pages/pending_blacklist')),
    },
    rowRemap: {
      correctable: number(get(gpu, 'remapped_rows/remapped_row_corr')),
      uncorrectable: number(get(gpu, 'remapped_rows/remapped_row_unc')),
      pending: yesNo(get(gpu, 'remapped_rows/remapped_row_pending')),
      failure: yesNo(get(gpu, 'remapped_rows/remapped_row_failure')),
      banksWithoutSpares: histogramNone,
    },
    recoveryAction: text(gpu['gpu_recovery_action']),
    resetRequired: yesNo(get(gpu, 'gpu_reset_status/reset_required')),
    drainAndResetRecommended: yesNo(get(gpu, 'gpu_reset_status/drain_and_reset_recommended')),
    clockEventsActive: active,
    clockEventCounters: counters,
    temperature: {
      gpuC: number(get(gpu, 'temperature/gpu_temp')),
      memoryC: number(get(gpu, 'temperature/memory_temp')),
      slowdownC: number(get(gpu, 'temperature/gpu_temp_slow_threshold')),
      shutdownC: number(get(gpu, 'temperature/gpu_temp_max_threshold')),
      memoryMaxC: number(get(gpu, 'temperature/gpu_temp_max_mem_threshold')),
      tlimitC: number(get(gpu, 'temperature/gpu_temp_tlimit')),
      slowdownTlimitC: number(get(gpu, 'temperature/gpu_temp_slow_tlimit_threshold')),
      shutdownTlimitC: number(get(gpu, 'temperature/gpu_temp_max_tlimit_threshold')),
    },
    power: {
      drawW: number(first(gpu, 'gpu_power_readings/power_draw', 'gpu_power_readings/average_power_draw', 'gpu_power_readings/instant_power_draw', 'power_readings/power_draw')),
      limitW: number(first(gpu, 'gpu_power_readings/current_power_limit', 'power_readings/enforced_power_limit', 'power_readings/power_limit')),
      defaultLimitW: number(first(gpu, 'gpu_power_readings/default_power_limit', 'power_readings/default_power_limit')),
    },
    pcie: {
      genCurrent: number(first(gpu, 'pci/pci_gpu_link_info/pcie_gen/current_link_gen')),
      genMax: number(first(gpu, 'pci/pci_gpu_link_info/pcie_gen/max_link_gen')),
      widthCurrent: number(get(gpu, 'pci/pci_gpu_link_info/link_widths/current_link_width')),
      widthMax: number(get(gpu, 'pci/pci_gpu_link_info/link_widths/max_link_width')),
      replayCounter: number(get(gpu, 'pci/replay_counter')),
    },
    fabric: { state: text(get(gpu, 'fabric/state')), status: text(get(gpu, 'fabric/status')) },
    utilizationGpuPercent: number(get(gpu, 'utilization/gpu_util')),
    memoryUsedMiB: number(get(gpu, 'fb_memory_usage/used')),
    memoryTotalMiB: number(get(gpu, 'fb_memory_usage/total')),
  };
}

export class NvidiaSmiParseError extends Error {}

export function parseNvidiaSmiXml(xml: string): NvidiaSmiReport {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (error) {
    throw new NvidiaSmiParseError(`not nvidia-smi XML: ${(error as Error).message}`);
  }
  const root = doc['nvidia_smi_log'];
  if (!root || typeof root !== 'object') throw new NvidiaSmiParseError('not nvidia-smi XML: no <nvidia_smi_log> element');
  const log = root as Node;
  const driverVersion = text(log['driver_version']) ?? '';
  const cudaVersion = text(log['cuda_version']) ?? '';
  const gpus = (Array.isArray(log['gpu']) ? log['gpu'] : []) as Node[];
  return {
    driverVersion,
    cudaVersion,
    attachedGpus: number(log['attached_gpus']),
    gpus: gpus.map((g, i) => snapshot(g, i, driverVersion, cudaVersion)),
    deviceMaxPcieGen: gpus.map((g) => number(first(g, 'pci/pci_gpu_link_info/pcie_gen/max_device_link_gen', 'pci/pci_gpu_link_info/pcie_gen/max_link_gen'))),
  };
}
