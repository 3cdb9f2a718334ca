// The node as the manager knows it.
import type { Remediation, Severity } from './health/health-condition.ts';
import type { NodeIdentity } from './node-identity.ts';

/** Lifecycle states (ARCHITECTURE.md). Presence is kept apart from them. */
export const nodeStates = [
  'discovered', 'inspecting', 'accepting', 'available', 'allocated', 'provisioning',
  'active', 'releasing', 'failed', 'repair', 'retired',
] as const;
export type NodeState = (typeof nodeStates)[number];

export type Presence = 'online' | 'offline' | 'unknown';

export interface NodeSummary {
  id: string;
  hostname: string;
  identity: NodeIdentity;
  state: NodeState;
  presence: Presence;
  presenceChangedAt: Date | null;
  lastSeenAt: Date | null;
  registeredAt: Date;
  agentVersion: string;
  health: NodeHealthSummary;
  /** Tenant the node is allocated to; null while it belongs to the fleet. */
  tenant: string | null;
  rack: string;
  gpuModel: string;
  gpuCount: number;
}

export interface NodeHealthSummary {
  severity: Severity;
  remediation: Remediation;
  conditionCount: number;
}
