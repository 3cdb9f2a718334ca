// `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]` → GPU snapshots.
// Works with any field selection: what was not queried stays null.
import { clockEventReasonName, clockEventsFromMask, emptyGpuSnapshot, type GpuSnapshot } from '@metalfleet/domain';
import { number, sumKnown, text, yesNo } from './values.ts';

/** The fields the agent queries every telemetry interval (cheaper than the XML). */
export const telemetryQueryFields = [
  'index', 'uuid', 'pci.bus_id', 'pstate', 'temperature.gpu', 'temperature.memory', 'power.draw', 'utilization.gpu',
  'memory.used', 'memory.total', 'ecc.errors.uncorrected.volatile.total', 'ecc.errors.corrected.volatile.total', 'clocks_event_reasons.active',
] as const;

function splitLine(line: string): string[] {
  return line.split(',').map((v) => v.trim());
}

/** `power.draw [W]` → `power.draw`. */
function fieldName(header: string): string {
  return header.replace(/\s*\[[^\]]*\]\s*$/, '').trim();
}

function rowSnapshot(row: ReadonlyMap<string, string>, position: number): GpuSnapshot {
  const s = emptyGpuSnapshot(number(row.get('index')) ?? position);
  const v = (name: string) => row.get(name);
  const n = (...names: string[]) => {
    for (const name of names) {
      const value = number(v(name));
      if (value !== null) return value;
    }
    return null;
  };
  const prefix = row.has('clocks_event_reasons.active') || [...row.keys()].some((k) => k.startsWith('clocks_event_reasons.')) ? 'clocks_event_reasons' : 'clocks_throttle_reasons';
  let active: string[] | null = null;
  const mask = number(v(`${prefix}.active`));
  if (mask !== null) active = clockEventsFromMask(mask);
  else {
    const named = [...row.entries()].filter(([k]) => k.startsWith(`${prefix}.`) && !k.endsWith('.supported'));
    if (named.length > 0) active = named.filter(([, value]) => yesNo(value) === true).map(([k]) => k.slice(prefix.length + 1));
  }
  const counters: Record<string, number> = {};
  for (const [k, value] of row) {
    if (!k.startsWith('clocks_event_reasons_counters.')) continue;
    const c = number(value);
    if (c !== null) counters[clockEventReasonName(k.slice('clocks_event_reasons_counters.'.length))] = c;
  }
  return {
    ...s,
    pciBusId: text(v('pci.bus_id')) ?? '',
    uuid: text(v('uuid')) ?? '',
    serial: text(v('serial')) ?? '',
    model: text(v('name')) ?? '',
    vbiosVersion: text(v('vbios_version')) ?? '',
    driverVersion: text(v('driver_version')) ?? '',
    performanceState: text(v('pstate')),
    migCurrent: text(v('mig.mode.current')),
    migPending: text(v('mig.mode.pending')),
    ecc: {
      modeCurrent: text(v('ecc.mode.current')),
      modePending: text(v('ecc.mode.pending')),
      volatileCorrected: n('ecc.errors.corrected.volatile.total'),
      volatileUncorrected: n('ecc.errors.uncorrected.volatile.total'),
      aggregateCorrected: n('ecc.errors.corrected.aggregate.total'),
      aggregateUncorrected: n('ecc.errors.uncorrected.aggregate.total'),
      sramAggregateCorrected: n('ecc.errors.corrected.aggregate.sram'),
      sramAggregateUncorrected: n('ecc.errors.uncorrected.aggregate.sram') ?? sumKnown(n('ecc.errors.uncorrected.aggregate.sram.parity'), n('ecc.errors.uncorrected.aggregate.sram.secded')),
      dramAggregateCorrected: n('ecc.errors.corrected.aggregate.dram'),
      sramThresholdExceeded: yesNo(v('ecc.errors.uncorrected.aggregate.sram.thresholdExceeded')),
      unrepairableMemory: null,
    },
    retiredPages: { singleBit: n('retired_pages.single_bit_ecc.count'), doubleBit: n('retired_pages.double_bit.count'), pending: yesNo(v('retired_pages.pending')) },
    rowRemap: {
      correctable: n('remapped_rows.correctable'), uncorrectable: n('remapped_rows.uncorrectable'),
      pending: yesNo(v('remapped_rows.pending')), failure: yesNo(v('remapped_rows.failure')), banksWithoutSpares: n('remapped_rows.histogram.none'),
    },
    recoveryAction: text(v('gpu_recovery_action')),
    clockEventsActive: active,
    clockEventCounters: counters,
    // No threshold fields exist in the query; the domain falls back (gpuThermalLimits).
    temperature: { ...s.temperature, gpuC: n('temperature.gpu'), memoryC: n('temperature.memory'), tlimitC: n('temperature.gpu.tlimit') },
    power: { drawW: n('power.draw', 'power.draw.average', 'power.draw.instant'), limitW: n('enforced.power.limit', 'power.limit'), defaultLimitW: n('power.default_limit') },
    pcie: {
      genCurrent: n('pcie.link.gen.gpucurrent', 'pcie.link.gen.current'), genMax: n('pcie.link.gen.max', 'pcie.link.gen.gpumax'),
      widthCurrent: n('pcie.link.width.current'), widthMax: n('pcie.link.width.max'), replayCounter: null,
    },
    fabric: { state: text(v('fabric.state')), status: text(v('fabric.status')) },
    utilizationGpuPercent: n('utilization.gpu'),
    memoryUsedMiB: n('memory.used'),
    memoryTotalMiB: n('memory.total'),
  };
}

/**
 * Parses CSV output. With a header line, `fields` may be omitted; for
 * `noheader` output pass the fields in the order they were queried.
 */
export function parseNvidiaSmiCsv(csv: string, fields?: readonly string[]): GpuSnapshot[] {
  const lines = csv.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) return [];
  const names = fields ? [...fields] : splitLine(lines[0] ?? '').map(fieldName);
  const body = fields ? lines : lines.slice(1);
  return body.map((line, i) => {
    const values = splitLine(line);
    return rowSnapshot(new Map(names.map((name, j) => [name, values[j] ?? ''])), i);
  });
}
