// Row shapes of the tenant and cabling tables, shared by both dialects.
import { DomainError, claimsReplacedByReport, type LearnedLink, type LinkSource, type PlannedLink } from '@metalfleet/domain';
import type { TenantRecord } from './network-store.ts';

export interface TenantRow { id: string; name: string; vlan: number; vni: number; created_at: number }
export interface LinkRow { switch_name: string; port: string; source: 'manual'; node_id: string; mac: string }
export interface LearnedLinkRow { switch_name: string; port: string; node_id: string; source: LinkSource; mac: string; trusted: number | boolean; since: number | string }

export function rowTenant(row: TenantRow): TenantRecord {
  return { id: row.id, name: row.name, vlan: Number(row.vlan), vni: Number(row.vni), createdAt: new Date(Number(row.created_at)) };
}

export function rowPlannedLink(r: LinkRow): PlannedLink {
  return { switchName: r.switch_name, port: r.port, nodeId: r.node_id, mac: r.mac };
}

export function rowLearnedLink(r: LearnedLinkRow): LearnedLink {
  return { switchName: r.switch_name, port: r.port, nodeId: r.node_id, mac: r.mac, source: r.source, trusted: Boolean(r.trusted), since: new Date(Number(r.since)) };
}

/** The rows of `existing` (one node, one source) that this report replaces: the domain decides (never a trusted claim). */
export function portsReplacedByReport(source: LinkSource, existing: ReadonlyArray<{ switch_name: string; port: string }>, links: readonly PlannedLink[]): Array<{ switch_name: string; port: string }> {
  return claimsReplacedByReport(source, existing.map((r) => ({ ...r, switchName: r.switch_name })), links).map(({ switch_name, port }) => ({ switch_name, port }));
}

export function tenantConflict(tenant: TenantRecord): DomainError {
  return new DomainError('conflict', `a tenant named ${tenant.name}, or with VLAN ${tenant.vlan} or VNI ${tenant.vni}, already exists`);
}
