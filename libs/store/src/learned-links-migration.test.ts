// Migration 16 on a database that learned links before sources were told
// apart: those links are kept, as trusted 'lldp-legacy' claims (the ports
// were already mapped, and a port never moves without an operator).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { newNode } from './fleet-store.contract.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-migration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 16 (SQLite)', () => {
  it('keeps links learned before as trusted legacy claims, and the plan as it was', async () => {
    const path = join(dir, 'fleet.db');
    const store = openSqliteFleetStore({ path });
    await store.createNode(newNode('n1', { systemUuid: 'u-1' }));
    await store.setPlannedLink('leaf-1', 'p2', { nodeId: 'n1', mac: 'aa:00:00:00:00:02' });
    await store.close();
    // Back to the schema before migration 16, with a link LLDP taught it.
    const db = new DatabaseSync(path);
    db.exec(`DROP TABLE learned_links; DELETE FROM schema_migrations WHERE version = 16;
      INSERT INTO port_links (switch_name, port, source, node_id, mac) VALUES ('leaf-1', 'p1', 'lldp', 'n1', 'aa:00:00:00:00:01');`);
    db.close();

    const migrated = openSqliteFleetStore({ path });
    expect(await migrated.portLinks()).toEqual({
      planned: [{ switchName: 'leaf-1', port: 'p2', nodeId: 'n1', mac: 'aa:00:00:00:00:02' }],
      learned: [{ switchName: 'leaf-1', port: 'p1', nodeId: 'n1', mac: 'aa:00:00:00:00:01', source: 'lldp-legacy', trusted: true, since: new Date(0) }],
    });
    await migrated.close();
  });
});
