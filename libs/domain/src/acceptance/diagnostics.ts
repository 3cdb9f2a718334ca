// Diagnostics against a SKU's gates: NCCL all-reduce bus bandwidth (and no
// wrong result), DCGM diagnostics. The agent runs the tools; their parsers
// (libs/hardware) give the facts these judge.
import type { DcgmDiagResult } from '../health/host-snapshot.ts';
import type { AcceptanceCheck } from './conformance.ts';
import type { SkuProfile } from './sku-profile.ts';

/** What an all_reduce_perf run measured: the bus bandwidth at its largest size, and its wrong results. */
export interface NcclFacts {
  busbwGBs: number;
  sizeBytes: number;
  wrongResults: number;
}

export function checkNccl(profile: SkuProfile, facts: NcclFacts | null): AcceptanceCheck[] {
  if (facts === null) return [{ name: 'nccl-allreduce', measured: 'not run', threshold: `≥ ${profile.gates.ncclBusbwGBs} GB/s`, verdict: 'skip' }];
  return [
    { name: 'nccl-allreduce', measured: `${facts.busbwGBs} GB/s at ${(facts.sizeBytes / 1024 ** 3).toFixed(0)} GiB`, threshold: `≥ ${profile.gates.ncclBusbwGBs} GB/s`,
      verdict: facts.busbwGBs >= profile.gates.ncclBusbwGBs ? 'pass' : 'fail' },
    // A GPU or link corrupting data is worse than a slow one.
    { name: 'nccl-correctness', measured: `${facts.wrongResults} wrong`, threshold: '0 wrong', verdict: facts.wrongResults === 0 ? 'pass' : 'fail' },
  ];
}

/** nvbandwidth's slowest copy of each kind (GB/s) and where it was; null when not measured. */
export interface CopyFacts {
  hostToDevice: { gbs: number; gpu: number } | null;
  peer: { gbs: number; from: number; to: number } | null;
}

/** nvbandwidth against the host-copy and peer-copy gates (a gate of 0 is not checked); what was not measured fails. */
export function checkCopies(profile: SkuProfile, facts: CopyFacts | null): AcceptanceCheck[] {
  const checks: AcceptanceCheck[] = [];
  const { hostCopyGBs, p2pGBs } = profile.gates;
  if (hostCopyGBs > 0) {
    const h = facts?.hostToDevice ?? null;
    checks.push({ name: 'host-copy', measured: h ? `lowest ${h.gbs} GB/s (GPU ${h.gpu})` : 'not run, or no result', threshold: `≥ ${hostCopyGBs} GB/s each GPU`, verdict: h && h.gbs >= hostCopyGBs ? 'pass' : 'fail' });
  }
  if (p2pGBs > 0) {
    const p = facts?.peer ?? null;
    checks.push({ name: 'p2p-copy', measured: p ? `lowest ${p.gbs} GB/s (GPU ${p.from} → ${p.to})` : 'not run, or no result', threshold: `≥ ${p2pGBs} GB/s each pair`, verdict: p && p.gbs >= p2pGBs ? 'pass' : 'fail' });
  }
  return checks;
}

/** `dcgmi diag -r N`: every test passed (or was skipped by DCGM); null where DCGM is not installed. */
export function checkDcgmDiag(profile: SkuProfile, results: readonly DcgmDiagResult[] | null): AcceptanceCheck {
  const threshold = `level ${profile.gates.dcgmLevel}: every test passes`;
  if (results === null) return { name: 'dcgm-diag', measured: 'DCGM not installed', threshold, verdict: profile.gates.requireDcgm ? 'fail' : 'skip' };
  const bad = results.filter((r) => r.status === 'fail' || r.status === 'warn');
  return {
    name: 'dcgm-diag',
    measured: bad.length === 0 ? `${results.filter((r) => r.status === 'pass').length} passed` : bad.map((r) => `${r.test} ${r.status}${r.gpuIds.length > 0 ? ` (GPU ${r.gpuIds.join(', ')})` : ''}`).join('; '),
    threshold, verdict: bad.length === 0 && results.length > 0 ? 'pass' : 'fail',
  };
}

/** A stress run (gpu_burn) on every GPU, with nvidia-smi read during it. */
export interface StressFacts {
  tool: string;
  seconds: number;
  /** Whether nvidia-smi was read under load: false, the clock event reasons are not known. */
  sampled: boolean;
  /** Each GPU's verdict, errors, hottest reading, and the clock event reasons seen under load (null: never read). */
  gpus: Array<{ index: number; result: string; errors: number; peakTempC: number | null; clockEvents: string[] | null }>;
}

