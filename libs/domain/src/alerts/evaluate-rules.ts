// Rule evaluation: given what the fleet looks like now (nodes and their
// cohorts, recent failures, XID reports, reimage phases, switch ports), which
// alerts should be active. Each active alert is identified by its labels and
// carries a summary a person can act on: which cohort, how many, which nodes,
// which conditions.
import type { Cohorts } from '../failures/cohorts.ts';
import { failureRates, type FailureEvent } from '../failures/failure-rate.ts';
import type { NodeState, Presence } from '../node.ts';
import type { AlertRule, AlertSeverity } from './alert-rules.ts';

export interface AlertNode {
  nodeId: string;
  hostname: string;
  cohorts: Cohorts;
  state: NodeState;
  presence: Presence;
  /** When it joined the fleet (its hours in a window start there). */
  since?: Date;
}

export interface AlertInputs {
  now: Date;
  /** Every node not retired. */
  nodes: readonly AlertNode[];
  /** Failures at least as far back as the longest rule window. */
  failures: readonly FailureEvent[];
  /** Health reports of new XID errors (a condition appearing or its count growing), newest windows' worth. */
  xidReports: ReadonlyArray<{ nodeId: string; at: Date; code: string }>;
  /** Nodes in flight in a reimage, with the phase they are in and since when. */
  inPhase: ReadonlyArray<{ nodeId: string; operationId: string; phase: string; since: Date }>;
  /** Managed switch ports that do not carry their planned VLAN now, and recent drift repairs. */
  fabric: {
    outOfPlan: ReadonlyArray<{ switchName: string; port: string; nodeId: string | null; reason: string }>;
    repairs: ReadonlyArray<{ at: Date; switchName: string; port: string }>;
    /** Claims on switch ports that another node holds (the claim changed nothing). */
    cablingConflicts: ReadonlyArray<{ switchName: string; port: string; nodeId: string; holderNodeId: string; message: string }>;
  };
  /** Open identity conflicts and re-enrolments waiting for an operator (none when left out). */
  identityConflicts?: ReadonlyArray<{ id: string; kind: string; nodeIds: readonly string[]; reason: string }>;
}

/** An alert that should be active now. Its labels identify it (same labels: the same alert). */
export interface AlertCandidate {
  rule: string;
  severity: AlertSeverity;
  labels: Record<string, string>;
  summary: string;
  /** Node ids concerned. */
  nodes: string[];
  /** Failure or condition codes seen, e.g. xid-79. */
  conditions: string[];
  /** The measured value the rule compared (a rate, a count, a duration in seconds). */
  value: number;
}

const inService = new Set<NodeState>(['allocated', 'provisioning', 'active']);
const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;
const listed = (items: readonly string[], most = 5) => (items.length <= most ? items.join(', ') : `${items.slice(0, most).join(', ')} and ${items.length - most} more`);
const distinct = (items: readonly string[]) => [...new Set(items)].sort();

