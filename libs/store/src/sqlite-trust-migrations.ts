// Versions 14 on of the SQLite schema: the trust model against a hostile
// tenant (scoped boot tokens, identity conflicts and admissions, learned
// cabling with its source, the audit detail, reimage evidence, who enrolled
// from where). Append a migration; never edit one that has shipped.
import type { Migration } from './sqlite-migrations.ts';

export const sqliteTrustMigrations: readonly Migration[] = [
  {
    version: 14,
    name: 'scoped bootstrap tokens',
    sql: `
      -- Tokens from the boot endpoint are bound: a discovery token to the MAC it
      -- was handed to, an install token to its node and reimage command. Counted
      -- per purpose and MAC for the boot endpoint's caps, purged when expired.
      ALTER TABLE bootstrap_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'operator';
      ALTER TABLE bootstrap_tokens ADD COLUMN node_id TEXT;
      ALTER TABLE bootstrap_tokens ADD COLUMN command_id TEXT;
      ALTER TABLE bootstrap_tokens ADD COLUMN mac TEXT;
      CREATE INDEX bootstrap_tokens_by_purpose ON bootstrap_tokens (purpose, expires_at);
    `,
  },
  {
    version: 15,
    name: 'identity conflicts resolved, admissions',
    sql: `
      -- A conflict (or a re-enrolment waiting for approval) is one row per
      -- distinct identity while open; an operator approves it as a node or rejects it.
      ALTER TABLE identity_conflicts ADD COLUMN identity_key TEXT NOT NULL DEFAULT '';
      ALTER TABLE identity_conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'mismatch';
      ALTER TABLE identity_conflicts ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
      ALTER TABLE identity_conflicts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE identity_conflicts ADD COLUMN last_at INTEGER;
      ALTER TABLE identity_conflicts ADD COLUMN resolved_node_id TEXT;
      ALTER TABLE identity_conflicts ADD COLUMN resolved_by TEXT;
      ALTER TABLE identity_conflicts ADD COLUMN resolved_at INTEGER;
      CREATE INDEX identity_conflicts_by_key ON identity_conflicts (identity_key, status);
      -- Nodes that came through a boot-endpoint discovery token wait here until
      -- an operator (or a BMC enrollment, by policy) admits them; no row: admitted.
      CREATE TABLE node_admissions (
        node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        via TEXT NOT NULL,
        actor TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 16,
    name: 'learned links with source and trust',
    sql: `
      -- Learned cabling apart from the plan: every claim with where it came
      -- from, whether that source may map a port, and since when. Several
      -- nodes may claim one port; the domain decides who holds it (the earliest
      -- trusted claim) and warns about the rest. Links learned before this
      -- are kept as trusted ('lldp-legacy'): those ports were already mapped.
      CREATE TABLE learned_links (
        switch_name TEXT NOT NULL,
        port TEXT NOT NULL,
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('lldp-manager-image', 'lldp-node-os', 'switch', 'lldp-legacy')),
        mac TEXT NOT NULL,
        trusted INTEGER NOT NULL CHECK (trusted IN (0, 1)),
        since INTEGER NOT NULL,
        PRIMARY KEY (node_id, source, switch_name, port)
      ) STRICT;
      CREATE INDEX learned_links_by_port ON learned_links (switch_name, port);
      INSERT INTO learned_links (switch_name, port, node_id, source, mac, trusted, since)
        SELECT switch_name, port, node_id, 'lldp-legacy', mac, 1, 0 FROM port_links WHERE source = 'lldp';
      DELETE FROM port_links WHERE source = 'lldp';
    `,
  },
  {
    version: 17,
    name: 'audit detail',
    sql: `
      -- What a call changed, where the path alone does not say (a BMC's new address); never a secret.
      ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 18,
    name: 'reimage evidence',
    sql: `
      -- What the manager itself saw of each node's reimage (its power cycle, the
      -- install script served after it), as JSON: a reported install needs it.
      ALTER TABLE operation_nodes ADD COLUMN evidence TEXT NOT NULL DEFAULT '{}';
    `,
  },
  {
    version: 19,
    name: 'identity conflict peers',
    sql: `
      -- Where the refused registrations and the one that used an approval came from, for the operator.
      ALTER TABLE identity_conflicts ADD COLUMN last_peer TEXT NOT NULL DEFAULT '';
      ALTER TABLE identity_conflicts ADD COLUMN enrolled_peer TEXT;
    `,
  },
  {
    version: 20,
    name: 'reimage failure reasons, one open entry per node',
    sql: `
      -- Why a node's reimage failed, as JSON {code, phase, details}; null unless it failed.
      ALTER TABLE operation_nodes ADD COLUMN failure TEXT;
      -- Operations are now created in one transaction: one left half-created by a crash ran nowhere; dropped, so it holds no node.
      DELETE FROM operation_nodes WHERE operation_id IN (SELECT id FROM operations WHERE state = 'creating');
      DELETE FROM operations WHERE state = 'creating';
      -- A node in two open entries (created by a check-then-insert race): the later operation's entry ends.
      UPDATE operation_nodes SET phase = 'failed', deadline_at = NULL, message = 'queued: another operation already held the node',
        failure = '{"code":"node-busy","phase":"queued","details":"another operation already held the node"}'
        WHERE phase NOT IN ('done', 'failed') AND EXISTS (
          SELECT 1 FROM operation_nodes e JOIN operations eo ON eo.id = e.operation_id JOIN operations mine ON mine.id = operation_nodes.operation_id
          WHERE e.node_id = operation_nodes.node_id AND e.phase NOT IN ('done', 'failed')
            AND (eo.created_at < mine.created_at OR (eo.created_at = mine.created_at AND eo.id < mine.id)));
      -- Two operations never hold one node: at most one open entry per node, enforced here rather than checked before an insert.
      CREATE UNIQUE INDEX operation_nodes_one_open_per_node ON operation_nodes (node_id) WHERE phase NOT IN ('done', 'failed');
    `,
  },
  {
    version: 21,
    name: 'bootstrap token uses',
    sql: `
      -- Which machine (its identity key) each token use registered, as which node: the same registration
      -- retried after a lost reply is answered again instead of refused with "no uses left" (registrar.ts).
      CREATE TABLE bootstrap_token_uses (
        token_id TEXT NOT NULL REFERENCES bootstrap_tokens (id) ON DELETE CASCADE,
        identity_key TEXT NOT NULL,
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        PRIMARY KEY (token_id, identity_key)
      ) STRICT;
      CREATE INDEX bootstrap_token_uses_by_node ON bootstrap_token_uses (node_id);
    `,
  },
  {
    version: 22,
    name: 'registration nonces',
    sql: `
      -- A hash of the secret nonce the agent sent with the registration that spent the use: a retry is answered
      -- again only to the same nonce (the token and the machine's identifiers are not secret enough). Uses
      -- recorded before have none, and are not answered again.
      ALTER TABLE bootstrap_token_uses ADD COLUMN nonce_hash TEXT;
    `,
  },
  {
    version: 26,
    name: 'install token addresses',
    sql: `
      -- The address the boot endpoint handed an install token to: the install registration must come from there
      -- (install-token-grant.ts). Tokens handed out before have none, and are not checked.
      ALTER TABLE bootstrap_tokens ADD COLUMN issued_to TEXT;
    `,
  },
  {
    version: 27,
    name: 'work leases',
    sql: `
      -- Work shared by manager replicas (shards of nodes, singleton loops): who holds each lease, under which
      -- fencing epoch, until when by the database's clock (ms). See lease-store.ts.
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 28,
    name: 'event journal',
    sql: `
      -- Every fleet event in one order (event-journal-store.ts): what the event stream serves and replays from
      -- Last-Event-ID. body is the event as JSON; kept for --event-retention-h. AUTOINCREMENT: a purged seq is never given again.
      CREATE TABLE fleet_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL
      ) STRICT;
      CREATE INDEX fleet_events_at ON fleet_events (at);
    `,
  },
  {
    version: 29,
    name: 'node client certificates',
    sql: `
      -- Client certificates signed for nodes (node-certificate-store.ts): a broker checks them itself, with the
      -- manager's CA and the revocation list made from revoked_at.
      CREATE TABLE node_certificates (
        serial TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX node_certificates_node ON node_certificates (node_id);
    `,
  },
  {
    version: 30,
    name: 'node broker users',
    sql: `
      -- The NATS user key of the token given with each certificate (nats-accounts.ts): a revoked certificate's
      -- token is revoked by that key alone. '' for certificates given with no token.
      ALTER TABLE node_certificates ADD COLUMN broker_user TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 31,
    name: 'acceptance runs',
    sql: `
      -- Each acceptance suite judged (acceptance-store.ts): one row per accept command.
      CREATE TABLE acceptance_runs (
        command_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        profile TEXT,
        passed INTEGER NOT NULL,
        checks TEXT NOT NULL,
        outputs TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX acceptance_runs_by_node ON acceptance_runs (node_id, at);
    `,
  },
  {
    version: 32,
    name: 'sku profiles',
    sql: `
      -- SKU profiles an operator made through the API (sku-profile-store.ts), by name.
      CREATE TABLE sku_profiles (
        name TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 33,
    name: 'health events by node, in arrival order',
    sql: `
      -- A node's health events paged newest first (the evidence bundle) read from this index in order; the one on
      -- (node_id, received_at) made every page sort all of the node's events.
      CREATE INDEX health_events_by_node_rowid ON health_events (node_id);
    `,
  },
  {
    version: 34,
    name: 'replacements owed',
    sql: `
      -- A tenant node failed when no spare fit the tenant's template: owed until one does (replacement-store.ts).
      CREATE TABLE owed_replacements (
        failed_node_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at INTEGER NOT NULL,
        -- While a replica makes the replacement; a claim older than a few minutes is another's to take (it died).
        claimed_at INTEGER,
        PRIMARY KEY (failed_node_id, tenant_id)
      ) STRICT;
    `,
  },
  {
    version: 35,
    name: 'agent session',
    sql: `
      -- The session the node's agent said it is online in (its status messages): a last will of a session an
      -- agent has since replaced, stored late, marks nothing offline.
      ALTER TABLE nodes ADD COLUMN agent_session TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 36,
    name: 'spare noted on a replacement owed',
    sql: `
      -- The spare a replica is giving the tenant for the debt, noted first: if it dies (or fails) before the spare's
      -- reimage is made, the next one makes it, instead of counting a spare without the tenant's image as served.
      ALTER TABLE owed_replacements ADD COLUMN spare_node_id TEXT NOT NULL DEFAULT '';
      -- One spare is one debt's: two debts noting the same spare would both count it as theirs.
      CREATE UNIQUE INDEX owed_replacements_spare ON owed_replacements (spare_node_id) WHERE spare_node_id <> '';
    `,
  },
];
