// Identity conflicts and re-enrolments waiting for an operator, node
// admissions, and the boot endpoint's token counts: the part of the repository
// API that guards who joins the fleet. Part of FleetStore; one SQL
// implementation serves SQLite and PostgreSQL.
import { identityKey, type BootstrapTokenPurpose, type BootstrapTokenRecord, type NodeIdentity } from '@metalfleet/domain';
import { rowToken, type TokenRow } from './rows.ts';
import type { SqlExecutor } from './sql-executor.ts';

export type ConflictKind = 'mismatch' | 're-enrolment' | 'shared-credential';
/** open: waiting for an operator; approved: the next registration with this identity is that node; enrolled: that happened. */
export type ConflictStatus = 'open' | 'approved' | 'rejected' | 'enrolled';

export interface IdentityConflict {
  at: Date;
  identity: NodeIdentity;
  nodeIds: readonly string[];
  reason: string;
  /** mismatch (the default): a partial match or disagreement; re-enrolment: a known node without its credential; shared-credential: two agents with one. */
  kind?: ConflictKind;
  /** The network address the registration came from. */
  peer?: string;
}

export interface IdentityConflictRecord extends IdentityConflict {
  id: string;
  kind: ConflictKind;
  status: ConflictStatus;
  /** Registrations refused for this identity while the conflict was open. */
  attempts: number;
  lastAt: Date;
  resolvedNodeId: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  /** Where the latest refused registration came from ('' before it was recorded). */
  lastPeer: string;
  /** Where the registration that used the approval came from. */
  enrolledPeer: string | null;
}

export interface ConflictResolution {
  status: 'approved' | 'rejected';
  /** approved: the node the machine is. */
  nodeId: string | null;
  by: string;
  at: Date;
}

export type AdmissionState = 'pending' | 'admitted';

export interface AdmissionRecord {
  nodeId: string;
  state: AdmissionState;
  /** discovery, operator, bmc-enrollment. */
  via: string;
  actor: string;
  at: Date;
}

export interface IdentityStore {
  /** Records a conflict; the same identity again while one is open (or after it was rejected) counts an attempt on that one instead. */
  recordConflict(conflict: IdentityConflict): Promise<IdentityConflictRecord>;
  /** Oldest first. */
  listConflicts(filter?: { status?: ConflictStatus }): Promise<IdentityConflictRecord[]>;
  /** How many conflicts have this status, without loading them. */
  countConflicts(status: ConflictStatus): Promise<number>;
  /** A conflict of this identity that is open or rejected (the one recordConflict would count an attempt on). */
  hasUnresolvedConflict(identity: NodeIdentity): Promise<boolean>;
  getConflict(id: string): Promise<IdentityConflictRecord | null>;
  /** Resolves an open conflict (approval: also a rejected one); false otherwise. */
  resolveConflict(id: string, resolution: ConflictResolution): Promise<boolean>;
  /** The node an operator approved this identity as, if an approval waits. */
  findApproval(identity: NodeIdentity): Promise<{ conflictId: string; nodeId: string } | null>;
  /** Uses an approval once (approved → enrolled); false when it was used or changed meanwhile. */
  takeApproval(conflictId: string, at: Date, peer: string): Promise<boolean>;
  setAdmission(admission: AdmissionRecord): Promise<void>;
  /** null: the node never waited for admission (admitted). */
  getAdmission(nodeId: string): Promise<AdmissionRecord | null>;
  listAdmissions(filter?: { state?: AdmissionState }): Promise<AdmissionRecord[]>;
  /** Tokens of this purpose not yet expired nor revoked (used or not), optionally for one MAC or node. */
  countLiveBootTokens(query: { purpose: BootstrapTokenPurpose; now: Date; mac?: string; nodeId?: string }): Promise<number>;
  /** A command's install tokens, used or not, oldest first. */
  installTokens(commandId: string): Promise<BootstrapTokenRecord[]>;
  /** Deletes a command's install tokens that were never used (those of a boot a later power cycle ended). */
  dropUnusedInstallTokens(commandId: string): Promise<number>;
  /** Install tokens of this command already used to register. */
  countUsedInstallTokens(commandId: string): Promise<number>;
  /** Deletes expired boot-endpoint tokens (discovery, install); operator tokens stay listed. Returns how many. */
  purgeBootTokens(now: Date): Promise<number>;
  /**
   * The node a use of this token registered for this identity key, and the hash of the nonce that registration
   * sent (null: none), while that node has not yet shown that it holds the credential it was given
   * (settleTokenUses): a registration retried after its reply was lost, if the caller proves the same nonce.
   */
  findTokenUse(tokenId: string, identityKey: string): Promise<{ nodeId: string; nonceHash: string | null; at: Date } | null>;
  /**
   * The node showed it holds its credential: the token uses that registered it are final, never answered again.
   * With `credentialHash`, only while that is still the node's credential (a registration written meanwhile
   * gave it another, and its use stays open until the node shows that one).
   */
  settleTokenUses(nodeId: string, credentialHash?: string): Promise<void>;
}

