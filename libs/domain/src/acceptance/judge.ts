// An acceptance run judged: the node's inventory and what its agent measured
// (AcceptanceFacts) against the profile of its SKU. The agent gives facts, never
// a verdict. What the profile requires and was not measured fails (a suite that
// did not run proves nothing); only DCGM may be absent (not installed), said so.
import type { HealthCondition } from '../health/health-condition.ts';
import type { DcgmDiagResult, NvlinkGpuState } from '../health/host-snapshot.ts';
import type { Inventory } from '../inventory.ts';
import { checkConformance, type AcceptanceCheck } from './conformance.ts';
import { checkCopies, checkDcgmDiag, checkNccl, checkStress, type CopyFacts, type NcclFacts, type StressFacts } from './diagnostics.ts';
import { nodeSku, type SkuProfile } from './sku-profile.ts';

export interface AcceptanceFacts {
  /** `nvidia-smi nvlink -s`; null when it could not be read. */
  nvlinks: NvlinkGpuState[] | null;
  /** all_reduce_perf; null when not run or it gave no result. */
  nccl: (NcclFacts & { devices: number; tool: string }) | null;
  /** `dcgmi diag`; null where DCGM is not installed. */
  dcgm: DcgmDiagResult[] | null;
  /** nvbandwidth's slowest copies; null when not run or it gave no result. */
  copies: CopyFacts | null;
  /** gpu_burn with nvidia-smi read under load; null when not run or it gave no result. */
  stress: StressFacts | null;
  /** Each tool's own output, kept for the vendor's evidence. */
  outputs: Array<{ tool: string; text: string }>;
}

/**
 * What one acceptance report may hold (the manager refuses one over them; the agent keeps within them): a node's GPUs
 * and links, DCGM's tests, the tools' outputs, and each name, status or message text.
 */
export const acceptanceLimits = { gpus: 64, linksPerGpu: 64, dcgmTests: 256, outputs: 8, outputChars: 64 * 1024, textChars: 1024, clockEvents: 16 } as const;

/**
 * The GPUs' whole state after the suite (`nvidia-smi -q -x`: serials, ECC counters and remapped rows, clock events,
 * PCIe link and replays), which a vendor asks for beside the failing checks: the agent sends it gzip-compressed and
 * base64-encoded (an 8-GPU node's 230 kB of XML become about 12 kB), the manager writes it out as XML in the evidence.
 * `maxChars`: the encoded text the agent sends (a larger one is left out, saying so); `maxXmlBytes`: what the
 * manager decodes at most.
 */
/**
 * What the agent keeps one report's texts (tools' outputs, DCGM's results) within, in UTF-8 bytes: the report must
 * fit the broker's payload limit (256 KiB by default, --max-payload-bytes), or it is never stored, never acknowledged,
 * and holds every later report of the node in its spool behind it.
 */
export const acceptanceReportBytes = 192 * 1024;

export const gpuStateOutput = { tool: 'nvidia-smi -q -x | gzip | base64', maxChars: 32 * 1024, maxXmlBytes: 2 * 1024 * 1024 } as const;

export interface AcceptanceVerdict {
  /** The SKU profile the node was judged by; null when none matches its GPUs. */
  profile: string | null;
  checks: AcceptanceCheck[];
  passed: boolean;
}

/** What the agent is asked to run for a node of this profile. */
export const acceptSuite = (profile: SkuProfile | null) => ({
  dcgmLevel: profile?.gates.dcgmLevel ?? 1, nccl: (profile?.gates.ncclBusbwGBs ?? 0) > 0, nvbandwidth: (profile?.gates.p2pGBs ?? 0) > 0 || (profile?.gates.hostCopyGBs ?? 0) > 0,
  stressSeconds: profile?.gates.stress?.seconds ?? 0,
});

const failed = (check: AcceptanceCheck, measured: string): AcceptanceCheck => ({ ...check, measured, verdict: 'fail' });

/**
 * `critical`: the node's critical conditions when its report came (an Xid during the all-reduce, a link that went
 * down): a node with one is not accepted, whatever it measured. `acceptedAs`: the profile the node last passed as.
 */
