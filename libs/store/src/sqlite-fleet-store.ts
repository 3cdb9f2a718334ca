// FleetStore on SQLite through node:sqlite (no native addon), WAL mode.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { connectionKey, DomainError, inventoryFacts, normalizeIdentity, type Inventory, type KnownIdentity, type NodeIdentity } from '@metalfleet/domain';
import type { FleetStore, NewNode, NodeRecord, TokenUse } from './fleet-store.ts';
import {
  countsFrom, groupConditions, nodeColumns, parseInventory, rowCondition, rowHealthEvent, rowIdentity, rowSummary, rowToken, rowTransition,
  type ConditionRow, type HealthEventRow, type NodeRow, type TokenRow, type TransitionRow,
} from './rows.ts';
import { sqliteMigrations, type Migration } from './sqlite-migrations.ts';
import { sqliteNetworkStore } from './sqlite-network.ts';
import { sqliteExecutor } from './sqlite-executor.ts';
import { sqliteTransaction, withStatementCache } from './sqlite-statements.ts';
import { sqlWorkStore } from './sql-work-store.ts';
import { fenceHolds, sqliteNowMs, sqlLeaseStore } from './lease-store.ts';
import { sqlNodeCertificateStore } from './node-certificate-store.ts';
import { inProcessEventWake, sqlEventJournalStore } from './event-journal-store.ts';
import { sqliteJournalTransaction } from './sqlite-journal.ts';
import { sqlAccessStore } from './access-store.ts';
import { sqlAcceptanceStore } from './acceptance-store.ts';
import { sqlSkuProfileStore } from './sku-profile-store.ts';
import { sqlReplacementStore } from './replacement-store.ts';
import { sqlAlertStore } from './alert-store.ts';
import { sqlIdentityStore } from './identity-store.ts';
import { storeHealth, type StoreAvailability } from './store-health.ts';
import { lowDiskSpace, writeProbeSql } from './disk-space.ts';
import { lastWriteFromRow, lastWriteSql } from './last-write.ts';

const sqliteNodeColumns = nodeColumns("(SELECT group_concat(mac, ',') FROM (SELECT mac FROM node_macs WHERE node_id = n.id ORDER BY mac))");

function applyMigrations(db: DatabaseSync, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    sqliteTransaction(db, () => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
    });
  }
}



export interface SqliteOptions {
  /** A file path, or ':memory:'. The directory is created when missing. */
  path: string;
  /** Told when the store cannot write (a full disk, an I/O error) and when it can again (the manager logs it). */
  onAvailabilityChange?: (state: StoreAvailability) => void;
}

