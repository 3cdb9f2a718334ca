// Rows as both SQL stores return them, and their mapping to domain types.
import {
  DomainError, nodeStates, overallHealth, remediations, severities, type BootstrapTokenRecord, type HealthCondition, type Inventory,
  type NodeHealthSummary, type NodeIdentity, type NodeState, type NodeSummary, type Presence, type Remediation, type Severity,
} from '@metalfleet/domain';
import type { HealthEventRecord, NodeCounts, TransitionRecord } from './fleet-store.ts';

export interface NodeRow {
  id: string;
  hostname: string;
  system_uuid: string;
  system_serial: string;
  chassis_serial: string;
  board_serial: string;
  bmc_address: string;
  state: string;
  presence: string;
  presence_changed_at: number | null;
  last_seen_at: number | null;
  registered_at: number;
  agent_version: string;
  macs: string | null;
  tenant: string | null;
  rack: string;
  gpu_model: string;
  gpu_count: number;
}

/** Node columns; the MAC list is aggregated with the dialect's own function. */
export function nodeColumns(aggregateMacs: string): string {
  return `n.id, n.hostname, n.system_uuid, n.system_serial, n.chassis_serial, n.board_serial, n.bmc_address,
  n.state, n.presence, n.presence_changed_at, n.last_seen_at, n.registered_at, n.agent_version,
  n.tenant, n.rack, n.gpu_model, n.gpu_count, ${aggregateMacs} AS macs`;
}

export function fromMillis(value: number | null): Date | null {
  return value === null ? null : new Date(value);
}

export function parseInventory(json: string): Inventory {
  const inventory = JSON.parse(json) as Omit<Inventory, 'collectedAt'> & { collectedAt: string | null };
  return { ...inventory, collectedAt: inventory.collectedAt ? new Date(inventory.collectedAt) : null };
}

/**
 * A stored value no version of the code writes (a hand edit, a newer manager's
 * data read by an older one). It is refused rather than read as a default: a
 * failed node read as `discovered` would be handed out again.
 */
export class UnknownStoredValueError extends DomainError {
  constructor(column: string, value: string) {
    super('internal', `${column} holds '${value}', which is not a value this manager knows`, { column, value });
    this.name = 'UnknownStoredValueError';
  }
}

const presences: readonly Presence[] = ['online', 'offline', 'unknown'];

function oneOf<T extends string>(known: readonly T[], column: string, value: string): T {
  if ((known as readonly string[]).includes(value)) return value as T;
  throw new UnknownStoredValueError(column, value);
}

export function asState(value: string, column = 'nodes.state'): NodeState {
  return oneOf(nodeStates, column, value);
}

export function asPresence(value: string): Presence {
  return oneOf(presences, 'nodes.presence', value);
}

export function rowIdentity(row: NodeRow): NodeIdentity {
  return {
    systemUuid: row.system_uuid,
    systemSerial: row.system_serial,
    chassisSerial: row.chassis_serial,
    boardSerial: row.board_serial,
    macs: row.macs ? row.macs.split(',') : [],
    bmcAddress: row.bmc_address,
  };
}

export interface TokenRow { id: string; purpose: string; node_id: string | null; command_id: string | null; mac: string | null; issued_to: string | null; description: string; secret_hash: string; created_at: number; expires_at: number; revoked_at: number | null; max_uses: number | null; uses: number }

export function rowToken(r: TokenRow): BootstrapTokenRecord {
  return {
    id: r.id, purpose: r.purpose as BootstrapTokenRecord['purpose'], nodeId: r.node_id, commandId: r.command_id, mac: r.mac, issuedTo: r.issued_to ?? null,
    description: r.description, secretHash: r.secret_hash, createdAt: new Date(Number(r.created_at)), expiresAt: new Date(Number(r.expires_at)),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at), maxUses: r.max_uses, uses: r.uses,
  };
}

