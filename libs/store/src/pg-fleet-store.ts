// FleetStore on PostgreSQL (`pg`), for high availability and several manager
// replicas. Same behaviour as the SQLite store: one contract suite runs on both.
import pg from 'pg';
import { connectionKey, DomainError, inventoryFacts, normalizeIdentity, type Inventory, type KnownIdentity, type NodeIdentity } from '@metalfleet/domain';
import type { FleetStore, NodeRecord, TokenUse } from './fleet-store.ts';
import { pgMigrations } from './pg-migrations.ts';
import { pgNetworkStore } from './pg-network.ts';
import { pgExecutor, pgTransaction, withPgClient } from './pg-executor.ts';
import { numberPlaceholders } from './sql-executor.ts';
import { storeHealth, type StoreAvailability, type StoreHealth } from './store-health.ts';
import { writeProbeSql } from './disk-space.ts';
import { lastWriteFromRow, lastWriteSql } from './last-write.ts';
import { sqlWorkStore } from './sql-work-store.ts';
import { fenceHolds, pgNowMs, sqlLeaseStore } from './lease-store.ts';
import { sqlNodeCertificateStore } from './node-certificate-store.ts';
import { sqlEventJournalStore, type JournalEntry, type Statement } from './event-journal-store.ts';
import { pgEventWake } from './pg-event-wake.ts';
import { sqlAccessStore } from './access-store.ts';
import { sqlAcceptanceStore } from './acceptance-store.ts';
import { sqlSkuProfileStore } from './sku-profile-store.ts';
import { sqlReplacementStore } from './replacement-store.ts';
import { sqlAlertStore } from './alert-store.ts';
import { sqlIdentityStore } from './identity-store.ts';
import {
  countsFrom, groupConditions, nodeColumns, parseInventory, rowCondition, rowHealthEvent, rowIdentity, rowSummary, rowToken, rowTransition,
  type ConditionRow, type HealthEventRow, type NodeRow, type TokenRow, type TransitionRow,
} from './rows.ts';

const pgNodeColumns = nodeColumns("(SELECT string_agg(mac, ',' ORDER BY mac) FROM node_macs WHERE node_id = n.id)");

// BIGINT (int8) columns hold epoch milliseconds: safe as JavaScript numbers.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export interface PgOptions {
  connectionString: string;
  /** A schema of its own (created if missing); tests use a fresh one each. */
  schema?: string;
  maxConnections?: number;
  /** Told when the database becomes unreachable or cannot write, and when it can again (the manager logs it). */
  onAvailabilityChange?: (state: StoreAvailability) => void;
}

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

/**
 * A transaction left idle this long is ended by the server: a replica paused (SIGSTOP, a VM frozen) in the middle of
 * one would otherwise hold its row locks and the event journal's lock, which every replica's changes wait on, until
 * its TCP connection died (hours).
 */
const idleInTransactionTimeoutMs = 10_000;

