// Domain nodes to the API's JSON shapes (dates as ISO strings).
import type { NodeSummary as DomainNode } from '@metalfleet/domain';
import type { NodeRecord } from '@metalfleet/store';
import type { NodeDetail, NodeSummary } from '@metalfleet/api';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

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
  };
}

export function nodeDetailToApi(node: NodeRecord): NodeDetail {
  return { ...nodeSummaryToApi(node), inventory: { ...node.inventory, collectedAt: iso(node.inventory.collectedAt) } };
}
