// API tokens, the audit log and failure events: the part of the repository
// API that access control and failure analytics use. Part of FleetStore; one SQL implementation serves
// SQLite and PostgreSQL.
import type { ApiTokenRecord, AuditEntry, Cohorts, FailureEvent, FailureKind, Role } from '@metalfleet/domain';
import type { SqlExecutor } from './sql-executor.ts';

export interface AccessStore {
  createApiToken(token: ApiTokenRecord): Promise<void>;
  getApiToken(id: string): Promise<ApiTokenRecord | null>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** False when there is no such token or it was revoked already. */
  revokeApiToken(id: string, at: Date): Promise<boolean>;
  touchApiToken(id: string, at: Date): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first; `before` pages back by sequence number. */
  listAudit(options: { limit: number; before?: number }): Promise<Array<AuditEntry & { seq: number }>>;
  /** Keeps a failure once: the same node, code and time again changes nothing (and answers false). */
  recordFailure(event: FailureEvent): Promise<boolean>;
  failuresSince(since: Date): Promise<FailureEvent[]>;
  /** One node's failures, oldest first. */
  failuresOf(nodeId: string): Promise<FailureEvent[]>;
}

interface TokenRow { id: string; name: string; role: string; tenant_id: string | null; secret_hash: string; created_at: number; expires_at: number | null; revoked_at: number | null; last_used_at: number | null }
interface FailureRow { node_id: string; kind: string; code: string; at: number; cohorts: string }
interface AuditRow { seq: number; at: number; token_id: string; actor: string; method: string; route: string; target: string; status: number; error: string; detail: string }

const date = (ms: number | null) => (ms === null ? null : new Date(Number(ms)));
const rowToken = (r: TokenRow): ApiTokenRecord => ({
  id: r.id, name: r.name, role: r.role as Role, tenantId: r.tenant_id, secretHash: r.secret_hash, createdAt: new Date(Number(r.created_at)),
  expiresAt: date(r.expires_at), revokedAt: date(r.revoked_at), lastUsedAt: date(r.last_used_at),
});

const rowFailure = (r: FailureRow): FailureEvent => ({ nodeId: r.node_id, kind: r.kind as FailureKind, code: r.code, at: new Date(Number(r.at)), cohorts: JSON.parse(r.cohorts) as Cohorts });

export function sqlAccessStore(db: SqlExecutor): AccessStore {
  return {
    async createApiToken(t) {
      await db.run('INSERT INTO api_tokens (id, name, role, tenant_id, secret_hash, created_at, expires_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [t.id, t.name, t.role, t.tenantId, t.secretHash, t.createdAt.getTime(), t.expiresAt?.getTime() ?? null, t.revokedAt?.getTime() ?? null, t.lastUsedAt?.getTime() ?? null]);
    },
    async getApiToken(id) {
      const [row] = await db.all<TokenRow>('SELECT * FROM api_tokens WHERE id = ?', [id]);
      return row ? rowToken(row) : null;
    },
    async listApiTokens() {
      return (await db.all<TokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id')).map(rowToken);
    },
    async revokeApiToken(id, at) {
      const before = await db.all<{ id: string }>('SELECT id FROM api_tokens WHERE id = ? AND revoked_at IS NULL', [id]);
      if (before.length === 0) return false;
      await db.run('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at.getTime(), id]);
      return true;
    },
    async touchApiToken(id, at) {
      await db.run('UPDATE api_tokens SET last_used_at = ? WHERE id = ?', [at.getTime(), id]);
    },
    async appendAudit(e) {
      await db.run('INSERT INTO audit_log (at, token_id, actor, method, route, target, status, error, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [e.at.getTime(), e.tokenId, e.actor, e.method, e.route, e.target, e.status, e.error, e.detail ?? '']);
    },
    async recordFailure(e) {
      return (await db.run('INSERT INTO failures (node_id, kind, code, at, cohorts) VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id, code, at) DO NOTHING',
        [e.nodeId, e.kind, e.code, e.at.getTime(), JSON.stringify(e.cohorts)])) > 0;
    },
    async failuresSince(since) {
      return (await db.all<FailureRow>('SELECT * FROM failures WHERE at > ? ORDER BY at', [since.getTime()])).map(rowFailure);
    },
    async failuresOf(nodeId) {
      return (await db.all<FailureRow>('SELECT * FROM failures WHERE node_id = ? ORDER BY at', [nodeId])).map(rowFailure);
    },
    async listAudit({ limit, before }) {
      const rows = before === undefined
        ? await db.all<AuditRow>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?', [limit])
        : await db.all<AuditRow>('SELECT * FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?', [before, limit]);
      return rows.map((r) => ({
        seq: Number(r.seq), at: new Date(Number(r.at)), tokenId: r.token_id, actor: r.actor, method: r.method, route: r.route, target: r.target, status: Number(r.status), error: r.error, detail: r.detail,
      }));
    },
  };
}