export function judgeAcceptance(profiles: readonly SkuProfile[], inventory: Inventory, facts: AcceptanceFacts, critical: readonly HealthCondition[] = [], acceptedAs: string | null = null): AcceptanceVerdict {
  const profile = nodeSku(inventory.gpus, profiles, acceptedAs);
  if (!profile) {
    const gpus = inventory.gpus.length === 0 ? 'no GPU' : `${inventory.gpus.length} x ${inventory.gpus[0]?.model ?? ''}`;
    return { profile: null, passed: false, checks: [{ name: 'sku-profile', measured: gpus, threshold: `one of ${profiles.map((p) => p.name).join(', ') || 'none defined'}`, verdict: 'fail', missing: true }] };
  }
  const conformance = checkConformance(profile, { inventory, nvlinks: facts.nvlinks })
    .map((c) => (c.name === 'nvlink' && c.verdict === 'skip' && profile.nvlinksPerGpu !== null ? failed(c, 'not read') : c));
  const nccl = checkNccl(profile, facts.nccl).map((c) => {
    if (c.verdict === 'skip') return profile.gates.ncclBusbwGBs > 0 ? failed(c, 'not run, or no result') : c;
    // A run on fewer GPUs than the node has, or another collective, measures something else.
    if (c.name === 'nccl-allreduce' && facts.nccl && (facts.nccl.devices !== profile.gpuCount || facts.nccl.tool !== 'all_reduce_perf')) {
      return failed(c, `${facts.nccl.tool} on ${facts.nccl.devices} GPU(s): ${c.measured}`);
    }
    return c;
  });
  const dcgm = checkDcgmDiag(profile, facts.dcgm);
  // DCGM that ran and skipped every test measured nothing.
  const dcgmChecked = facts.dcgm !== null && facts.dcgm.every((r) => r.status === 'skip') ? failed(dcgm, 'every test skipped') : dcgm;
  const health: AcceptanceCheck = {
    name: 'health', measured: critical.length === 0 ? 'no critical condition' : critical.map((c) => `${c.component} ${c.code}`).join('; '),
    threshold: 'no critical condition', verdict: critical.length === 0 ? 'pass' : 'fail',
  };
  const stress = profile.gates.stress ? checkStress(profile.gates.stress, inventory.gpus.map((g) => g.index), facts.stress) : [];
  const measured = [...conformance, ...nccl, ...checkCopies(profile, facts.copies), ...stress, dcgmChecked, health];
  const unmeasured = notMeasured(facts);
  const checks = measured.map((c) => (c.verdict === 'fail' && unmeasured.has(c.name) ? { ...c, missing: true } : c));
  return { profile: profile.name, checks, passed: checks.every((c) => c.verdict !== 'fail') };
}

/** The checks whose tool did not run or gave no result: failing them says nothing about the hardware. */
function notMeasured(facts: AcceptanceFacts): Set<string> {
  const names: string[] = [];
  if (facts.nvlinks === null) names.push('nvlink');
  if (facts.nccl === null) names.push('nccl-allreduce', 'nccl-correctness');
  if (facts.copies?.hostToDevice == null) names.push('host-copy');
  if (facts.copies?.peer == null) names.push('p2p-copy');
  if (facts.stress === null) names.push('gpu-stress', 'clock-throttle', 'temperature-spread');
  else if (!facts.stress.sampled) names.push('clock-throttle');
  if (facts.dcgm === null) names.push('dcgm-diag');
  return new Set(names);
}

/** Whether a run measured a fault (a failed check the tools did measure), as a repeat offender is counted. */
export const measuredFault = (checks: readonly AcceptanceCheck[]) => checks.some((c) => c.verdict === 'fail' && !c.missing);

/** The failing checks in one line: the reason a node goes to repair. */
export const failingChecks = (checks: readonly AcceptanceCheck[]) =>
  checks.filter((c) => c.verdict === 'fail').map((c) => `${c.name}: ${c.measured} (want ${c.threshold})`).join('; ');
