// Replacements owed: a tenant node failed when no spare fit the tenant's
// template. The debt is kept here until a spare does (lifecycle-effects.ts
// retries), so a tenant is not left a node short for good. Part of
// FleetStore; one SQL implementation serves SQLite and PostgreSQL.
import type { SqlExecutor } from './sql-executor.ts';

export interface OwedReplacement {
  /** The node that failed, and the tenant it left: the debt's key (one replacement per failure in a tenant). */
  failedNodeId: string;
  tenantId: string;
  /** Why it failed. */
  reason: string;
  actor: string;
  at: Date;
}

export interface ReplacementStore {
  /** Records the debt; the same failed node and tenant again changes nothing. */
  oweReplacement(owed: OwedReplacement): Promise<void>;
  /** Oldest first. */
  owedReplacements(): Promise<OwedReplacement[]>;
  /** Takes the debt to settle it: true for whoever takes it first, false after (one spare per failure, however many retry). */
  takeOwedReplacement(failedNodeId: string, tenantId: string): Promise<boolean>;
}

interface OwedRow { failed_node_id: string; tenant_id: string; reason: string; actor: string; at: number | string }

export function sqlReplacementStore(db: SqlExecutor): ReplacementStore {
  return {
    async oweReplacement(o) {
      await db.run('INSERT INTO owed_replacements (failed_node_id, tenant_id, reason, actor, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (failed_node_id, tenant_id) DO NOTHING',
        [o.failedNodeId, o.tenantId, o.reason, o.actor, o.at.getTime()]);
    },
    async owedReplacements() {
      const rows = await db.all<OwedRow>('SELECT failed_node_id, tenant_id, reason, actor, at FROM owed_replacements ORDER BY at, failed_node_id');
      return rows.map((r) => ({ failedNodeId: r.failed_node_id, tenantId: r.tenant_id, reason: r.reason, actor: r.actor, at: new Date(Number(r.at)) }));
    },
    async takeOwedReplacement(failedNodeId, tenantId) {
      return (await db.run('DELETE FROM owed_replacements WHERE failed_node_id = ? AND tenant_id = ?', [failedNodeId, tenantId])) > 0;
    },
  };
}