export function openSqliteFleetStore(options: SqliteOptions): FleetStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const database = new DatabaseSync(options.path);
  database.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  applyMigrations(database, sqliteMigrations);
  // Every query below goes through the cache (prepared once, after the migrations, so no statement predates the schema).
  // A full disk or an I/O error on write is an outage (`unavailable`, 503), not a 500; the probe writes for real (on
  // the database itself, so the driver's errors reach it untranslated) and checks the free space first.
  const dir = options.path === ':memory:' ? null : dirname(resolve(options.path));
  const health = storeHealth({
    ping: async () => database.prepare('SELECT 1').get(),
    writeProbe: async () => database.prepare(writeProbeSql).run(),
    precheck: dir === null ? undefined : () => lowDiskSpace(dir),
    describe: ({ problem, what }) => (problem === 'disk-full' ? `the manager's disk is full: ${dir ?? options.path}` : `the fleet store cannot write (${what}): ${options.path}`),
    onChange: options.onAvailabilityChange,
  });
  const db = withStatementCache(database, undefined, health.translate);
  const executor = sqliteExecutor(db);

  const selectNode = db.prepare(`SELECT ${sqliteNodeColumns} FROM nodes n WHERE n.id = ?`);
  const selectConditions = db.prepare('SELECT * FROM node_conditions WHERE node_id = ? ORDER BY component, code');
  const upsertCondition = db.prepare(`INSERT INTO node_conditions (node_id, component, code, severity, remediation, message, since) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (node_id, component, code) DO UPDATE SET severity = excluded.severity, remediation = excluded.remediation, message = excluded.message`);

  const listNodeRows = db.prepare(`SELECT ${nodeColumns('NULL')} FROM nodes n ORDER BY n.registered_at, n.id`);
  const listMacs = db.prepare('SELECT node_id, mac FROM node_macs ORDER BY node_id, mac');
  const selectInventory = db.prepare('SELECT inventory_json FROM node_inventories WHERE node_id = ?');
  const upsertInventory = db.prepare('INSERT INTO node_inventories (node_id, inventory_json) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET inventory_json = excluded.inventory_json');

  function writeInventory(nodeId: string, inventory: Inventory): void {
    upsertInventory.run(nodeId, JSON.stringify(inventory));
  }

  function writeFacts(nodeId: string, inventory: Inventory): void {
    const facts = inventoryFacts(inventory);
    db.prepare('UPDATE nodes SET gpu_model = ?, gpu_count = ?, rack = ? WHERE id = ?').run(facts.gpuModel, facts.gpuCount, facts.rack, nodeId);
  }

  function writeIdentity(node: NewNode, identity: NodeIdentity): void {
    db.prepare('DELETE FROM node_macs WHERE node_id = ?').run(node.id);
    const insertMac = db.prepare('INSERT INTO node_macs (mac, node_id) VALUES (?, ?)');
    for (const mac of identity.macs) insertMac.run(mac, node.id);
  }

  // Inside the node write's transaction: a use is spent only for a node written, and a racer finds none left.
  function spendTokenUse(use: TokenUse | undefined, nodeId: string, at: Date): void {
    if (!use) return;
    if (use.retry) {
      const still = db.prepare(`SELECT 1 AS ok FROM bootstrap_token_uses u JOIN nodes n ON n.id = u.node_id
        WHERE u.token_id = ? AND u.identity_key = ? AND u.node_id = ? AND n.credential_hash = ? AND u.nonce_hash = ?`)
        .get(use.tokenId, use.identityKey, nodeId, use.retry.credentialHash, use.nonceHash);
      if (!still) throw new DomainError('unauthenticated', `bootstrap token ${use.tokenId} has no uses left (its use by this machine was settled or retried meanwhile)`);
      return;
    }
    const counted = db.prepare('UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)').run(use.tokenId).changes > 0;
    if (!counted) throw new DomainError('unauthenticated', `bootstrap token ${use.tokenId} has no uses left`);
    db.prepare(`INSERT INTO bootstrap_token_uses (token_id, identity_key, node_id, at, nonce_hash) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (token_id, identity_key) DO UPDATE SET node_id = excluded.node_id, at = excluded.at, nonce_hash = excluded.nonce_hash`)
      .run(use.tokenId, use.identityKey, nodeId, at.getTime(), use.nonceHash);
  }

  const eventWake = inProcessEventWake(executor);
  const journaled = sqliteJournalTransaction(db, eventWake.wake);

  return {
    ...sqliteNetworkStore(db, sqliteTransaction, journaled),
    ...sqlWorkStore(executor, sqliteNowMs, eventWake.within),
    ...sqlLeaseStore(executor, sqliteNowMs),
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
      const params: SQLInputValue[] = [];
      const list = (values: readonly string[]) => values.map(() => '?').join(',');
      if (n.systemUuid) {
        lookups.push("SELECT id FROM nodes WHERE system_uuid = ? AND system_uuid <> ''");
        params.push(n.systemUuid);
      }
      if (serials.length > 0) {
        for (const column of ['system_serial', 'chassis_serial', 'board_serial']) {
          lookups.push(`SELECT id FROM nodes WHERE ${column} IN (${list(serials)}) AND ${column} <> ''`);
          params.push(...serials);
        }
      }
      if (n.macs.length > 0) {
        lookups.push(`SELECT node_id FROM node_macs WHERE mac IN (${list(n.macs)})`);
        params.push(...n.macs);
      }
      if (lookups.length === 0) return [];
      const rows = db.prepare(`SELECT ${sqliteNodeColumns} FROM nodes n WHERE n.id IN (${lookups.join(' UNION ')})`).all(...params) as unknown as NodeRow[];
      return rows.map((row): KnownIdentity => ({ nodeId: row.id, identity: rowIdentity(row) }));
    },

    async createNode(node, tokenUse) {
      const identity = normalizeIdentity(node.identity);
      sqliteTransaction(db, () => {
        db.prepare(`INSERT INTO nodes (id, hostname, system_uuid, system_serial, chassis_serial, board_serial, bmc_address,
            state, presence, presence_changed_at, last_seen_at, registered_at, agent_version, credential_hash)
          VALUES (?, ?, ?, ?, ?, ?, ?, 'discovered', 'unknown', NULL, ?, ?, ?, ?)`).run(
          node.id, node.hostname, identity.systemUuid, identity.systemSerial, identity.chassisSerial, identity.boardSerial,
          identity.bmcAddress, node.at.getTime(), node.at.getTime(), node.agentVersion, node.credentialHash);
        writeInventory(node.id, node.inventory);
        writeIdentity(node, identity);
        writeFacts(node.id, node.inventory);
        spendTokenUse(tokenUse, node.id, node.at);
      });
    },

    async updateRegistration(node, tokenUse) {
      const identity = normalizeIdentity(node.identity);
      sqliteTransaction(db, () => {
        // First: a retry's check reads the credential the node had before this write.
        spendTokenUse(tokenUse, node.id, node.at);
        db.prepare(`UPDATE nodes SET hostname = ?, system_uuid = ?, system_serial = ?, chassis_serial = ?, board_serial = ?,
            bmc_address = ?, last_seen_at = ?, agent_version = ?, credential_hash = ? WHERE id = ?`).run(
          node.hostname, identity.systemUuid, identity.systemSerial, identity.chassisSerial, identity.boardSerial,
          identity.bmcAddress, node.at.getTime(), node.agentVersion, node.credentialHash, node.id);
        writeInventory(node.id, node.inventory);
        writeIdentity(node, identity);
        writeFacts(node.id, node.inventory);
      });
    },


    async updateInventory(nodeId, inventory) {
      return sqliteTransaction(db, () => {
        const result = db.prepare('UPDATE nodes SET hostname = ? WHERE id = ?').run(inventory.system.hostname, nodeId);
        if (result.changes === 0) return false;
        writeInventory(nodeId, inventory);
        writeFacts(nodeId, inventory);
        return true;
      });
    },

    async credentialHash(nodeId) {
      const row = db.prepare('SELECT credential_hash FROM nodes WHERE id = ?').get(nodeId) as { credential_hash: string } | undefined;
      return row?.credential_hash ?? null;
    },

    async setPresence(nodeId, presence, at, fence, agent) {
      const held = fence ? fenceHolds(fence, sqliteNowMs) : null;
      const { key: session, sessionPrefix } = connectionKey(agent ?? { session: '', connection: 0 });
      if (presence === 'online' && session !== '') {
        db.prepare(`UPDATE nodes SET agent_session = ? WHERE id = ? AND agent_session <> ?
          AND NOT (substr(agent_session, 1, length(?)) = ? AND agent_session > ?)`).run(session, nodeId, session, sessionPrefix, sessionPrefix, session);
      }
      const ownSession = presence === 'offline' && session !== '' ? " AND agent_session IN ('', ?)" : '';
      const result = db.prepare(`UPDATE nodes SET presence = ?, presence_changed_at = ?,
          last_seen_at = CASE WHEN ? = 'online' THEN ? ELSE last_seen_at END
        WHERE id = ? AND presence <> ?${ownSession}${held ? ` AND ${held.sql}` : ''}`)
        .run(presence, at.getTime(), presence, at.getTime(), nodeId, presence, ...(ownSession ? [session] : []), ...((held?.params ?? []) as SQLInputValue[]));
      return result.changes > 0;
    },

    async markSeenMany(seen) {
      if (seen.length === 0) return [];
      const mark = db.prepare('UPDATE nodes SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ? RETURNING presence, presence_changed_at');
      const heardAfterOffline: string[] = [];
      sqliteTransaction(db, () => {
        for (const [nodeId, at] of seen) {
          const row = mark.get(at.getTime(), nodeId) as { presence: string; presence_changed_at: number | null } | undefined;
          if (row?.presence === 'offline' && Number(row.presence_changed_at ?? 0) < at.getTime()) heardAfterOffline.push(nodeId);
        }
      });
      return heardAfterOffline;
    },

    lastWriteAt: async () => lastWriteFromRow(db.prepare(lastWriteSql).get() as { t: unknown } | undefined),

    async silentNodes(before) {
      const rows = db.prepare("SELECT id FROM nodes WHERE presence = 'online' AND coalesce(last_seen_at, 0) < ?").all(before.getTime()) as Array<{ id: string }>;
      return rows.map((r) => r.id);
    },

    async applyHealthEvent(nodeId, event) {
      return sqliteTransaction(db, () => {
        const inserted = db.prepare(`INSERT INTO health_events (node_id, event_id, sequence, at, received_at, changes_json)
            SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM nodes WHERE id = ?)
            ON CONFLICT (node_id, event_id) DO NOTHING`).run(
          nodeId, event.eventId, event.sequence, event.at.getTime(), event.receivedAt.getTime(), JSON.stringify(event.changes), nodeId);
        if (inserted.changes === 0) return false;
        for (const { kind, condition: c } of event.changes) {
          if (kind === 'cleared') db.prepare('DELETE FROM node_conditions WHERE node_id = ? AND component = ? AND code = ?').run(nodeId, c.component, c.code);
          else upsertCondition.run(nodeId, c.component, c.code, c.severity, c.remediation, c.message, c.since.getTime());
        }
        return true;
      });
    },

    async replaceConditions(nodeId, conditions) {
      sqliteTransaction(db, () => {
        db.prepare('DELETE FROM node_conditions WHERE node_id = ?').run(nodeId);
        for (const c of conditions) upsertCondition.run(nodeId, c.component, c.code, c.severity, c.remediation, c.message, c.since.getTime());
      });
    },

    async conditions(nodeId) {
      return (selectConditions.all(nodeId) as unknown as ConditionRow[]).map(rowCondition);
    },

    async healthEvents(nodeId, limit) {
      const rows = db.prepare(`SELECT * FROM (SELECT event_id, sequence, at, received_at, changes_json, rowid AS r FROM health_events
          WHERE node_id = ? ORDER BY rowid DESC LIMIT ?) ORDER BY r`).all(nodeId, limit) as unknown as HealthEventRow[];
      return rows.map(rowHealthEvent);
    },

    async healthEventPage(nodeId, limit, before = Number.MAX_SAFE_INTEGER) {
      const rows = db.prepare(`SELECT event_id, sequence, at, received_at, changes_json, rowid AS r FROM health_events
          WHERE node_id = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?`).all(nodeId, before, limit) as unknown as Array<HealthEventRow & { r: number }>;
      return { events: rows.map(rowHealthEvent), next: rows.length === limit ? (rows.at(-1)?.r ?? null) : null };
    },

    async transitionNode(nodeId, from, to, event, cause, { events = [], fence } = {}) {
      const held = fence ? fenceHolds(fence, sqliteNowMs) : null;
      return journaled(events, () => {
        const moved = db.prepare(`UPDATE nodes SET state = ? WHERE id = ? AND state = ?${held ? ` AND ${held.sql}` : ''}`).run(to, nodeId, from, ...((held?.params ?? []) as SQLInputValue[]));
        if (moved.changes === 0) return false;
        db.prepare('INSERT INTO node_transitions (node_id, from_state, to_state, event, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(nodeId, from, to, event, cause.actor, cause.reason, cause.at.getTime());
        return true;
      });
    },

    async history(nodeId) {
      const rows = db.prepare('SELECT from_state, to_state, event, actor, reason, at FROM node_transitions WHERE node_id = ? ORDER BY id').all(nodeId) as unknown as TransitionRow[];
      return rows.map(rowTransition);
    },

    async offlineSince(state, before) {
      const rows = db.prepare("SELECT id FROM nodes WHERE state = ? AND presence = 'offline' AND presence_changed_at < ?").all(state, before.getTime()) as Array<{ id: string }>;
      return rows.map((r) => r.id);
    },

    async createBootstrapToken(t) {
      db.prepare(`INSERT INTO bootstrap_tokens (id, purpose, node_id, command_id, mac, issued_to, description, secret_hash, created_at, expires_at, revoked_at, max_uses, uses)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(t.id, t.purpose, t.nodeId, t.commandId, t.mac, t.issuedTo, t.description, t.secretHash, t.createdAt.getTime(), t.expiresAt.getTime(), t.revokedAt?.getTime() ?? null, t.maxUses, t.uses);
    },

    async getBootstrapToken(id) {
      const row = db.prepare('SELECT * FROM bootstrap_tokens WHERE id = ?').get(id) as unknown as TokenRow | undefined;
      return row ? rowToken(row) : null;
    },

    async listBootstrapTokens() {
      return (db.prepare('SELECT * FROM bootstrap_tokens ORDER BY created_at DESC, id').all() as unknown as TokenRow[]).map(rowToken);
    },

    async revokeBootstrapToken(id, at) {
      return db.prepare('UPDATE bootstrap_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at.getTime(), id).changes > 0;
    },

    async useBootstrapToken(id) {
      return db.prepare('UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)').run(id).changes > 0;
    },

    async nodeCounts() {
      const byState = db.prepare('SELECT state, presence, count(*) AS n FROM nodes GROUP BY state, presence').all() as Array<{ state: string; presence: string; n: number }>;
      const worst = db.prepare(`SELECT w, count(*) AS n FROM (SELECT max(CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) AS w
        FROM node_conditions GROUP BY node_id) GROUP BY w`).all() as Array<{ w: number; n: number }>;
      const conditions = db.prepare('SELECT severity, count(*) AS n FROM node_conditions GROUP BY severity').all() as Array<{ severity: string; n: number }>;
      return countsFrom(byState, worst, (db.prepare('SELECT count(*) AS n FROM nodes').get() as { n: number }).n, conditions);
    },

    async listNodes() {
      // MACs in one pass, not a subquery per node (a third of the time at 10,000 nodes).
      const macs = new Map<string, string[]>();
      for (const r of listMacs.all() as Array<{ node_id: string; mac: string }>) {
        const list = macs.get(r.node_id);
        if (list) list.push(r.mac);
        else macs.set(r.node_id, [r.mac]);
      }
      const rows = listNodeRows.all() as unknown as NodeRow[];
      const byNode = groupConditions(db.prepare('SELECT * FROM node_conditions').all() as unknown as ConditionRow[]);
      return rows.map((row) => {
        row.macs = macs.get(row.id)?.join(',') ?? null;
        return rowSummary(row, byNode.get(row.id));
      });
    },

    async getNodeSummary(nodeId) {
      const row = selectNode.get(nodeId) as unknown as NodeRow | undefined;
      return row ? rowSummary(row, (selectConditions.all(nodeId) as unknown as ConditionRow[]).map(rowCondition)) : null;
    },

    async getNode(nodeId) {
      const row = selectNode.get(nodeId) as unknown as NodeRow | undefined;
      if (!row) return null;
      const conditions = (selectConditions.all(nodeId) as unknown as ConditionRow[]).map(rowCondition);
      const { inventory_json: json } = selectInventory.get(nodeId) as { inventory_json: string };
      const record: NodeRecord = { ...rowSummary(row, conditions), inventory: parseInventory(json) };
      return record;
    },

    async purgeOverwrittenSecrets() {
      // VACUUM copies live rows into fresh pages (freed cells keep their old bytes otherwise); the checkpoint moves
      // them into fleet.db and empties the WAL, which still holds the old pages.
      db.exec('VACUUM');
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    },
    availability: () => health.check(),
    async close() {
      health.stop();
      database.close();
    },
  };
}

