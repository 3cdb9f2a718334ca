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
  if (results === null) return { name: 'dcgm-diag', measured: 'DCGM not installed', threshold, verdict: 'skip' };
  const bad = results.filter((r) => r.status === 'fail' || r.status === 'warn');
  return {
    name: 'dcgm-diag',
    measured: bad.length === 0 ? `${results.filter((r) => r.status === 'pass').length} passed` : bad.map((r) => `${r.test} ${r.status}${r.gpuIds.length > 0 ? ` (GPU ${r.gpuIds.join(', ')})` : ''}`).join('; '),
    threshold, verdict: bad.length === 0 && results.length > 0 ? 'pass' : 'fail',
  };
}
