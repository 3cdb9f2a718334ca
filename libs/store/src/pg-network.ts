// NetworkStore on PostgreSQL: spread into the PostgreSQL FleetStore.
import type pg from 'pg';
import { DomainError, trustedSource } from '@metalfleet/domain';
import { portsReplacedByReport, rowLearnedLink, rowPlannedLink, rowTenant, tenantConflict, type LearnedLinkRow, type LinkRow, type TenantRow } from './network-rows.ts';
import type { NetworkStore } from './network-store.ts';
import type { JournalEntry } from './event-journal-store.ts';

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;
/** Appends events to the journal inside the transaction `q` runs in. */
type AppendJournal = (q: Query, entries: readonly JournalEntry[]) => Promise<void>;

const uniqueViolation = '23505';

export function pgNetworkStore(query: Query, inTransaction: <T>(work: (q: Query) => Promise<T>) => Promise<T>, appendJournal: AppendJournal): NetworkStore {
  return {
    async createTenant(tenant, events = []) {
      try {
        await inTransaction(async (q) => {
          await q('INSERT INTO tenants (id, name, vlan, vni, created_at) VALUES ($1, $2, $3, $4, $5)', [tenant.id, tenant.name, tenant.vlan, tenant.vni, tenant.createdAt.getTime()]);
          await appendJournal(q, events);
        });
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

    async deleteTenant(id, events = []) {
      const n = Number(((await query('SELECT count(*) AS n FROM nodes WHERE tenant = $1', [id])).rows[0] as { n: string }).n);
      if (n > 0) throw new DomainError('conflict', `tenant ${id} still has ${n} node(s); release them first`);
      return inTransaction(async (q) => {
        if (((await q('DELETE FROM tenants WHERE id = $1', [id])).rowCount ?? 0) === 0) return false;
        await appendJournal(q, events);
        return true;
      });
    },

    async setNodeTenant(nodeId, tenantId, events = []) {
      return inTransaction(async (q) => {
        if (((await q('UPDATE nodes SET tenant = $1 WHERE id = $2', [tenantId, nodeId])).rowCount ?? 0) === 0) return false;
        await appendJournal(q, events);
        return true;
      });
    },

    async giveNodeToTenant(nodeId, tenantId) {
      return ((await query('UPDATE nodes SET tenant = $1 WHERE id = $2 AND tenant IS NULL', [tenantId, nodeId])).rowCount ?? 0) > 0;
    },

    async takeNodeFromTenant(nodeId, tenantId, events = []) {
      return inTransaction(async (q) => {
        if (((await q('UPDATE nodes SET tenant = NULL WHERE id = $1 AND tenant = $2', [nodeId, tenantId])).rowCount ?? 0) === 0) return false;
        await appendJournal(q, events);
        return true;
      });
    },

    async setPlannedLink(switchName, port, link) {
      if (!link) {
        await query("DELETE FROM port_links WHERE switch_name = $1 AND port = $2 AND source = 'manual'", [switchName, port]);
        return;
      }
      await query(`INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES ($1, $2, 'manual', $3, $4)
        ON CONFLICT (switch_name, port, source) DO UPDATE SET node_id = excluded.node_id, mac = excluded.mac`, [switchName, port, link.nodeId, link.mac.toLowerCase()]);
    },

    async recordLearnedLinks(nodeId, source, links, at) {
      await inTransaction(async (q) => {
        const existing = (await q('SELECT switch_name, port FROM learned_links WHERE node_id = $1 AND source = $2 FOR UPDATE', [nodeId, source])).rows as LearnedLinkRow[];
        for (const gone of portsReplacedByReport(source, existing, links)) {
          await q('DELETE FROM learned_links WHERE node_id = $1 AND source = $2 AND switch_name = $3 AND port = $4', [nodeId, source, gone.switch_name, gone.port]);
        }
        for (const l of links) {
          await q(`INSERT INTO learned_links (switch_name, port, node_id, source, mac, trusted, since) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (node_id, source, switch_name, port) DO UPDATE SET mac = excluded.mac, trusted = excluded.trusted`,
          [l.switchName, l.port, nodeId, source, l.mac.toLowerCase(), trustedSource(source), at.getTime()]);
        }
      });
    },

    async forgetPort(switchName, port) {
      await inTransaction(async (q) => {
        await q("DELETE FROM port_links WHERE switch_name = $1 AND port = $2 AND source = 'manual'", [switchName, port]);
        await q('DELETE FROM learned_links WHERE switch_name = $1 AND port = $2', [switchName, port]);
      });
    },

    async portLinks() {
      const planned = (await query("SELECT * FROM port_links WHERE source = 'manual' ORDER BY switch_name, port")).rows as LinkRow[];
      const learned = (await query('SELECT * FROM learned_links ORDER BY switch_name, port, since, node_id, source')).rows as LearnedLinkRow[];
      return { planned: planned.map(rowPlannedLink), learned: learned.map(rowLearnedLink) };
    },
  };
}