/** Applies the migrations not applied yet. Several managers may start at once: one applies them, the others wait on the lock. */
function migrate(pool: pg.Pool, health: StoreHealth): Promise<void> {
  return withPgClient(pool, health, (client) => pgTransaction(client, async () => {
    const q: Query = (sql, params = []) => client.query(sql, params);
    await q("SELECT pg_advisory_xact_lock(hashtext('metalfleet-migrations'))");
    await q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set((await q('SELECT version FROM schema_migrations')).rows.map((r: { version: number }) => r.version));
    for (const m of pgMigrations) {
      if (applied.has(m.version)) continue;
      await q(m.sql);
      await q('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
    }
  }));
}

export async function openPgFleetStore(options: PgOptions): Promise<FleetStore> {
  const schema = options.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  // A connect that hangs (a host gone from the network) fails after 5 s instead of holding the request.
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10, connectionTimeoutMillis: 5000, types, options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${idleInTransactionTimeoutMs}` });
  // A full disk on the server (53100) or a read-only database is an outage like a lost connection; only a write proves it over.
  const health = storeHealth({ ping: () => pool.query('SELECT 1'), writeProbe: () => pool.query(writeProbeSql), onChange: options.onAvailabilityChange });
  // An idle connection the server closed (a restart, a failover) is reported here; without a listener it would kill the process.
  pool.on('error', (error) => health.noteError(error));
  const query: Query = (sql, params = []) => health.watch(() => pool.query(sql, params));

  function inTransaction<T>(work: (q: Query) => Promise<T>): Promise<T> {
    return health.watch(() => withPgClient(pool, health, (client) => pgTransaction(client, () => work((sql, params = []) => client.query(sql, params)))));
  }

  // At open, a database that cannot be reached fails the open with the driver's own error (which host,
  // what failed; the manager's start retries it): these statements bypass `health`, which is for outages
  // of a running manager. A failed open leaves no pool behind.
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await migrate(pool, health);
  } catch (error) {
    health.stop();
    await pool.end().catch(() => undefined);
    throw error;
  }

  async function writeMacs(q: Query, nodeId: string, identity: NodeIdentity): Promise<void> {
    await q('DELETE FROM node_macs WHERE node_id = $1', [nodeId]);
    for (const mac of identity.macs) await q('INSERT INTO node_macs (mac, node_id) VALUES ($1, $2)', [mac, nodeId]);
  }

  async function writeFacts(q: Query, nodeId: string, inventory: Inventory): Promise<void> {
    const facts = inventoryFacts(inventory);
    await q('UPDATE nodes SET gpu_model = $1, gpu_count = $2, rack = $3 WHERE id = $4', [facts.gpuModel, facts.gpuCount, facts.rack, nodeId]);
  }

  // Inside the node write's transaction: a use is spent only for a node written, and a racer finds none left (the row lock).
  async function spendTokenUse(q: Query, use: TokenUse | undefined, nodeId: string, at: Date): Promise<void> {
    if (!use) return;
    if (use.retry) {
      // FOR UPDATE: a racing retry waits here for this one's commit, then finds the credential changed.
      const still = await q(`SELECT 1 FROM bootstrap_token_uses u JOIN nodes n ON n.id = u.node_id
        WHERE u.token_id = $1 AND u.identity_key = $2 AND u.node_id = $3 AND n.credential_hash = $4 AND u.nonce_hash = $5 FOR UPDATE`,
      [use.tokenId, use.identityKey, nodeId, use.retry.credentialHash, use.nonceHash]);
      if ((still.rowCount ?? 0) === 0) throw new DomainError('unauthenticated', `bootstrap token ${use.tokenId} has no uses left (its use by this machine was settled or retried meanwhile)`);
      return;
    }
    if (!use.unlimited) {
      const counted = await q('UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)', [use.tokenId]);
      if ((counted.rowCount ?? 0) === 0) throw new DomainError('unauthenticated', `bootstrap token ${use.tokenId} has no uses left`);
    }
    await q(`INSERT INTO bootstrap_token_uses (token_id, identity_key, node_id, at, nonce_hash) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (token_id, identity_key) DO UPDATE SET node_id = excluded.node_id, at = excluded.at, nonce_hash = excluded.nonce_hash`,
    [use.tokenId, use.identityKey, nodeId, at.getTime(), use.nonceHash]);
  }

  /** An unlimited token's count, raised after the node's write committed (TokenUse.unlimited): the row is locked for this statement only. */
  async function countUnlimitedUse(use: TokenUse | undefined): Promise<void> {
    if (use?.unlimited && !use.retry) await query('UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = $1', [use.tokenId]);
  }

  const upsertCondition = `INSERT INTO node_conditions (node_id, component, code, severity, remediation, message, since) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (node_id, component, code) DO UPDATE SET severity = excluded.severity, remediation = excluded.remediation, message = excluded.message`;

  const executor = pgExecutor(pool, health);
  const eventWake = pgEventWake(executor, { connectionString: options.connectionString, schema });
  /** A change's events, appended in its own transaction (`q`'s) as its last statements. */
  async function appendJournal(q: Query, entries: readonly JournalEntry[]): Promise<void> {
    for (const s of eventWake.appendWithin(entries)) await q(numberPlaceholders(s.sql), s.params);
  }
  return {
    availability: () => health.check(),
    ...pgNetworkStore(query, inTransaction, appendJournal),
    ...sqlWorkStore(executor, pgNowMs, eventWake.within),
    ...sqlLeaseStore(executor, pgNowMs),
    ...sqlEventJournalStore(executor, eventWake),
    ...sqlAccessStore(executor),
    ...sqlAcceptanceStore(executor),
    ...sqlSkuProfileStore(executor),
    ...sqlReplacementStore(executor),
    ...sqlNodeCertificateStore(executor),
    ...sqlAlertStore(executor),
    ...sqlIdentityStore(executor),
    async findIdentityCandidates(identity) {
      const n = normalizeIdentity(identity);
      // Serials compare without case (matchIdentity): look up the spellings as reported, upper- and lower-case, so the indexes still serve.
      const serials = [...new Set([n.systemSerial, n.chassisSerial, n.boardSerial].filter((v) => v !== '').flatMap((v) => [v, v.toUpperCase(), v.toLowerCase()]))];
      // One indexed lookup per kind of identifier (a single OR across columns scans the table).
      const lookups: string[] = [];
      const params: unknown[] = [];
      const p = (value: unknown) => `$${params.push(value)}`;
      if (n.systemUuid) lookups.push(`SELECT id FROM nodes WHERE system_uuid = ${p(n.systemUuid)} AND system_uuid <> ''`);
      if (serials.length > 0) {
        const ref = p(serials);
        for (const column of ['system_serial', 'chassis_serial', 'board_serial']) lookups.push(`SELECT id FROM nodes WHERE ${column} = ANY(${ref}) AND ${column} <> ''`);
      }
      if (n.macs.length > 0) lookups.push(`SELECT node_id FROM node_macs WHERE mac = ANY(${p(n.macs)})`);
      if (lookups.length === 0) return [];
      const { rows } = await query(`SELECT ${pgNodeColumns} FROM nodes n WHERE n.id IN (${lookups.join(' UNION ')})`, params);
      return (rows as NodeRow[]).map((row): KnownIdentity => ({ nodeId: row.id, identity: rowIdentity(row) }));
    },

    async createNode(node, tokenUse) {
      const i = normalizeIdentity(node.identity);
      await inTransaction(async (q) => {
        await q(`INSERT INTO nodes (id, hostname, system_uuid, system_serial, chassis_serial, board_serial, bmc_address, state, presence,
            presence_changed_at, last_seen_at, registered_at, agent_version, credential_hash, inventory_json)
          VALUES ($1, $2, $3, $4, $5, $6, $7, 'discovered', 'unknown', NULL, $8, $8, $9, $10, $11)`,
        [node.id, node.hostname, i.systemUuid, i.systemSerial, i.chassisSerial, i.boardSerial, i.bmcAddress, node.at.getTime(), node.agentVersion, node.credentialHash, JSON.stringify(node.inventory)]);
        await writeMacs(q, node.id, i);
        await writeFacts(q, node.id, node.inventory);
        await spendTokenUse(q, tokenUse, node.id, node.at);
      });
      await countUnlimitedUse(tokenUse);
    },

    async updateRegistration(node, tokenUse) {
      const i = normalizeIdentity(node.identity);
      await inTransaction(async (q) => {
        // First: a retry's check reads (and locks) the credential the node had before this write.
        await spendTokenUse(q, tokenUse, node.id, node.at);
        await q(`UPDATE nodes SET hostname = $1, system_uuid = $2, system_serial = $3, chassis_serial = $4, board_serial = $5, bmc_address = $6,
            last_seen_at = $7, agent_version = $8, credential_hash = $9, inventory_json = $10 WHERE id = $11`,
        [node.hostname, i.systemUuid, i.systemSerial, i.chassisSerial, i.boardSerial, i.bmcAddress, node.at.getTime(), node.agentVersion, node.credentialHash, JSON.stringify(node.inventory), node.id]);
        await writeMacs(q, node.id, i);
        await writeFacts(q, node.id, node.inventory);
      });
      await countUnlimitedUse(tokenUse);
    },


    async updateInventory(nodeId, inventory) {
      const updated = ((await query('UPDATE nodes SET inventory_json = $1, hostname = $2 WHERE id = $3', [JSON.stringify(inventory), inventory.system.hostname, nodeId])).rowCount ?? 0) > 0;
      if (updated) await writeFacts(query, nodeId, inventory);
      return updated;
    },

    async credentialHash(nodeId) {
      const { rows } = await query('SELECT credential_hash FROM nodes WHERE id = $1', [nodeId]);
      return (rows[0] as { credential_hash: string } | undefined)?.credential_hash ?? null;
    },

    async setPresence(nodeId, presence, at, fence, agent) {
      const held = fence ? fenceHolds(fence, pgNowMs) : null;
      const { key: session, sessionPrefix } = connectionKey(agent ?? { session: '', connection: 0 });
      if (presence === 'online' && session !== '') {
        await query(`UPDATE nodes SET agent_session = $1 WHERE id = $2 AND agent_session <> $1
          AND NOT (substr(agent_session, 1, length($3::text)) = $3::text AND agent_session > $1)`, [session, nodeId, sessionPrefix]);
      }
      const ownSession = presence === 'offline' && session !== '' ? " AND agent_session IN ('', ?)" : '';
      const result = await query(numberPlaceholders(`UPDATE nodes SET presence = ?, presence_changed_at = ?,
          last_seen_at = CASE WHEN ? = 'online' THEN ? ELSE last_seen_at END
        WHERE id = ? AND presence <> ?${ownSession}${held ? ` AND ${held.sql}` : ''}`),
      [presence, at.getTime(), presence, at.getTime(), nodeId, presence, ...(ownSession ? [session] : []), ...(held?.params ?? [])]);
      return (result.rowCount ?? 0) > 0;
    },

    async markSeenMany(seen) {
      if (seen.length === 0) return [];
      const { rows } = await query(`UPDATE nodes SET last_seen_at = GREATEST(COALESCE(nodes.last_seen_at, 0), s.at)
        FROM unnest($1::text[], $2::bigint[]) AS s(id, at) WHERE nodes.id = s.id
        RETURNING nodes.id, nodes.presence, nodes.presence_changed_at, s.at`, [seen.map(([id]) => id), seen.map(([, at]) => at.getTime())]);
      return (rows as Array<{ id: string; presence: string; presence_changed_at: number | null; at: number }>)
        .filter((r) => r.presence === 'offline' && Number(r.presence_changed_at ?? 0) < Number(r.at)).map((r) => r.id);
    },

    lastWriteAt: async () => lastWriteFromRow((await query(lastWriteSql)).rows[0] as { t: unknown } | undefined),

    async silentNodes(before) {
      const { rows } = await query("SELECT id FROM nodes WHERE presence = 'online' AND COALESCE(last_seen_at, 0) < $1", [before.getTime()]);
      return rows.map((r: { id: string }) => r.id);
    },

    async applyHealthEvent(nodeId, event) {
      return inTransaction(async (q) => {
        const inserted = await q(`INSERT INTO health_events (node_id, event_id, sequence, at, received_at, changes_json)
            SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM nodes WHERE id = $1)
            ON CONFLICT (node_id, event_id) DO NOTHING`,
        [nodeId, event.eventId, event.sequence, event.at.getTime(), event.receivedAt.getTime(), JSON.stringify(event.changes)]);
        if ((inserted.rowCount ?? 0) === 0) return false;
        for (const { kind, condition: c } of event.changes) {
          if (kind === 'cleared') await q('DELETE FROM node_conditions WHERE node_id = $1 AND component = $2 AND code = $3', [nodeId, c.component, c.code]);
          else await q(upsertCondition, [nodeId, c.component, c.code, c.severity, c.remediation, c.message, c.since.getTime()]);
        }
        return true;
      });
    },

    async replaceConditions(nodeId, conditions) {
      await inTransaction(async (q) => {
        await q('DELETE FROM node_conditions WHERE node_id = $1', [nodeId]);
        for (const c of conditions) await q(upsertCondition, [nodeId, c.component, c.code, c.severity, c.remediation, c.message, c.since.getTime()]);
      });
    },

    async conditions(nodeId) {
      const { rows } = await query('SELECT * FROM node_conditions WHERE node_id = $1 ORDER BY component, code', [nodeId]);
      return (rows as ConditionRow[]).map(rowCondition);
    },

    async healthEvents(nodeId, limit) {
      const { rows } = await query(`SELECT * FROM (SELECT event_id, sequence, at, received_at, changes_json, seq FROM health_events
          WHERE node_id = $1 ORDER BY seq DESC LIMIT $2) latest ORDER BY seq`, [nodeId, limit]);
      return (rows as HealthEventRow[]).map(rowHealthEvent);
    },

    async healthEventPage(nodeId, limit, before = Number.MAX_SAFE_INTEGER) {
      const { rows } = await query(`SELECT event_id, sequence, at, received_at, changes_json, seq FROM health_events
          WHERE node_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, [nodeId, before, limit]);
      const page = rows as Array<HealthEventRow & { seq: number }>;
      return { events: page.map(rowHealthEvent), next: page.length === limit ? (page.at(-1)?.seq ?? null) : null };
    },

    async transitionNode(nodeId, from, to, event, cause, { events = [], fence } = {}) {
      // One statement, on its own: the move, its history row and its events commit together, and the journal's lock
      // (every replica's transitions take it: two per registration in a storm) is held for no client round trip.
      const held = fence ? fenceHolds(fence, pgNowMs) : null;
      const journal = events.length > 0 ? eventWake.appendInStatement(events, 'moved') : null;
      const statement: Statement[] = [
        { sql: `WITH moved AS (UPDATE nodes SET state = ? WHERE id = ? AND state = ?${held ? ` AND ${held.sql}` : ''} RETURNING id),`, params: [to, nodeId, from, ...(held?.params ?? [])] },
        {
          sql: `history AS (INSERT INTO node_transitions (node_id, from_state, to_state, event, actor, reason, at)
            SELECT id, ?::text, ?::text, ?::text, ?::text, ?::text, ?::bigint FROM moved)`,
          params: [from, to, event, cause.actor, cause.reason, cause.at.getTime()],
        },
        ...(journal ? [{ sql: `, ${journal.cte.sql}`, params: journal.cte.params }] : []),
        { sql: ' SELECT (SELECT count(*) FROM moved) AS moved', params: [] },
        ...(journal ? [{ sql: `, ${journal.wake.sql} AS woken`, params: journal.wake.params }] : []),
      ];
      const { rows } = await query(numberPlaceholders(statement.map((s) => s.sql).join('\n')), statement.flatMap((s) => s.params));
      return Number((rows[0] as { moved: number | string }).moved) > 0;
    },

    async history(nodeId) {
      const { rows } = await query('SELECT from_state, to_state, event, actor, reason, at FROM node_transitions WHERE node_id = $1 ORDER BY id', [nodeId]);
      return (rows as TransitionRow[]).map(rowTransition);
    },

    async offlineSince(state, before) {
      const { rows } = await query("SELECT id FROM nodes WHERE state = $1 AND presence = 'offline' AND presence_changed_at < $2", [state, before.getTime()]);
      return rows.map((r: { id: string }) => r.id);
    },

    async createBootstrapToken(t) {
      await query(`INSERT INTO bootstrap_tokens (id, purpose, node_id, command_id, mac, issued_to, description, secret_hash, created_at, expires_at, revoked_at, max_uses, uses)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [t.id, t.purpose, t.nodeId, t.commandId, t.mac, t.issuedTo, t.description, t.secretHash, t.createdAt.getTime(), t.expiresAt.getTime(), t.revokedAt?.getTime() ?? null, t.maxUses, t.uses]);
    },

    async getBootstrapToken(id) {
      const { rows } = await query('SELECT * FROM bootstrap_tokens WHERE id = $1', [id]);
      return rows[0] ? rowToken(rows[0] as TokenRow) : null;
    },

    async listBootstrapTokens() {
      return ((await query('SELECT * FROM bootstrap_tokens ORDER BY created_at DESC, id')).rows as TokenRow[]).map(rowToken);
    },

    async revokeBootstrapToken(id, at) {
      return ((await query('UPDATE bootstrap_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at.getTime(), id])).rowCount ?? 0) > 0;
    },

    async useBootstrapToken(id) {
      return ((await query('UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)', [id])).rowCount ?? 0) > 0;
    },

    async nodeCounts() {
      const byState = (await query('SELECT state, presence, count(*)::int AS n FROM nodes GROUP BY state, presence')).rows as Array<{ state: string; presence: string; n: number }>;
      const worst = (await query(`SELECT w, count(*)::int AS n FROM (SELECT max(CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) AS w
        FROM node_conditions GROUP BY node_id) per_node GROUP BY w`)).rows as Array<{ w: number; n: number }>;
      const total = ((await query('SELECT count(*)::int AS n FROM nodes')).rows[0] as { n: number }).n;
      const conditions = (await query('SELECT severity, count(*)::int AS n FROM node_conditions GROUP BY severity')).rows as Array<{ severity: string; n: number }>;
      return countsFrom(byState, worst, total, conditions);
    },

    async listNodes() {
      const { rows } = await query(`SELECT ${pgNodeColumns} FROM nodes n ORDER BY n.registered_at, n.id`);
      const byNode = groupConditions((await query('SELECT * FROM node_conditions')).rows as ConditionRow[]);
      return (rows as NodeRow[]).map((row) => rowSummary(row, byNode.get(row.id)));
    },

    async getNodeSummary(nodeId) {
      const row = (await query(`SELECT ${pgNodeColumns} FROM nodes n WHERE n.id = $1`, [nodeId])).rows[0] as NodeRow | undefined;
      if (!row) return null;
      return rowSummary(row, ((await query('SELECT * FROM node_conditions WHERE node_id = $1 ORDER BY component, code', [nodeId])).rows as ConditionRow[]).map(rowCondition));
    },

    async getNode(nodeId) {
      const { rows } = await query(`SELECT ${pgNodeColumns} FROM nodes n WHERE n.id = $1`, [nodeId]);
      const row = rows[0] as NodeRow | undefined;
      if (!row) return null;
      const conditions = ((await query('SELECT * FROM node_conditions WHERE node_id = $1 ORDER BY component, code', [nodeId])).rows as ConditionRow[]).map(rowCondition);
      const json = ((await query('SELECT inventory_json FROM nodes WHERE id = $1', [nodeId])).rows[0] as { inventory_json: string }).inventory_json;
      const record: NodeRecord = { ...rowSummary(row, conditions), inventory: parseInventory(json) };
      return record;
    },

    async purgeOverwrittenSecrets() {
      // Dead row versions keep the old values until the table is rewritten.
      await query('VACUUM FULL node_bmcs, enrollments');
    },
    async close() {
      health.stop();
      await eventWake.close();
      await pool.end();
    },
  };
}
