// What the manager does about a node's health on its own. Only critical
// conditions act; warnings are for people.
// - Faults whose remedy takes the machine down for a power cycle or more
//   (reboot: a GPU off the bus, a hung GSP; replace: failed memory rows, a
//   dead link) are hardware faults: a tenant's node is replaced by a spare at
//   once and goes to repair, where its remedy is applied without a tenant
//   waiting on it (GPU-HEALTH.md: Xid 79 → drain, cold power-cycle, RMA on
//   recurrence). A spare with one leaves the pool for repair.
// - A GPU reset or a reimage fixes software in place, on an active node.
// - A fault that comes back after the node was repaired or reimaged was not
//   software after all: it escalates to repair like a hardware fault.
import { remediations, type HealthCondition, type Remediation } from '../health/health-condition.ts';
import type { NodeState } from '../node.ts';

export type RemediationAction =
  | { action: 'none'; reason: string }
  | { action: 'reset-gpu'; gpuComponent: string; reason: string }
  | { action: 'reimage'; reason: string }
  /** An active tenant node with a hardware fault: drain, swap in a spare, send this one to repair. */
  | { action: 'replace'; reason: string }
  /** A node in the spare pool with a hardware fault: out of the pool and into repair. */
  | { action: 'repair'; reason: string };

export interface RemediationSubject {
  state: NodeState;
  tenant: string | null;
}

/** What a node went through before: failures recorded, and the repairs and reimages since. */
export interface FaultHistory {
  failures: ReadonlyArray<{ code: string; at: Date }>;
  resets: ReadonlyArray<{ at: Date; kind: 'repaired' | 'reimaged' }>;
}

/** Conditions present now that were seen before a repair or reimage which should have fixed them, with that reset. */
export function recurringConditions(conditions: readonly HealthCondition[], history: FaultHistory): Array<{ condition: HealthCondition; after: FaultHistory['resets'][number] }> {
  return conditions.flatMap((condition) => {
    const after = [...history.resets].filter((r) => r.at.getTime() <= condition.since.getTime())
      .filter((r) => history.failures.some((f) => f.code === condition.code && f.at.getTime() < r.at.getTime()))
      .sort((a, b) => b.at.getTime() - a.at.getTime())[0];
    return after ? [{ condition, after }] : [];
  });
}

function describe(conditions: readonly HealthCondition[]): string {
  return conditions.map((c) => `${c.component} ${c.code}: ${c.message}`).join('; ');
}

export function decideRemediation(node: RemediationSubject, conditions: readonly HealthCondition[], history: FaultHistory = { failures: [], resets: [] }): RemediationAction {
  const critical = conditions.filter((c) => c.severity === 'critical' && c.remediation !== 'none');
  if (critical.length === 0) return { action: 'none', reason: 'no critical condition with a remedy' };
  const [again] = recurringConditions(critical.filter((c) => c.remediation === 'reset-gpu' || c.remediation === 'reimage'), history);
  if (again) {
    const reason = `${describe([again.condition])}; came back after the node was ${again.after.kind} at ${again.after.at.toISOString()}: escalated to repair`;
    if (node.tenant !== null && (node.state === 'active' || node.state === 'provisioning' || node.state === 'allocated')) return { action: 'replace', reason };
    if (node.state === 'available' || node.state === 'inspecting' || node.state === 'accepting') return { action: 'repair', reason };
  }
  const strongest = critical.reduce<Remediation>((acc, c) => (remediations.indexOf(c.remediation) > remediations.indexOf(acc) ? c.remediation : acc), 'none');
  const deciding = critical.filter((c) => c.remediation === strongest);
  const reason = describe(deciding);
  if (strongest === 'replace' || strongest === 'reboot') {
    if (node.tenant !== null && (node.state === 'active' || node.state === 'provisioning' || node.state === 'allocated')) return { action: 'replace', reason };
    if (node.state === 'available' || node.state === 'inspecting' || node.state === 'accepting') return { action: 'repair', reason };
    return { action: 'none', reason: `hardware fault, but a ${node.state} node is not in service: ${reason}` };
  }
  // Software remedies disturb a running node: only for nodes in service.
  if (node.state !== 'active') return { action: 'none', reason: `software fault on a ${node.state} node; fixed by its next reimage: ${reason}` };
  if (strongest === 'reset-gpu') return { action: 'reset-gpu', gpuComponent: deciding[0]?.component ?? '', reason };
  return { action: 'reimage', reason };
}
