// Server-side filtering, search and paging of the node list (the dashboard's
// table stays fast at 10,000 nodes because only one page leaves the manager).
import type { Presence, NodeState, NodeSummary } from './node.ts';
import type { Severity } from './health/health-condition.ts';
import type { Inventory } from './inventory.ts';

export interface NodeFilter {
  state?: NodeState | undefined;
  presence?: Presence | undefined;
  tenant?: string | undefined;
  rack?: string | undefined;
  gpuModel?: string | undefined;
  /** Nodes whose worst condition is exactly this severity. */
  health?: Severity | undefined;
  /** Case-insensitive substring of id, host name, serials, UUID, MACs, rack, tenant (its id or name) or GPU model. */
  q?: string | undefined;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

function haystack(n: NodeSummary, tenantNames: ReadonlyMap<string, string>): string {
  const i = n.identity;
  const tenant = n.tenant === null ? '' : `${n.tenant} ${tenantNames.get(n.tenant) ?? ''}`;
  return [n.id, n.hostname, i.systemUuid, i.systemSerial, i.chassisSerial, i.boardSerial, ...i.macs, n.rack, tenant, n.gpuModel].join(' ').toLowerCase();
}

/** `tenantNames`: tenant id → name, so that a search finds a tenant's nodes by its name. */
export function queryNodes(nodes: readonly NodeSummary[], filter: NodeFilter, offset: number, limit: number, tenantNames: ReadonlyMap<string, string> = new Map()): Page<NodeSummary> {
  const q = filter.q?.trim().toLowerCase() ?? '';
  const matching = nodes.filter((n) =>
    (filter.state === undefined || n.state === filter.state)
    && (filter.presence === undefined || n.presence === filter.presence)
    && (filter.tenant === undefined || n.tenant === filter.tenant)
    && (filter.rack === undefined || n.rack === filter.rack)
    && (filter.gpuModel === undefined || n.gpuModel === filter.gpuModel)
    && (filter.health === undefined || n.health.severity === filter.health)
    && (q === '' || haystack(n, tenantNames).includes(q)));
  return { items: matching.slice(offset, offset + limit), total: matching.length, offset, limit };
}

/** What the node list shows of a node's inventory, kept with the node so listing needs no inventory. */
export function inventoryFacts(inventory: Inventory): { gpuModel: string; gpuCount: number; rack: string } {
  const model = inventory.gpus[0]?.model ?? '';
  // The top-of-rack switch the node is cabled to names its rack (LLDP), unless an operator sets one.
  const rack = inventory.nics.find((n) => n.neighbor?.switchName)?.neighbor?.switchName ?? '';
  return { gpuModel: model, gpuCount: inventory.gpus.length, rack };
}

export interface FleetSummary {
  total: number;
  byState: Record<NodeState, number>;
  byPresence: Record<Presence, number>;
  /** Nodes by their worst condition. */
  byHealth: Record<Severity, number>;
}

/** Counts for the dashboard's overview: every state, presence and severity, zeros included. */
export function summarizeNodes(nodes: readonly NodeSummary[], states: readonly NodeState[]): FleetSummary {
  const byState = Object.fromEntries(states.map((s) => [s, 0])) as Record<NodeState, number>;
  const byPresence: Record<Presence, number> = { online: 0, offline: 0, unknown: 0 };
  const byHealth: Record<Severity, number> = { ok: 0, warning: 0, critical: 0 };
  for (const n of nodes) {
    byState[n.state] += 1;
    byPresence[n.presence] += 1;
    byHealth[n.health.severity] += 1;
  }
  return { total: nodes.length, byState, byPresence, byHealth };
}
