// Versioned schema for the SQLite store. Append a migration; never edit one
// that has shipped.
import { sqliteTrustMigrations } from './sqlite-trust-migrations.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'nodes',
    sql: `
      CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        system_uuid TEXT NOT NULL,
        system_serial TEXT NOT NULL,
        chassis_serial TEXT NOT NULL,
        board_serial TEXT NOT NULL,
        bmc_address TEXT NOT NULL,
        state TEXT NOT NULL,
        presence TEXT NOT NULL,
        presence_changed_at INTEGER,
        last_seen_at INTEGER,
        registered_at INTEGER NOT NULL,
        agent_version TEXT NOT NULL,
        credential_hash TEXT NOT NULL,
        inventory_json TEXT NOT NULL
      ) STRICT;
      CREATE INDEX nodes_system_uuid ON nodes (system_uuid) WHERE system_uuid <> '';
      CREATE INDEX nodes_system_serial ON nodes (system_serial) WHERE system_serial <> '';
      CREATE INDEX nodes_chassis_serial ON nodes (chassis_serial) WHERE chassis_serial <> '';
      CREATE INDEX nodes_board_serial ON nodes (board_serial) WHERE board_serial <> '';
      CREATE TABLE node_macs (
        mac TEXT NOT NULL,
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        PRIMARY KEY (mac, node_id)
      ) STRICT;
      CREATE TABLE identity_conflicts (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        identity_json TEXT NOT NULL,
        node_ids TEXT NOT NULL,
        reason TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'health',
    sql: `
      CREATE TABLE health_events (
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        changes_json TEXT NOT NULL,
        PRIMARY KEY (node_id, event_id)
      ) STRICT;
      CREATE INDEX health_events_by_node ON health_events (node_id, received_at);
      CREATE TABLE node_conditions (
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        component TEXT NOT NULL,
        code TEXT NOT NULL,
        severity TEXT NOT NULL,
        remediation TEXT NOT NULL,
        message TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (node_id, component, code)
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'lifecycle',
    sql: `
      CREATE TABLE node_transitions (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX node_transitions_by_node ON node_transitions (node_id, id);
    `,
  },
  {
    version: 4,
    name: 'bootstrap tokens',
    sql: `
      CREATE TABLE bootstrap_tokens (
        id TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER,
        max_uses INTEGER,
        uses INTEGER NOT NULL DEFAULT 0
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'node list facts',
    sql: `
      ALTER TABLE nodes ADD COLUMN tenant TEXT;
      ALTER TABLE nodes ADD COLUMN rack TEXT NOT NULL DEFAULT '';
      ALTER TABLE nodes ADD COLUMN gpu_model TEXT NOT NULL DEFAULT '';
      ALTER TABLE nodes ADD COLUMN gpu_count INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    name: 'node macs by node',
    // Every node read gathers its MACs by node id; the primary key leads with the MAC.
    sql: 'CREATE INDEX node_macs_by_node ON node_macs (node_id);',
  },
  {
    version: 7,
    name: 'tenant networks',
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        vlan INTEGER NOT NULL UNIQUE,
        vni INTEGER NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      ) STRICT;
      -- The cabling: planned by hand ('manual') or heard by the node ('lldp'). One NIC per port and source.
      CREATE TABLE port_links (
        switch_name TEXT NOT NULL,
        port TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('manual', 'lldp')),
        node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
        mac TEXT NOT NULL,
        PRIMARY KEY (switch_name, port, source)
      ) STRICT;
      CREATE INDEX port_links_by_node ON port_links (node_id);
    `,
  },
  {
    version: 8,
    name: 'images, templates, BMCs, operations and commands',
    sql: `
      CREATE TABLE images (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        kernel_url TEXT NOT NULL,
        initrd_url TEXT NOT NULL,
        root_url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        cmdline TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (name, version)
      ) STRICT;
      CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE node_bmcs (
        node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
        config TEXT NOT NULL
      ) STRICT;
      CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('creating', 'running', 'succeeded', 'failed')),
        image_name TEXT NOT NULL,
        image_version TEXT NOT NULL,
        priority INTEGER NOT NULL,
        urgent INTEGER NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX operations_by_state ON operations (state, created_at);
      CREATE TABLE operation_nodes (
        operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
        node_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        rack TEXT NOT NULL,
        tenant TEXT,
        phase TEXT NOT NULL,
        power_cycles INTEGER NOT NULL,
        deadline_at INTEGER,
        message TEXT NOT NULL,
        command_id TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (operation_id, node_id)
      ) STRICT;
      -- The outbox: a command is written here before it is published, and sent again until it is acked.
      CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        operation_id TEXT,
        kind TEXT NOT NULL,
        args TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        ack_deadline_at INTEGER,
        message TEXT NOT NULL,
        verified_sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX commands_by_state ON commands (state);
    `,
  },
  {
    version: 9,
    name: 'BMC enrollments',
    sql: `
      -- A machine known by its BMC before it ever booted: powered on into PXE, and given its BMC when it registers.
      CREATE TABLE enrollments (
        mac TEXT PRIMARY KEY,
        bmc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        node_id TEXT,
        claimed_at INTEGER
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'API tokens and the audit log',
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        tenant_id TEXT,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
      ) STRICT;
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        token_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        target TEXT NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_log_by_at ON audit_log (at);
    `,
  },
  {
    version: 11,
    name: 'failure events',
    sql: `
      -- Every failure with the node's cohorts at the time; (node, code, at) makes recording it again harmless.
      CREATE TABLE failures (
        node_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        code TEXT NOT NULL,
        at INTEGER NOT NULL,
        cohorts TEXT NOT NULL,
        PRIMARY KEY (node_id, code, at)
      ) STRICT;
      CREATE INDEX failures_by_at ON failures (at);
    `,
  },
  {
    version: 12,
    name: 'alerts',
    sql: `
      -- Rules made through the API (the rules file is read at start, not stored).
      CREATE TABLE alert_rules (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      -- Every pending, firing and recently resolved alert, with what each notifier was told.
      CREATE TABLE alerts (
        fingerprint TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL
      ) STRICT;
      CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        comment TEXT NOT NULL
      ) STRICT;
      -- XID storms are counted from health events across nodes by arrival time.
      CREATE INDEX health_events_by_received_at ON health_events (received_at);
      -- A node's commands, newest first, for its detail page.
      CREATE INDEX commands_by_node ON commands (node_id, created_at);
    `,
  },
  {
    version: 13,
    name: 'inventories apart',
    sql: `
      -- The inventory (several KB of JSON) in a table of its own: columns added
      -- to nodes later sit after it in each record, so every scan of nodes read
      -- through each inventory's overflow pages (a full scan of 10,000 nodes:
      -- 287 ms before, 66 ms after).
      CREATE TABLE node_inventories (
        node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
        inventory_json TEXT NOT NULL
      ) STRICT;
      INSERT INTO node_inventories (node_id, inventory_json) SELECT id, inventory_json FROM nodes;
      ALTER TABLE nodes DROP COLUMN inventory_json;
    `,
  },
  ...sqliteTrustMigrations,
];
