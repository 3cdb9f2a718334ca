// The client certificates signed for nodes: which node each serial was given
// to, until when, and whether it was revoked. The revocation list a broker
// checks is made from the revoked ones that have not expired yet.
import type { SqlExecutor } from './sql-executor.ts';

export interface NodeCertificateRecord {
  serial: string;
  nodeId: string;
  issuedAt: Date;
  notAfter: Date;
  revokedAt: Date | null;
  /** The NATS user key of the broker token given with it; '' where none. */
  brokerUser: string;
}

export interface NodeCertificateStore {
  recordNodeCertificate(record: Omit<NodeCertificateRecord, 'revokedAt'>): Promise<void>;
  /** Revokes every certificate of `nodeId` not revoked yet, but `keep`: how many. */
  revokeNodeCertificates(nodeId: string, at: Date, keep?: string): Promise<number>;
  /** Revoked certificates that have not expired by `now`, oldest revocation first: the revocation list. */
  revokedNodeCertificates(now: Date): Promise<Array<{ serial: string; nodeId: string; revokedAt: Date; notAfter: Date; brokerUser: string }>>;
  getNodeCertificate(serial: string): Promise<NodeCertificateRecord | null>;
  /** How many certificates not revoked were issued to `nodeId` after `since` (a node asking too often is refused). */
  nodeCertificatesIssuedSince(nodeId: string, since: Date): Promise<number>;
  /** Forgets certificates that expired before `before` (a revocation list need not name them). */
  purgeNodeCertificates(before: Date): Promise<number>;
}

interface Row { serial: string; node_id: string; broker_user: string; issued_at: number | string; not_after: number | string; revoked_at: number | string | null }

export function sqlNodeCertificateStore(db: SqlExecutor): NodeCertificateStore {
  return {
    async recordNodeCertificate(record) {
      await db.run('INSERT INTO node_certificates (serial, node_id, issued_at, not_after, revoked_at, broker_user) VALUES (?, ?, ?, ?, NULL, ?)',
        [record.serial, record.nodeId, record.issuedAt.getTime(), record.notAfter.getTime(), record.brokerUser]);
    },
    async revokeNodeCertificates(nodeId, at, keep) {
      return db.run('UPDATE node_certificates SET revoked_at = ? WHERE node_id = ? AND revoked_at IS NULL AND serial <> ?', [at.getTime(), nodeId, keep ?? '']);
    },
    async revokedNodeCertificates(now) {
      const rows = await db.all<{ serial: string; node_id: string; revoked_at: number | string; not_after: number | string; broker_user: string }>(
        'SELECT serial, node_id, revoked_at, not_after, broker_user FROM node_certificates WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY revoked_at, serial', [now.getTime()]);
      return rows.map((r) => ({
        serial: r.serial, nodeId: r.node_id, revokedAt: new Date(Number(r.revoked_at)), notAfter: new Date(Number(r.not_after)), brokerUser: r.broker_user,
      }));
    },
    async getNodeCertificate(serial) {
      const row = (await db.all<Row>('SELECT serial, node_id, issued_at, not_after, revoked_at, broker_user FROM node_certificates WHERE serial = ?', [serial]))[0];
      return row ? {
        serial: row.serial, nodeId: row.node_id, issuedAt: new Date(Number(row.issued_at)), notAfter: new Date(Number(row.not_after)),
        revokedAt: row.revoked_at === null ? null : new Date(Number(row.revoked_at)), brokerUser: row.broker_user,
      } : null;
    },
    async nodeCertificatesIssuedSince(nodeId, since) {
      const rows = await db.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM node_certificates WHERE node_id = ? AND issued_at > ? AND revoked_at IS NULL', [nodeId, since.getTime()]);
      return Number(rows[0]?.n ?? 0);
    },
    async purgeNodeCertificates(before) {
      return db.run('DELETE FROM node_certificates WHERE not_after < ?', [before.getTime()]);
    },
  };
}
