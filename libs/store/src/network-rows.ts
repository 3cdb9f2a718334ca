// Row shapes of the tenant and cabling tables, shared by both dialects.
import { DomainError, learnedLinks, type Inventory, type LearnedLink, type PlannedLink } from '@metalfleet/domain';
import type { TenantRecord } from './network-store.ts';

export interface TenantRow { id: string; name: string; vlan: number; vni: number; created_at: number }
export interface LinkRow { switch_name: string; port: string; source: 'manual' | 'lldp'; node_id: string; mac: string }

export function rowTenant(row: TenantRow): TenantRecord {
  return { id: row.id, name: row.name, vlan: Number(row.vlan), vni: Number(row.vni), createdAt: new Date(Number(row.created_at)) };
}

export function splitLinks(rows: readonly LinkRow[]): { planned: PlannedLink[]; learned: LearnedLink[] } {
  const planned: PlannedLink[] = [];
  const learned: LearnedLink[] = [];
  for (const r of rows) {
    const link = { switchName: r.switch_name, port: r.port, nodeId: r.node_id, mac: r.mac };
    if (r.source === 'manual') planned.push(link);
    else learned.push({ ...link, source: 'lldp' });
  }
  return { planned, learned };
}

/** The LLDP links to store for a node's inventory (one NIC per port: the first heard wins). */
export function lldpRows(nodeId: string, inventory: Inventory): LinkRow[] {
  const seen = new Set<string>();
  return learnedLinks(nodeId, inventory.nics).flatMap((l) => {
    const key = `${l.switchName}\u0000${l.port}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ switch_name: l.switchName, port: l.port, source: 'lldp' as const, node_id: nodeId, mac: l.mac }];
  });
}

export function tenantConflict(tenant: TenantRecord): DomainError {
  return new DomainError('conflict', `a tenant named ${tenant.name}, or with VLAN ${tenant.vlan} or VNI ${tenant.vni}, already exists`);
}
