// Disks (SMART), memory (EDAC), NICs, NVLink and DCGM results to findings.
import { finding, type ConditionFinding, type Remediation } from './health-condition.ts';
import type { DcgmDiagResult, DcgmHealthFinding, DiskHealth, MemoryControllerHealth, NicState, NvlinkErrorGrowth, NvlinkGpuState } from './host-snapshot.ts';

export function classifyDisks(disks: readonly DiskHealth[]): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const d of disks) {
    const component = `disk:${d.device}`;
    if (d.smartPassed === false) out.push(finding(component, 'smart-failed', 'critical', 'replace', `SMART overall health failed on ${d.model} ${d.serial}`.trim()));
    else if ((d.nvmeCriticalWarning ?? 0) !== 0) {
      out.push(finding(component, 'nvme-critical-warning', 'critical', 'replace', `NVMe critical warning 0x${(d.nvmeCriticalWarning ?? 0).toString(16)} on ${d.model}`));
    }
    if ((d.percentageUsed ?? 0) >= 100) out.push(finding(component, 'disk-worn-out', 'warning', 'replace', `${d.percentageUsed}% of rated endurance used`));
    if ((d.mediaErrors ?? 0) > 0) out.push(finding(component, 'disk-media-errors', 'warning', 'none', `${d.mediaErrors} media errors`));
    if ((d.reallocatedSectors ?? 0) > 0 || (d.pendingSectors ?? 0) > 0) {
      out.push(finding(component, 'disk-bad-sectors', 'warning', 'none', `${d.reallocatedSectors ?? 0} reallocated, ${d.pendingSectors ?? 0} pending sectors`));
    }
  }
  return out;
}

/** Corrected memory errors above this many are a warning (DIMM likely failing). */
const edacCorrectableLimit = 100;

export function classifyMemoryControllers(controllers: readonly MemoryControllerHealth[]): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const mc of controllers) {
    const component = `memory:${mc.controller}`;
    if (mc.uncorrectable > 0) out.push(finding(component, 'edac-uncorrectable', 'critical', 'replace', `${mc.uncorrectable} uncorrectable host memory errors (EDAC ${mc.controller})`));
    else if (mc.correctable > edacCorrectableLimit) out.push(finding(component, 'edac-correctable-high', 'warning', 'none', `${mc.correctable} corrected host memory errors (EDAC ${mc.controller})`));
  }
  return out;
}

export function classifyNics(nics: readonly NicState[]): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const nic of nics) {
    const component = `nic:${nic.name}`;
    if (!nic.linkUp && nic.expectedUp) out.push(finding(component, 'nic-link-down', 'critical', 'none', `${nic.name} has no link: check the cable and the switch port`));
    else if (nic.linkUp && nic.speedMbps !== null && nic.maxSpeedMbps !== null && nic.speedMbps < nic.maxSpeedMbps) {
      out.push(finding(component, 'nic-speed-degraded', 'warning', 'none', `${nic.name} at ${nic.speedMbps} Mb/s of ${nic.maxSpeedMbps} Mb/s`));
    }
  }
  return out;
}

/** Any inactive NVLink on a GPU, or fewer active links than the model has. */
export function classifyNvlinks(gpus: readonly NvlinkGpuState[], expectedLinksPerGpu: number | null): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const gpu of gpus) {
    if (gpu.links.length === 0) continue; // not queryable (MIG mode) or no NVLink: unknown, not down
    const active = gpu.links.filter((l) => l !== null).length;
    const inactive = gpu.links.map((l, i) => (l === null ? i : -1)).filter((i) => i >= 0);
    const expected = expectedLinksPerGpu ?? gpu.links.length;
    if (expected > 0 && active < expected) {
      const which = inactive.length > 0 ? ` (inactive: ${inactive.join(', ')})` : '';
      out.push(finding(`gpu-nvlink:${gpu.gpuIndex}`, 'nvlink-down', 'critical', 'reset-gpu', `${active} of ${expected} NVLinks active on GPU ${gpu.gpuIndex}${which}`));
    }
  }
  return out;
}

const dcgmSystemRemediation: Record<string, Remediation> = {
  'Memory system': 'reset-gpu', 'NVLINK system': 'reset-gpu', 'PCIe system': 'replace', 'InfoROM system': 'replace', Driver: 'reimage',
};

export function classifyDcgmHealth(findings: readonly DcgmHealthFinding[]): ConditionFinding[] {
  return findings.filter((f) => f.verdict !== 'pass').map((f) => finding(
    `gpu-dcgm:${f.gpuId}`, `dcgm-${f.system.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-$/, '')}`,
    f.verdict === 'fail' ? 'critical' : 'warning', f.verdict === 'fail' ? (dcgmSystemRemediation[f.system] ?? 'none') : 'none',
    `DCGM ${f.system}: ${f.message}`,
  ));
}

export function classifyDcgmDiag(results: readonly DcgmDiagResult[]): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const r of results) {
    if (r.status !== 'fail' && r.status !== 'warn') continue;
    const remediation: Remediation = r.status === 'warn' ? 'none' : r.errorSeverity === 6 ? 'reset-gpu' : r.errorSeverity === 2 ? 'replace' : 'replace';
    const code = `dcgm-diag-${r.test.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
    for (const gpu of r.gpuIds.length > 0 ? r.gpuIds : ['all']) {
      out.push(finding(`gpu-dcgm:${gpu}`, code, r.status === 'fail' ? 'critical' : 'warning', remediation, `dcgmi diag ${r.test}: ${r.info || r.status}`));
    }
  }
  return out;
}

/** CRC errors beyond this growth are a link going marginal (DCGM warns on CRC, fails on replay/recovery). */
const nvlinkCrcLimit = 1000;

export function classifyNvlinkErrors(growth: readonly NvlinkErrorGrowth[]): ConditionFinding[] {
  const out: ConditionFinding[] = [];
  for (const g of growth) {
    const component = `gpu-nvlink:${g.gpuIndex}:${g.link}`;
    if (g.recovery > 0) out.push(finding(component, 'nvlink-recovery-errors', 'critical', 'reset-gpu', `NVLink ${g.link} of GPU ${g.gpuIndex}: ${g.recovery} recovery errors`));
    else if (g.replay > 0) out.push(finding(component, 'nvlink-replay-errors', 'warning', 'none', `NVLink ${g.link} of GPU ${g.gpuIndex}: ${g.replay} replay errors`));
    if (g.crc >= nvlinkCrcLimit) out.push(finding(component, 'nvlink-crc-errors', 'warning', 'none', `NVLink ${g.link} of GPU ${g.gpuIndex}: ${g.crc} CRC errors`));
  }
  return out;
}
