// Tenants and the cabling map: the part of the repository API the fabric
// reconciler and the tenant API use. Part of FleetStore; its SQL lives in
// sqlite-network.ts and pg-network.ts.
import type { LearnedLink, LinkSource, PlannedLink, TenantNetwork } from '@metalfleet/domain';
import type { JournalEntry } from './event-journal-store.ts';

export interface TenantRecord extends TenantNetwork {
  createdAt: Date;
}

export interface NetworkStore {
  /**
   * Fails with `conflict` when the name, VLAN or VNI is taken (the database's unique keys are the last word).
   * `events` (here and below) go into the event journal in the change's own transaction, only if the change is made.
   */
  createTenant(tenant: TenantRecord, events?: readonly JournalEntry[]): Promise<void>;
  /** Oldest first. */
  listTenants(): Promise<TenantRecord[]>;
  getTenant(id: string): Promise<TenantRecord | null>;
  /** Returns false for an unknown tenant; fails with `conflict` while nodes still belong to it. */
  deleteTenant(id: string, events?: readonly JournalEntry[]): Promise<boolean>;
  /** Returns false for an unknown node. */
  setNodeTenant(nodeId: string, tenantId: string | null, events?: readonly JournalEntry[]): Promise<boolean>;
  /** Gives the node to `tenantId` only if it belongs to no tenant: false when another writer gave it first (or no such node). */
  giveNodeToTenant(nodeId: string, tenantId: string): Promise<boolean>;
  /** Takes the node out of `tenantId` if it is still there: false when another writer took it first (or it was never there). */
  takeNodeFromTenant(nodeId: string, tenantId: string, events?: readonly JournalEntry[]): Promise<boolean>;
  /** Sets (or with `null` node, removes) the planned link of one switch port. */
  setPlannedLink(switchName: string, port: string, link: { nodeId: string; mac: string } | null): Promise<void>;
  /**
   * Replaces what one source says about one node's cabling with `links`,
   * trusted or not as the domain's trustedSource says. A link still reported
   * keeps its `since` (the earliest trusted claim keeps a port); one no longer
   * reported goes only if the source is untrusted (the domain's
   * claimsReplacedByReport): a trusted claim stays until an operator removes
   * it (forgetPort) or the node is deleted. Claims of other nodes on the same
   * ports are kept: several nodes may claim one port, and the domain decides.
   */
  recordLearnedLinks(nodeId: string, source: LinkSource, links: readonly PlannedLink[], at: Date): Promise<void>;
  /** An operator's removal of what maps one port: its planned link and every learned claim on it. */
  forgetPort(switchName: string, port: string): Promise<void>;
  portLinks(): Promise<{ planned: PlannedLink[]; learned: LearnedLink[] }>;
}