interface ConflictRow {
  id: number | string; at: number; identity_json: string; node_ids: string; reason: string; kind: string; status: string; attempts: number;
  last_at: number | null; resolved_node_id: string | null; resolved_by: string | null; resolved_at: number | null;
  last_peer: string; enrolled_peer: string | null;
}
interface AdmissionRow { node_id: string; state: string; via: string; actor: string; at: number }

const rowConflict = (r: ConflictRow): IdentityConflictRecord => ({
  id: String(r.id), at: new Date(Number(r.at)), identity: JSON.parse(r.identity_json) as NodeIdentity, nodeIds: r.node_ids === '' ? [] : r.node_ids.split(','), reason: r.reason,
  kind: r.kind as ConflictKind, status: r.status as ConflictStatus, attempts: Number(r.attempts), lastAt: new Date(Number(r.last_at ?? r.at)),
  resolvedNodeId: r.resolved_node_id, resolvedBy: r.resolved_by, resolvedAt: r.resolved_at === null ? null : new Date(Number(r.resolved_at)),
  lastPeer: r.last_peer, enrolledPeer: r.enrolled_peer,
});

const rowAdmission = (r: AdmissionRow): AdmissionRecord => ({ nodeId: r.node_id, state: r.state as AdmissionState, via: r.via, actor: r.actor, at: new Date(Number(r.at)) });

const conflictColumns = 'id, at, identity_json, node_ids, reason, kind, status, attempts, last_at, resolved_node_id, resolved_by, resolved_at, last_peer, enrolled_peer';

