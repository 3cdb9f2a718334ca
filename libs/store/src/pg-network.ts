// NetworkStore on PostgreSQL: spread into the PostgreSQL FleetStore.
import type pg from 'pg';
import { DomainError, type Inventory } from '@metalfleet/domain';
import { lldpRows, rowTenant, splitLinks, tenantConflict, type LinkRow, type TenantRow } from './network-rows.ts';
import type { NetworkStore } from './network-store.ts';

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

const uniqueViolation = '23505';

/** Replaces what LLDP says about a node's cabling; called with every inventory write. */
export async function writeLearnedLinksPg(q: Query, nodeId: string, inventory: Inventory): Promise<void> {
  await q("DELETE FROM port_links WHERE node_id = $1 AND source = 'lldp'", [nodeId]);
  for (const row of lldpRows(nodeId, inventory)) {
    await q(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES ($1, $2, 'lldp', $3, $4)
      ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`, [row.switch_name, row.port, row.node_id, row.mac]);
  }
}

export function pgNetworkStore(query: Query): NetworkStore {
  return {
    async createTenant(tenant) {
      try {
        await query('INSERT INTO tenants (id, name, vlan, vni, created_at) VALUES ($1, $2, $3, $4, $5)', [tenant.id, tenant.name, tenant.vlan, tenant.vni, tenant.createdAt.getTime()]);
      } catch (error) {
        if ((error as { code?: string }).code === uniqueViolation) throw tenantConflict(tenant);
        throw error;
      }
    },

    async listTenants() {
      return ((await query('SELECT * FROM tenants ORDER BY created_at, id')).rows as TenantRow[]).map(rowTenant);
    },

    async getTenant(id) {
      const row = (await query('SELECT * FROM tenants WHERE id = $1', [id])).rows[0] as TenantRow | undefined;
      return row ? rowTenant(row) : null;
    },

    async deleteTenant(id) {
      const n = Number(((await query('SELECT count(*) AS n FROM nodes WHERE tenant = $1', [id])).rows[0] as { n: string }).n);
      if (n > 0) throw new DomainError('conflict', `tenant ${id} still has ${n} node(s); release them first`);
      return ((await query('DELETE FROM tenants WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },

    async setNodeTenant(nodeId, tenantId) {
      return ((await query('UPDATE nodes SET tenant = $1 WHERE id = $2', [tenantId, nodeId])).rowCount ?? 0) > 0;
    },

    async setPlannedLink(switchName, port, link) {
      if (!link) {
        await query("DELETE FROM port_links WHERE switch_name = $1 AND port = $2 AND source = 'manual'", [switchName, port]);
        return;
      }
      await query(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES ($1, $2, 'manual', $3, $4)
        ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`, [switchName, port, link.nodeId, link.mac.toLowerCase()]);
    },

    async portLinks() {
      return splitLinks((await query('SELECT * FROM port_links ORDER BY switch_name, port, source')).rows as LinkRow[]);
    },
  };
}
