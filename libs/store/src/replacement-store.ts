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
  /**
   * The spare its placer picked, noted before giving it to the tenant ('' none yet): a placer that died (or failed)
   * between that and the spare's reimage leaves it here for the next one to finish, not to count as served.
   */
  spareNodeId: string;
}

export interface ReplacementStore {
  /** Records the debt; the same failed node and tenant again changes nothing. */
  oweReplacement(owed: Omit<OwedReplacement, 'spareNodeId'>): Promise<void>;
  /** Oldest first. */
  owedReplacements(): Promise<OwedReplacement[]>;
  /**
   * Claims the debt to make the replacement: true for one caller until it settles or releases it, or until its claim
   * is older than `staleBefore` (the claimer died before either).
   */
  claimOwedReplacement(failedNodeId: string, tenantId: string, at: Date, staleBefore: Date): Promise<boolean>;
  /**
   * Notes the spare the claimer (its claim made at `claimedAt`) is about to give the tenant for this debt ('' takes the
   * note back). False, and nothing noted, when another debt has noted that spare (one spare is one debt's), or when
   * the claim is no longer this one (it went stale and another took it; the debt was settled).
   */
  noteOwedSpare(failedNodeId: string, tenantId: string, spareNodeId: string, claimedAt: Date): Promise<boolean>;
  /** The replacement is made (or the debt given up): gone. */
  settleOwedReplacement(failedNodeId: string, tenantId: string): Promise<void>;
  /** No replacement could be made now: owed again, for anyone to claim. */
  releaseOwedReplacement(failedNodeId: string, tenantId: string, claimedAt: Date): Promise<void>;
}

interface OwedRow { failed_node_id: string; tenant_id: string; reason: string; actor: string; at: number | string; spare_node_id: string }

export function sqlReplacementStore(db: SqlExecutor): ReplacementStore {
  return {
    async oweReplacement(o) {
      await db.run('INSERT INTO owed_replacements (failed_node_id, tenant_id, reason, actor, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (failed_node_id, tenant_id) DO NOTHING',
        [o.failedNodeId, o.tenantId, o.reason, o.actor, o.at.getTime()]);
    },
    async owedReplacements() {
      const rows = await db.all<OwedRow>('SELECT failed_node_id, tenant_id, reason, actor, at, spare_node_id FROM owed_replacements ORDER BY at, failed_node_id, tenant_id');
      return rows.map((r) => ({ failedNodeId: r.failed_node_id, tenantId: r.tenant_id, reason: r.reason, actor: r.actor, at: new Date(Number(r.at)), spareNodeId: r.spare_node_id }));
    },
    async claimOwedReplacement(failedNodeId, tenantId, at, staleBefore) {
      return (await db.run('UPDATE owed_replacements SET claimed_at = ? WHERE failed_node_id = ? AND tenant_id = ? AND (claimed_at IS NULL OR claimed_at < ?)',
        [at.getTime(), failedNodeId, tenantId, staleBefore.getTime()])) > 0;
    },
    async noteOwedSpare(failedNodeId, tenantId, spareNodeId, claimedAt) {
      try {
        return (await db.run('UPDATE owed_replacements SET spare_node_id = ? WHERE failed_node_id = ? AND tenant_id = ? AND claimed_at = ?',
          [spareNodeId, failedNodeId, tenantId, claimedAt.getTime()])) > 0;
      } catch (error) {
        // owed_replacements_spare: the spare is another debt's.
        if (db.isUniqueViolation(error)) return false;
        throw error;
      }
    },
    async settleOwedReplacement(failedNodeId, tenantId) {
      await db.run('DELETE FROM owed_replacements WHERE failed_node_id = ? AND tenant_id = ?', [failedNodeId, tenantId]);
    },
    async releaseOwedReplacement(failedNodeId, tenantId, claimedAt) {
      // Only this claim: one that went stale and was taken by another is not the stale claimer's to let go.
      await db.run('UPDATE owed_replacements SET claimed_at = NULL WHERE failed_node_id = ? AND tenant_id = ? AND claimed_at = ?', [failedNodeId, tenantId, claimedAt.getTime()]);
    },
  };
}