export interface ConditionRow { node_id: string; component: string; code: string; severity: string; remediation: string; message: string; since: number }

export function rowCondition(row: ConditionRow): HealthCondition {
  return {
    component: row.component, code: row.code, message: row.message, since: new Date(row.since),
    severity: (severities as readonly string[]).includes(row.severity) ? (row.severity as Severity) : 'warning',
    remediation: (remediations as readonly string[]).includes(row.remediation) ? (row.remediation as Remediation) : 'none',
  };
}

export function healthSummary(conditions: readonly HealthCondition[]): NodeHealthSummary {
  return { ...overallHealth(conditions), conditionCount: conditions.length };
}

export function rowSummary(row: NodeRow, conditions: readonly HealthCondition[] = []): NodeSummary {
  return {
    id: row.id,
    hostname: row.hostname,
    identity: rowIdentity(row),
    state: asState(row.state),
    presence: asPresence(row.presence),
    presenceChangedAt: fromMillis(row.presence_changed_at),
    lastSeenAt: fromMillis(row.last_seen_at),
    registeredAt: new Date(row.registered_at),
    agentVersion: row.agent_version,
    health: healthSummary(conditions),
    tenant: row.tenant,
    rack: row.rack,
    gpuModel: row.gpu_model,
    gpuCount: row.gpu_count,
  };
}


export interface TransitionRow { from_state: string; to_state: string; event: string; actor: string; reason: string; at: number }

export function rowTransition(r: TransitionRow): TransitionRecord {
  return { from: asState(r.from_state, 'node_transitions.from_state'), to: asState(r.to_state, 'node_transitions.to_state'), event: r.event as TransitionRecord['event'], actor: r.actor, reason: r.reason, at: new Date(r.at) };
}

export interface HealthEventRow { event_id: string; sequence: number; at: number; received_at: number; changes_json: string }

export function rowHealthEvent(r: HealthEventRow): HealthEventRecord {
  return {
    eventId: r.event_id, sequence: r.sequence, at: new Date(r.at), receivedAt: new Date(r.received_at),
    changes: (JSON.parse(r.changes_json) as Array<{ kind: HealthEventRecord['changes'][number]['kind']; condition: HealthCondition & { since: string }; evidence?: string[] }>)
      .map((c) => ({ kind: c.kind, condition: { ...c.condition, since: new Date(c.condition.since) }, ...(c.evidence ? { evidence: c.evidence } : {}) })),
  };
}

/** Conditions of many nodes, grouped by node id. */
export function groupConditions(rows: readonly ConditionRow[]): Map<string, HealthCondition[]> {
  const byNode = new Map<string, HealthCondition[]>();
  for (const row of rows) {
    const list = byNode.get(row.node_id) ?? [];
    list.push(rowCondition(row));
    byNode.set(row.node_id, list);
  }
  return byNode;
}

/** Node counts for /metrics, without loading nodes: by (state, presence), and by worst condition. */
export function countsFrom(
  byState: ReadonlyArray<{ state: string; presence: string; n: number }>, worst: ReadonlyArray<{ w: number; n: number }>, total: number,
  conditions: ReadonlyArray<{ severity: string; n: number }>,
): NodeCounts {
  const conditionsBySeverity = { ok: 0, warning: 0, critical: 0 };
  for (const c of conditions) if (c.severity === 'ok' || c.severity === 'warning' || c.severity === 'critical') conditionsBySeverity[c.severity] += c.n;
  const bySeverity = { ok: 0, warning: 0, critical: 0 };
  let withConditions = 0;
  for (const r of worst) {
    withConditions += r.n;
    bySeverity[r.w === 2 ? 'critical' : r.w === 1 ? 'warning' : 'ok'] += r.n;
  }
  bySeverity.ok += total - withConditions;
  return { byStateAndPresence: byState.map((r) => ({ state: asState(r.state), presence: asPresence(r.presence), count: r.n })), bySeverity, conditionsBySeverity };
}
