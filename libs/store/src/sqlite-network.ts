// NetworkStore on SQLite: spread into the SQLite FleetStore.
import type { SqliteHandle } from './sqlite-statements.ts';
import { DomainError, trustedSource } from '@metalfleet/domain';
import { portsReplacedByReport, rowLearnedLink, rowPlannedLink, rowTenant, tenantConflict, type LearnedLinkRow, type LinkRow, type TenantRow } from './network-rows.ts';
import type { NetworkStore } from './network-store.ts';
import type { JournalTransaction } from './sqlite-journal.ts';

export function sqliteNetworkStore(db: SqliteHandle, inTransaction: <T>(db: SqliteHandle, work: () => T) => T, journaled: JournalTransaction): NetworkStore {
  return {
    async createTenant(tenant, events = []) {
      try {
        journaled(events, () => {
          db.prepare('INSERT INTO tenants (id, name, vlan, vni, created_at) VALUES (?, ?, ?, ?, ?)').run(tenant.id, tenant.name, tenant.vlan, tenant.vni, tenant.createdAt.getTime());
          return true;
        });
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

    async deleteTenant(id, events = []) {
      const { n } = db.prepare('SELECT count(*) AS n FROM nodes WHERE tenant = ?').get(id) as { n: number };
      if (n > 0) throw new DomainError('conflict', `tenant ${id} still has ${n} node(s); release them first`);
      return journaled(events, () => db.prepare('DELETE FROM tenants WHERE id = ?').run(id).changes > 0);
    },

    async setNodeTenant(nodeId, tenantId, events = []) {
      return journaled(events, () => db.prepare('UPDATE nodes SET tenant = ? WHERE id = ?').run(tenantId, nodeId).changes > 0);
    },

    async giveNodeToTenant(nodeId, tenantId) {
      return db.prepare('UPDATE nodes SET tenant = ? WHERE id = ? AND tenant IS NULL').run(tenantId, nodeId).changes > 0;
    },

    async takeNodeFromTenant(nodeId, tenantId, events = []) {
      return journaled(events, () => db.prepare('UPDATE nodes SET tenant = NULL WHERE id = ? AND tenant = ?').run(nodeId, tenantId).changes > 0);
    },

    async setPlannedLink(switchName, port, link) {
      if (!link) {
        db.prepare("DELETE FROM port_links WHERE switch_name = ? AND port = ? AND source = 'manual'").run(switchName, port);
        return;
      }
      db.prepare(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES (?, ?, 'manual', ?, ?)
        ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`).run(switchName, port, link.nodeId, link.mac.toLowerCase());
    },

    async recordLearnedLinks(nodeId, source, links, at) {
      inTransaction(db, () => {
        const existing = db.prepare('SELECT switch_name, port FROM learned_links WHERE node_id = ? AND source = ?').all(nodeId, source) as unknown as LearnedLinkRow[];
        const remove = db.prepare('DELETE FROM learned_links WHERE node_id = ? AND source = ? AND switch_name = ? AND port = ?');
        for (const gone of portsReplacedByReport(source, existing, links)) remove.run(nodeId, source, gone.switch_name, gone.port);
        const upsert = db.prepare(`INSERT INTO learned_links (switch_name, port, node_id, source, mac, trusted, since) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (node_id, source, switch_name, port) DO UPDATE SET mac = excluded.mac, trusted = excluded.trusted`);
        for (const l of links) upsert.run(l.switchName, l.port, nodeId, source, l.mac.toLowerCase(), trustedSource(source) ? 1 : 0, at.getTime());
      });
    },

    async forgetPort(switchName, port) {
      inTransaction(db, () => {
        db.prepare("DELETE FROM port_links WHERE switch_name = ? AND port = ? AND source = 'manual'").run(switchName, port);
        db.prepare('DELETE FROM learned_links WHERE switch_name = ? AND port = ?').run(switchName, port);
      });
    },

    async portLinks() {
      const planned = db.prepare("SELECT * FROM port_links WHERE source = 'manual' ORDER BY switch_name, port").all() as unknown as LinkRow[];
      const learned = db.prepare('SELECT * FROM learned_links ORDER BY switch_name, port, since, node_id, source').all() as unknown as LearnedLinkRow[];
      return { planned: planned.map(rowPlannedLink), learned: learned.map(rowLearnedLink) };
    },
  };
}