/**
 * Clock event reasons that mean a fault under load (GPU-HEALTH.md §4): a hardware slowdown, thermal or power brake (cooling,
 * PSU), or the driver slowing a GPU for heat. A power cap at full load, idle and application clocks are normal.
 */
export const faultyUnderLoad: readonly string[] = ['hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown', 'sw_thermal_slowdown'];

/** The stress gate: every GPU of the node passed with no error, no faulty slowdown, peak temperatures close together. */
export function checkStress(gate: { seconds: number; maxTempSpreadC: number }, gpuIndexes: readonly number[], facts: StressFacts | null): AcceptanceCheck[] {
  const loadThreshold = `every GPU OK, 0 errors, ${gate.seconds} s`;
  const throttleThreshold = 'no thermal, power-brake or hardware slowdown under load';
  const spreadThreshold = `peaks within ${gate.maxTempSpreadC} °C`;
  if (facts === null) {
    return [
      { name: 'gpu-stress', measured: 'not run, or no result', threshold: loadThreshold, verdict: 'fail' },
      { name: 'clock-throttle', measured: 'not measured', threshold: throttleThreshold, verdict: 'fail' },
      { name: 'temperature-spread', measured: 'not measured', threshold: spreadThreshold, verdict: 'fail' },
    ];
  }
  const byIndex = new Map(facts.gpus.map((g) => [g.index, g]));
  // Every GPU the node has, once: a GPU the run left out (or named twice) was not proven.
  const misses = gpuIndexes.flatMap((index) => {
    const g = byIndex.get(index);
    if (!g) return [`GPU ${index}: not tested`];
    return g.result !== 'OK' || g.errors > 0 ? [`GPU ${index}: ${g.result}${g.errors > 0 ? ` (${g.errors} errors)` : ''}`] : [];
  });
  const short = facts.seconds < gate.seconds ? [`ran ${facts.seconds} s`] : [];
  const load: AcceptanceCheck = {
    name: 'gpu-stress', measured: [...short, ...misses].join('; ') || `all ${gpuIndexes.length} OK for ${facts.seconds} s (${facts.tool})`, threshold: loadThreshold,
    verdict: short.length === 0 && misses.length === 0 && facts.gpus.length === gpuIndexes.length ? 'pass' : 'fail',
  };
  // A GPU never read under load is not proven either (review finding: one unread GPU passed).
  const throttled = facts.gpus.flatMap((g) => {
    if (g.clockEvents === null) return [`GPU ${g.index}: not read under load`];
    const bad = g.clockEvents.filter((e) => faultyUnderLoad.includes(e));
    return bad.length > 0 ? [`GPU ${g.index}: ${bad.join(', ')}`] : [];
  });
  const throttle: AcceptanceCheck = {
    name: 'clock-throttle', measured: !facts.sampled ? 'nvidia-smi not read under load' : throttled.join('; ') || 'none', threshold: throttleThreshold,
    verdict: facts.sampled && throttled.length === 0 ? 'pass' : 'fail',
  };
  const peaks = facts.gpus.filter((g): g is typeof g & { peakTempC: number } => g.peakTempC !== null);
  const hottest = peaks.reduce<(typeof peaks)[number] | null>((a, b) => (a === null || b.peakTempC > a.peakTempC ? b : a), null);
  const coolest = peaks.reduce<(typeof peaks)[number] | null>((a, b) => (a === null || b.peakTempC < a.peakTempC ? b : a), null);
  const spread = hottest && coolest ? hottest.peakTempC - coolest.peakTempC : null;
  const temperatures: AcceptanceCheck = {
    name: 'temperature-spread',
    measured: spread === null || !hottest || !coolest ? 'no temperature read'
      : `${spread} °C (GPU ${coolest.index} ${coolest.peakTempC} °C to GPU ${hottest.index} ${hottest.peakTempC} °C)${peaks.length < facts.gpus.length ? `; ${facts.gpus.length - peaks.length} GPU(s) unread` : ''}`,
    threshold: spreadThreshold, verdict: spread !== null && spread <= gate.maxTempSpreadC && peaks.length === facts.gpus.length ? 'pass' : 'fail',
  };
  return [load, throttle, temperatures];
}
