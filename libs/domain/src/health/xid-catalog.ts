// The Xid catalog (GPU-HEALTH.md §2): what each Xid means and what to do.
// Buckets: RESTART_APP/IGNORE → none, RESET_GPU → reset-gpu, RESTART_BM → reboot,
// CONTACT_SUPPORT/CHECK_MECHANICALS → replace after diagnosis.
import type { Remediation, Severity } from './health-condition.ts';

export interface XidInfo {
  name: string;
  severity: Severity;
  remediation: Remediation;
}

const entry = (name: string, severity: Severity, remediation: Remediation): XidInfo => ({ name, severity, remediation });

const catalog: ReadonlyMap<number, XidInfo> = new Map([
  [8, entry('GPU stopped processing (idle timeout)', 'ok', 'none')],
  [13, entry('graphics engine exception', 'ok', 'none')],
  [31, entry('GPU memory page fault', 'ok', 'none')],
  [32, entry('corrupted push buffer stream', 'ok', 'none')],
  [38, entry('driver firmware error', 'warning', 'none')],
  [39, entry('PCIe bus error (PBDMA)', 'warning', 'none')],
  [42, entry('video processor exception (PCIe)', 'warning', 'none')],
  [43, entry('GPU stopped processing (channel reset)', 'ok', 'none')],
  [45, entry('preemptive cleanup after a previous error', 'ok', 'none')],
  [46, entry('GPU stopped processing (timeout)', 'critical', 'reset-gpu')],
  [48, entry('double-bit (uncorrectable) ECC error', 'critical', 'reset-gpu')],
  [54, entry('auxiliary power not connected', 'critical', 'replace')],
  [56, entry('display engine error', 'warning', 'none')],
  [57, entry('error programming video memory interface', 'warning', 'none')],
  [58, entry('unstable video memory interface', 'warning', 'none')],
  [60, entry('video processor exception (thermal)', 'warning', 'none')],
  [61, entry('internal micro-controller breakpoint/warning', 'warning', 'none')],
  [62, entry('internal micro-controller (PMU) halt', 'critical', 'reset-gpu')],
  [63, entry('row remap / page retirement recorded, pending a reset', 'warning', 'reset-gpu')],
  [64, entry('row remap / page retirement failure', 'critical', 'replace')],
  [65, entry('video processor exception', 'warning', 'reset-gpu')],
  [68, entry('NVDEC0 exception', 'ok', 'none')],
  [69, entry('graphics engine class error', 'ok', 'none')],
  [73, entry('NVENC2 error', 'warning', 'none')],
  [74, entry('NVLink error', 'critical', 'reset-gpu')],
  [78, entry('vGPU start failure (update the vGPU software)', 'warning', 'reimage')],
  [79, entry('GPU has fallen off the bus', 'critical', 'reboot')],
  [80, entry('corrupted data sent to GPU', 'critical', 'reset-gpu')],
  [81, entry('VGA subsystem error', 'critical', 'reset-gpu')],
  [92, entry('high single-bit ECC error rate', 'warning', 'none')],
  [94, entry('contained uncorrectable ECC error (only the faulting app killed)', 'warning', 'none')],
  [95, entry('uncontained uncorrectable ECC error', 'critical', 'reset-gpu')],
  [109, entry('context switch timeout', 'warning', 'none')],
  [110, entry('security fault', 'critical', 'reset-gpu')],
  [119, entry('GSP RPC timeout', 'critical', 'reset-gpu')],
  [120, entry('GSP error', 'critical', 'reset-gpu')],
  [121, entry('C2C link corrected error', 'warning', 'none')],
  [136, entry('NVLink ALI training failed', 'critical', 'reset-gpu')],
  [137, entry('NVLink FLA privilege error', 'ok', 'none')],
  [140, entry('unrecovered ECC error escape', 'critical', 'reset-gpu')],
  [143, entry('GPU initialisation failure', 'critical', 'reboot')],
  [144, entry('NVLink5 SAW error', 'critical', 'reset-gpu')],
  [145, entry('NVLink5 RLW error', 'critical', 'reset-gpu')],
  [146, entry('NVLink5 TLW error', 'critical', 'reset-gpu')],
  [147, entry('NVLink5 TREX error', 'critical', 'reset-gpu')],
  [148, entry('NVLink5 NVLPW_CTRL error', 'critical', 'reset-gpu')],
  [149, entry('NVLink5 NETIR error (cabling / signal integrity)', 'critical', 'reset-gpu')],
  [150, entry('NVLink5 MSE watchdog', 'critical', 'reset-gpu')],
  [154, entry('GPU recovery action changed', 'critical', 'reset-gpu')],
  [155, entry('NVLink software-defined error', 'critical', 'reset-gpu')],
  [156, entry('NVLink resource retirement', 'critical', 'reset-gpu')],
  [157, entry('NVLink resource retirement failure', 'warning', 'none')],
  [158, entry('NVLink fatal timeout', 'critical', 'reset-gpu')],
  [162, entry('GPU error needing a reset (catalog: RESET_GPU)', 'critical', 'reset-gpu')],
  [163, entry('power smoothing event', 'ok', 'none')],
  [164, entry('power smoothing event', 'ok', 'none')],
  [165, entry('power smoothing lifetime exhausted', 'warning', 'replace')],
  [167, entry('PCIe fatal timeout', 'critical', 'reboot')],
]);

/** Unknown or retired codes are reported as warnings, never ignored. */
export function xidInfo(xid: number): XidInfo {
  return catalog.get(xid) ?? entry(`Xid ${xid} (not in the catalog)`, 'warning', 'none');
}

export function catalogedXids(): number[] {
  return [...catalog.keys()];
}
