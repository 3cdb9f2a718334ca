// Domain nodes to the API's JSON shapes (dates as ISO strings).
import { actionsFor, overallHealth, type HealthCondition, type NodeSummary as DomainNode } from '@metalfleet/domain';
import type { HealthEventRecord, NodeRecord, TransitionRecord } from '@metalfleet/store';
import type { NodeDetail, NodeHealth, NodeSummary } from '@metalfleet/api';

const iso = (date: Date | null) => (date ? date.toISOString() : null);
const conditionToApi = (c: HealthCondition) => ({ ...c, since: c.since.toISOString() });

export function nodeSummaryToApi(node: DomainNode): NodeSummary {
  return {
    id: node.id,
    hostname: node.hostname,
    state: node.state,
    presence: node.presence,
    presenceChangedAt: iso(node.presenceChangedAt),
    lastSeenAt: iso(node.lastSeenAt),
    registeredAt: node.registeredAt.toISOString(),
    agentVersion: node.agentVersion,
    identity: { ...node.identity, macs: [...node.identity.macs] },
    health: { ...node.health },
    tenant: node.tenant,
    rack: node.rack,
    gpuModel: node.gpuModel,
    gpuCount: node.gpuCount,
  };
}


export function nodeHealthToApi(conditions: readonly HealthCondition[], events: readonly HealthEventRecord[]): NodeHealth {
  return {
    overall: overallHealth(conditions),
    conditions: conditions.map(conditionToApi),
    events: events.map((e) => ({
      eventId: e.eventId, sequence: e.sequence, at: e.at.toISOString(), receivedAt: e.receivedAt.toISOString(),
      changes: e.changes.map((c) => ({ kind: c.kind, condition: conditionToApi(c.condition), ...(c.evidence ? { evidence: c.evidence } : {}) })),
    })),
  };
}

export function nodeDetailToApi(node: NodeRecord, conditions: readonly HealthCondition[], history: readonly TransitionRecord[]): NodeDetail {
  return {
    ...nodeSummaryToApi(node),
    inventory: { ...node.inventory, collectedAt: iso(node.inventory.collectedAt) },
    conditions: conditions.map(conditionToApi),
    history: history.map((t) => ({ ...t, at: t.at.toISOString() })),
    actions: actionsFor(node) satisfies NodeDetail['actions'],
  };
}