export function sqlIdentityStore(db: SqlExecutor): IdentityStore {
  const getConflict = async (id: string) => {
    if (!/^\d{1,15}$/.test(id)) return null;
    const [row] = await db.all<ConflictRow>(`SELECT ${conflictColumns} FROM identity_conflicts WHERE id = ?`, [Number(id)]);
    return row ? rowConflict(row) : null;
  };
  const written = async (id: number | undefined): Promise<IdentityConflictRecord> => {
    const conflict = id === undefined ? null : await getConflict(String(id));
    if (!conflict) throw new Error('identity conflict not found right after writing it');
    return conflict;
  };

  return {
    async recordConflict(c) {
      const key = identityKey(c.identity);
      const kind = c.kind ?? 'mismatch';
      // A rejected identity stays rejected: its retries count on that row instead of reopening one for the operator.
      // A shared credential is rejected to close it (the operator stopped one agent): found again, it is a new one.
      const statuses = kind === 'shared-credential' ? "('open')" : "('open', 'rejected')";
      const [open] = await db.all<{ id: number }>(`SELECT id FROM identity_conflicts WHERE identity_key = ? AND kind = ? AND status IN ${statuses} ORDER BY id DESC LIMIT 1`, [key, kind]);
      if (open) {
        await db.run('UPDATE identity_conflicts SET attempts = attempts + 1, last_at = ?, reason = ?, node_ids = ?, last_peer = ? WHERE id = ?',
          [c.at.getTime(), c.reason, c.nodeIds.join(','), c.peer ?? '', open.id]);
        return written(open.id);
      }
      const [row] = await db.all<{ id: number }>(`INSERT INTO identity_conflicts (at, identity_json, node_ids, reason, identity_key, kind, status, attempts, last_at, last_peer)
        VALUES (?, ?, ?, ?, ?, ?, 'open', 1, ?, ?) RETURNING id`, [c.at.getTime(), JSON.stringify(c.identity), c.nodeIds.join(','), c.reason, key, kind, c.at.getTime(), c.peer ?? '']);
      return written(row?.id);
    },

    async listConflicts(filter = {}) {
      const rows = filter.status
        ? await db.all<ConflictRow>(`SELECT ${conflictColumns} FROM identity_conflicts WHERE status = ? ORDER BY id`, [filter.status])
        : await db.all<ConflictRow>(`SELECT ${conflictColumns} FROM identity_conflicts ORDER BY id`);
      return rows.map(rowConflict);
    },

    async countConflicts(status) {
      const [row] = await db.all<{ n: number | string }>('SELECT count(*) AS n FROM identity_conflicts WHERE status = ?', [status]);
      return Number(row?.n ?? 0);
    },

    async hasUnresolvedConflict(identity) {
      const rows = await db.all<{ id: number }>("SELECT id FROM identity_conflicts WHERE identity_key = ? AND status IN ('open', 'rejected') LIMIT 1", [identityKey(identity)]);
      return rows.length > 0;
    },

    getConflict,

    async resolveConflict(id, r) {
      if (!/^\d{1,15}$/.test(id)) return false;
      // An operator may still approve what was rejected (the machine turned out to be that node); nothing else is resolved twice.
      const from = r.status === 'approved' ? "('open', 'rejected')" : "('open')";
      return (await db.run(`UPDATE identity_conflicts SET status = ?, resolved_node_id = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND status IN ${from}`,
        [r.status, r.nodeId, r.by, r.at.getTime(), Number(id)])) > 0;
    },

    async findApproval(identity) {
      const [row] = await db.all<{ id: number; resolved_node_id: string }>(
        "SELECT id, resolved_node_id FROM identity_conflicts WHERE identity_key = ? AND status = 'approved' ORDER BY id LIMIT 1", [identityKey(identity)]);
      return row ? { conflictId: String(row.id), nodeId: row.resolved_node_id } : null;
    },

    async takeApproval(conflictId, at, peer) {
      return (await db.run("UPDATE identity_conflicts SET status = 'enrolled', last_at = ?, enrolled_peer = ? WHERE id = ? AND status = 'approved'", [at.getTime(), peer, Number(conflictId)])) > 0;
    },

    async setAdmission(a) {
      await db.run(`INSERT INTO node_admissions (node_id, state, via, actor, at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (node_id) DO UPDATE SET state = excluded.state, via = excluded.via, actor = excluded.actor, at = excluded.at`,
      [a.nodeId, a.state, a.via, a.actor, a.at.getTime()]);
    },

    async getAdmission(nodeId) {
      const [row] = await db.all<AdmissionRow>('SELECT * FROM node_admissions WHERE node_id = ?', [nodeId]);
      return row ? rowAdmission(row) : null;
    },

    async listAdmissions(filter = {}) {
      const rows = filter.state
        ? await db.all<AdmissionRow>('SELECT * FROM node_admissions WHERE state = ? ORDER BY at, node_id', [filter.state])
        : await db.all<AdmissionRow>('SELECT * FROM node_admissions ORDER BY at, node_id');
      return rows.map(rowAdmission);
    },

    async countLiveBootTokens(q) {
      const where = ['purpose = ?', 'expires_at > ?', 'revoked_at IS NULL'];
      const params: unknown[] = [q.purpose, q.now.getTime()];
      if (q.mac !== undefined) {
        where.push('mac = ?');
        params.push(q.mac);
      }
      if (q.nodeId !== undefined) {
        where.push('node_id = ?');
        params.push(q.nodeId);
      }
      const [row] = await db.all<{ n: number | string }>(`SELECT count(*) AS n FROM bootstrap_tokens WHERE ${where.join(' AND ')}`, params);
      return Number(row?.n ?? 0);
    },

    async installTokens(commandId) {
      return (await db.all<TokenRow>("SELECT * FROM bootstrap_tokens WHERE purpose = 'install' AND command_id = ? ORDER BY created_at, id", [commandId])).map(rowToken);
    },

    async dropUnusedInstallTokens(commandId) {
      return db.run("DELETE FROM bootstrap_tokens WHERE purpose = 'install' AND command_id = ? AND uses = 0", [commandId]);
    },

    async countUsedInstallTokens(commandId) {
      const [row] = await db.all<{ n: number | string }>("SELECT count(*) AS n FROM bootstrap_tokens WHERE purpose = 'install' AND command_id = ? AND uses > 0", [commandId]);
      return Number(row?.n ?? 0);
    },

    async purgeBootTokens(now) {
      // Their recorded uses go with them (ON DELETE CASCADE). An install token of a reimage still rebooting or
      // installing stays, expired or not: it is what tells the boot endpoint that the command's one token was
      // handed out (and used), so purging it would let another address fetch a fresh one (hostile review).
      return db.run(`DELETE FROM bootstrap_tokens WHERE purpose <> 'operator' AND expires_at <= ?
        AND NOT (purpose = 'install' AND command_id IN (SELECT command_id FROM operation_nodes WHERE command_id IS NOT NULL AND phase IN ('rebooting', 'installing')))`,
      [now.getTime()]);
    },

    async findTokenUse(tokenId, key) {
      const [row] = await db.all<{ node_id: string; nonce_hash: string | null; at: number | string }>('SELECT node_id, nonce_hash, at FROM bootstrap_token_uses WHERE token_id = ? AND identity_key = ?', [tokenId, key]);
      return row ? { nodeId: row.node_id, nonceHash: row.nonce_hash, at: new Date(Number(row.at)) } : null;
    },

    async settleTokenUses(nodeId, credentialHash) {
      if (credentialHash === undefined) {
        await db.run('DELETE FROM bootstrap_token_uses WHERE node_id = ?', [nodeId]);
        return;
      }
      await db.run('DELETE FROM bootstrap_token_uses WHERE node_id = ? AND EXISTS (SELECT 1 FROM nodes WHERE id = ? AND credential_hash = ?)', [nodeId, nodeId, credentialHash]);
    },
  };
}
