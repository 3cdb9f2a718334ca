// NetworkStore on SQLite: spread into the SQLite FleetStore.
import type { DatabaseSync } from 'node:sqlite';
import { DomainError, type Inventory } from '@metalfleet/domain';
import { lldpRows, rowTenant, splitLinks, tenantConflict, type LinkRow, type TenantRow } from './network-rows.ts';
import type { NetworkStore } from './network-store.ts';

/** Replaces what LLDP says about a node's cabling; called with every inventory write. */
export function writeLearnedLinksSqlite(db: DatabaseSync, nodeId: string, inventory: Inventory): void {
  db.prepare("DELETE FROM port_links WHERE node_id = ? AND source = 'lldp'").run(nodeId);
  const upsert = db.prepare(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES (?, ?, 'lldp', ?, ?)
    ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`);
  for (const row of lldpRows(nodeId, inventory)) upsert.run(row.switch_name, row.port, row.node_id, row.mac);
}

export function sqliteNetworkStore(db: DatabaseSync): NetworkStore {
  return {
    async createTenant(tenant) {
      try {
        db.prepare('INSERT INTO tenants (id, name, vlan, vni, created_at) VALUES (?, ?, ?, ?, ?)').run(tenant.id, tenant.name, tenant.vlan, tenant.vni, tenant.createdAt.getTime());
      } catch (error) {
        if (error instanceof Error && /UNIQUE constraint failed/.test(error.message)) throw tenantConflict(tenant);
        throw error;
      }
    },

    async listTenants() {
      return (db.prepare('SELECT * FROM tenants ORDER BY created_at, id').all() as unknown as TenantRow[]).map(rowTenant);
    },

    async getTenant(id) {
      const row = db.prepare('SELECT * FROM tenants WHERE id = ?').get(id) as unknown as TenantRow | undefined;
      return row ? rowTenant(row) : null;
    },

    async deleteTenant(id) {
      const { n } = db.prepare('SELECT count(*) AS n FROM nodes WHERE tenant = ?').get(id) as { n: number };
      if (n > 0) throw new DomainError('conflict', `tenant ${id} still has ${n} node(s); release them first`);
      return db.prepare('DELETE FROM tenants WHERE id = ?').run(id).changes > 0;
    },

    async setNodeTenant(nodeId, tenantId) {
      return db.prepare('UPDATE nodes SET tenant = ? WHERE id = ?').run(tenantId, nodeId).changes > 0;
    },

    async setPlannedLink(switchName, port, link) {
      if (!link) {
        db.prepare("DELETE FROM port_links WHERE switch_name = ? AND port = ? AND source = 'manual'").run(switchName, port);
        return;
      }
      db.prepare(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES (?, ?, 'manual', ?, ?)
        ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`).run(switchName, port, link.nodeId, link.mac.toLowerCase());
    },

    async portLinks() {
      return splitLinks(db.prepare('SELECT * FROM port_links ORDER BY switch_name, port, source').all() as unknown as LinkRow[]);
    },
  };
}
