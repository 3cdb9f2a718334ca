// Migration 20 on a database from before one open entry per node was
// enforced: a node two running operations held stays in the earlier one (the
// later entry ends as node-busy), and an operation a crash left half-created
// is dropped; from then on the store refuses a second open entry itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { queuedProgress } from '@metalfleet/domain';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-migration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 20 (SQLite)', () => {
  it('ends the later of two open entries for one node, drops half-created operations, and enforces one open entry from then on', async () => {
    const path = join(dir, 'fleet.db');
    await openSqliteFleetStore({ path }).close();
    // Back to the schema before migration 20, with what the check-then-insert race and a crash left behind.
    const db = new DatabaseSync(path);
    db.exec(`DROP INDEX operation_nodes_one_open_per_node; ALTER TABLE operation_nodes DROP COLUMN failure; DELETE FROM schema_migrations WHERE version = 20;
      INSERT INTO operations (id, kind, state, image_name, image_version, priority, urgent, actor, reason, created_at, updated_at) VALUES
        ('first', 'reimage', 'running', 'gpu-os', '1', 0, 0, 'a', 'r', 1000, 1000),
        ('second', 'reimage', 'running', 'gpu-os', '1', 0, 0, 'b', 'r', 2000, 2000),
        ('half', 'reimage', 'creating', 'gpu-os', '1', 0, 0, 'c', 'r', 3000, 3000);
      INSERT INTO operation_nodes (operation_id, node_id, position, rack, tenant, phase, power_cycles, deadline_at, message, command_id, updated_at) VALUES
        ('first', 'n1', 0, '', NULL, 'draining', 0, NULL, 'draining', NULL, 1000),
        ('second', 'n1', 0, '', NULL, 'queued', 0, NULL, 'waiting', NULL, 2000),
        ('second', 'n2', 1, '', NULL, 'queued', 0, NULL, 'waiting', NULL, 2000),
        ('half', 'n3', 0, '', NULL, 'queued', 0, NULL, 'waiting', NULL, 3000);`);
    db.close();

    const store = openSqliteFleetStore({ path });
    expect((await store.openOperationNodes()).map((n) => `${n.operationId}/${n.nodeId}`)).toEqual(['first/n1', 'second/n2']);
    expect((await store.operationNodes('second'))[0]?.progress).toMatchObject({ phase: 'failed', failure: { code: 'node-busy', phase: 'queued' } });
    expect(await store.getOperation('half')).toBeNull();
    const at = new Date(4000);
    const third = { id: 'third', kind: 'reimage' as const, state: 'running' as const, image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'd', reason: 'r', createdAt: at, updatedAt: at };
    await expect(store.createOperation(third, [{ operationId: 'third', nodeId: 'n1', position: 0, rack: '', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: at }]))
      .rejects.toMatchObject({ code: 'conflict' });
    await store.close();
  });
});