/** 90_000 → "1m30s", 86_400_000 → "24h". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 3600 === 0 && seconds > 0) return `${seconds / 3600}h`;
  const parts = [[Math.floor(seconds / 3600), 'h'], [Math.floor((seconds % 3600) / 60), 'm'], [seconds % 60, 's']] as const;
  return parts.filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`).join('') || '0s';
}

export function evaluateRules(rules: readonly AlertRule[], inputs: AlertInputs): AlertCandidate[] {
  return rules.flatMap((rule) => evaluateRule(rule, inputs));
}

function evaluateRule(rule: AlertRule, inputs: AlertInputs): AlertCandidate[] {
  const now = inputs.now.getTime();
  const names = new Map(inputs.nodes.map((n) => [n.nodeId, n.hostname || n.nodeId]));
  const nameOf = (id: string) => names.get(id) ?? id;
  const tenantOf = (id: string) => inputs.nodes.find((n) => n.nodeId === id)?.cohorts.tenant;
  const base = { rule: rule.name, severity: rule.severity };
  const labels = (extra: Record<string, string>) => ({ alertname: rule.name, severity: rule.severity, ...extra });
  const nodeLabels = (nodeId: string): Record<string, string> => {
    const tenant = tenantOf(nodeId);
    return tenant && tenant !== 'none' ? { node: nodeId, tenant } : { node: nodeId };
  };
  const recent = (windowMs: number) => inputs.failures.filter((f) => f.at.getTime() > now - windowMs && f.at.getTime() <= now);

  switch (rule.kind) {
    case 'failure-rate':
    case 'cohort-outlier': {
      const window = recent(rule.windowMs);
      const rates = failureRates(window, inputs.nodes, { by: rule.by, windowMs: rule.windowMs, now: inputs.now });
      const [fleet] = failureRates(window, inputs.nodes, { by: 'fleet', windowMs: rule.windowMs, now: inputs.now });
      const fleetRate = fleet?.rate ?? 0;
      return rates.flatMap((r) => {
        if (r.nodes < rule.minNodes) return [];
        if (rule.kind === 'failure-rate' ? r.rate <= rule.threshold : r.failedNodes < rule.minFailedNodes || fleetRate === 0 || r.rate < rule.factor * fleetRate - 1e-9) return [];
        const failed = window.filter((f) => f.cohorts[rule.by] === r.cohort);
        const nodes = distinct(failed.map((f) => f.nodeId));
        const what = rule.by === 'fleet' ? 'the fleet' : `${rule.by} ${r.cohort}`;
        const tenant = (rule.by === 'tenant' || rule.by === 'pool') && r.cohort !== 'none' && r.cohort !== 'spares' ? { tenant: r.cohort } : {} as Record<string, string>;
        const summary = rule.kind === 'failure-rate'
          ? `${what}: ${r.failedNodes} of ${r.nodes} nodes failed in ${formatDuration(rule.windowMs)} (${percent(r.rate)}, more than ${percent(rule.threshold)})`
          : `${what} fails at ${(r.rate / fleetRate).toFixed(1)}× the fleet's rate: ${r.failedNodes} of ${r.nodes} nodes (${percent(r.rate)}) against ${percent(fleetRate)} fleet-wide in ${formatDuration(rule.windowMs)}`;
        return [{
          ...base, labels: labels({ by: rule.by, cohort: r.cohort, ...tenant }), value: r.rate, nodes, conditions: distinct(failed.map((f) => f.code)),
          summary: `${summary}; nodes ${listed(distinct(nodes.map(nameOf)))}; ${listed(distinct(failed.map((f) => f.code)))}`,
        }];
      });
    }
    case 'failure-burst': {
      const window = recent(rule.windowMs);
      if (window.length < rule.minFailures) return [];
      const nodes = distinct(window.map((f) => f.nodeId));
      return [{
        ...base, labels: labels({}), value: window.length, nodes, conditions: distinct(window.map((f) => f.code)),
        summary: `${window.length} failures on ${nodes.length} nodes in ${formatDuration(rule.windowMs)}: ${listed(distinct(window.map((f) => f.code)))}; nodes ${listed(distinct(nodes.map(nameOf)))}`,
      }];
    }
    case 'xid-storm': {
      const byNode = new Map<string, string[]>();
      for (const report of inputs.xidReports) {
        if (report.at.getTime() <= now - rule.windowMs || report.at.getTime() > now) continue;
        byNode.set(report.nodeId, [...(byNode.get(report.nodeId) ?? []), report.code]);
      }
      return [...byNode].filter(([, codes]) => codes.length >= rule.minReports).map(([nodeId, codes]) => ({
        ...base, labels: labels(nodeLabels(nodeId)), value: codes.length, nodes: [nodeId], conditions: distinct(codes),
        summary: `node ${nameOf(nodeId)}: ${codes.length} XID reports in ${formatDuration(rule.windowMs)} (${listed(distinct(codes))})`,
      }));
    }
    case 'stuck-phase':
      return inputs.inPhase.filter((p) => now - p.since.getTime() > rule.maxMs).map((p) => ({
        ...base, labels: labels(nodeLabels(p.nodeId)), value: Math.round((now - p.since.getTime()) / 1000), nodes: [p.nodeId], conditions: [],
        summary: `node ${nameOf(p.nodeId)} has been in phase ${p.phase} for ${formatDuration(now - p.since.getTime())} (more than ${formatDuration(rule.maxMs)}), operation ${p.operationId}`,
      }));
    case 'switch-drift': {
      const repairs = inputs.fabric.repairs.filter((r) => r.at.getTime() > now - rule.windowMs && r.at.getTime() <= now);
      const out = inputs.fabric.outOfPlan;
      if (out.length === 0 && repairs.length < rule.minRepairs) return [];
      const parts = [
        ...(out.length > 0 ? [`${out.length} switch ports out of plan: ${listed(out.map((p) => `${p.switchName}/${p.port} (${p.reason})`))}`] : []),
        ...(repairs.length >= rule.minRepairs ? [`${repairs.length} ports changed behind the manager's back and put back in ${formatDuration(rule.windowMs)}: ${listed(distinct(repairs.map((r) => `${r.switchName}/${r.port}`)))}`] : []),
      ];
      return [{
        ...base, labels: labels({}), value: out.length + repairs.length, nodes: distinct(out.flatMap((p) => (p.nodeId ? [p.nodeId] : []))), conditions: [],
        summary: parts.join('; '),
      }];
    }
    case 'cabling-conflict':
      // No tenant label: the summary names the port's holder, which the claimant's tenant must not learn.
      return inputs.fabric.cablingConflicts.map((c) => ({
        ...base, labels: labels({ switch: c.switchName, port: c.port, node: c.nodeId }), value: 1, nodes: distinct([c.nodeId, c.holderNodeId]), conditions: [],
        summary: c.message,
      }));
    case 'nodes-offline': {
      const offline = inputs.nodes.filter((n) => inService.has(n.state) && n.presence === 'offline').map((n) => n.nodeId).sort();
      if (offline.length < rule.minNodes) return [];
      return [{
        ...base, labels: labels({}), value: offline.length, nodes: offline, conditions: [],
        summary: `${offline.length} nodes in service offline: ${listed(distinct(offline.map(nameOf)))}`,
      }];
    }
    case 'identity-conflicts': {
      // Shared credentials apart: a tenant can make one on its own node at will (agent-sessions.ts), and it must
      // not hold the registration conflicts' alert firing, where a new rogue machine would then notify no one.
      const all = inputs.identityConflicts ?? [];
      const open = all.filter((c) => c.kind !== 'shared-credential');
      const shared = all.filter((c) => c.kind === 'shared-credential');
      const waiting = open.filter((c) => c.kind === 're-enrolment').length;
      return [
        ...(open.length === 0 ? [] : [{
          ...base, labels: labels({}), value: open.length, nodes: distinct(open.flatMap((c) => c.nodeIds)), conditions: [],
          summary: `${open.length} identity conflicts wait for an operator (${waiting} re-enrolments): ${listed(open.map((c) => `#${c.id} ${c.reason}`), 3)}; see metalfleet conflicts ls`,
        }]),
        ...(shared.length === 0 ? [] : [{
          ...base, labels: labels({ kind: 'shared-credential' }), value: shared.length, nodes: distinct(shared.flatMap((c) => c.nodeIds)), conditions: [],
          summary: `${shared.length} nodes' credentials are held by two agents at once: ${listed(shared.map((c) => `#${c.id} node ${c.nodeIds.join(', ')}`), 3)}; stop the second agent, then metalfleet conflicts reject <id>`,
        }]),
      ];
    }
  }
}
