// NVIDIA's action buckets (Xid catalog, NVSentinel's DCGM map) to remediations
// (GPU-HEALTH.md §2): "Bucket→agent".
import type { Remediation } from './health-condition.ts';

const buckets: Record<string, Remediation> = {
  RESTART_APP: 'none', IGNORE: 'none', CHECK_APP: 'none', CHECK_UVM: 'none', NONE: 'none', CHECK_THERMALS: 'none',
  REPORT_ISSUE: 'none', UNEXPECTED_ERR_REPORT_ISSUE: 'none',
  RESET_GPU: 'reset-gpu',
  RESTART_BM: 'reboot', RESTART_VM: 'reboot', NODE_REBOOT: 'reboot', CHECK_FM_CONFIG: 'reboot',
  UPDATE_SWFW: 'reimage',
  CONTACT_SUPPORT: 'replace', RUN_FIELDDIAG: 'replace', CHECK_MECHANICALS: 'replace',
};

/** null for WORKFLOW_* buckets, whose action depends on companion signals. */
export function bucketRemediation(bucket: string): Remediation | null {
  return buckets[bucket.trim().toUpperCase()] ?? null;
}
