import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { newNode } from './fleet-store.contract.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';
import { UnknownStoredValueError } from './rows.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-statements-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('SQLite statements', () => {
  it('pages a node\'s health events newest first from an index, without sorting all its events for each page (review finding)', async () => {
    const path = join(dir, 'plan', 'fleet.db');
    const store = openSqliteFleetStore({ path });
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT event_id FROM health_events WHERE node_id = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?')
        .all('n1', 1000, 100).map((r) => String((r as { detail: string }).detail));
      expect(plan.join('; ')).toMatch(/USING INDEX health_events_by_node_rowid/);
      expect(plan.join('; ')).not.toMatch(/TEMP B-TREE/);
    } finally {
      db.close();
    }
  });

  it('prepares the credential lookup of an MQTT CONNECT once, and still answers each node its own hash', async () => {
    const store = openSqliteFleetStore({ path: join(dir, 'cache', 'fleet.db') });
    try {
      await store.createNode({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'hash-1' });
      await store.createNode({ ...newNode('n2', { systemUuid: 'u-2' }), credentialHash: 'hash-2' });
      await store.credentialHash('n1');
      const prepare = vi.spyOn(DatabaseSync.prototype, 'prepare');
      const answers: Array<string | null> = [];
      for (let i = 0; i < 50; i += 1) answers.push(await store.credentialHash(i % 2 === 0 ? 'n1' : 'n2'));
      answers.push(await store.credentialHash('nobody'));
      expect(prepare).not.toHaveBeenCalled();
      expect(answers.slice(0, 2)).toEqual(['hash-1', 'hash-2']);
      expect(new Set(answers.slice(0, 50))).toEqual(new Set(['hash-1', 'hash-2']));
      expect(answers.at(-1)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('prepares the queries of the shared SQL stores once too', async () => {
    const store = openSqliteFleetStore({ path: join(dir, 'executor', 'fleet.db') });
    try {
      await store.listApiTokens();
      const prepare = vi.spyOn(DatabaseSync.prototype, 'prepare');
      for (let i = 0; i < 20; i += 1) expect(await store.listApiTokens()).toEqual([]);
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      await store.close();
    }
  });
});

describe('SQLite rows', () => {
  it('refuses a node whose stored state is not one it knows, naming the value, instead of calling it discovered', async () => {
    const path = join(dir, 'state', 'fleet.db');
    const store = openSqliteFleetStore({ path });
    try {
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }));
      const raw = new DatabaseSync(path);
      raw.prepare("UPDATE nodes SET state = 'zombie' WHERE id = 'n1'").run();
      raw.close();
      const failure = await store.getNode('n1').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(UnknownStoredValueError);
      expect(failure).toMatchObject({ code: 'internal', details: { column: 'nodes.state', value: 'zombie' } });
      expect(String(failure)).toContain("'zombie'");
      await expect(store.listNodes()).rejects.toThrow(UnknownStoredValueError);
    } finally {
      await store.close();
    }
  });

  it('fails an open command whose stored arguments no longer fit its kind, leaves a kind only a newer manager knows alone, and still hands out the others', async () => {
    const path = join(dir, 'commands', 'fleet.db');
    const store = openSqliteFleetStore({ path });
    try {
      await store.createNode(newNode('n1', { systemUuid: 'u-c' }));
      const at = new Date('2026-11-21T10:00:00Z');
      const command = (id: string) => ({
        id, nodeId: 'n1', operationId: null, kind: 'reset-gpu' as const, args: { gpuIndex: 1 }, state: 'pending' as const, attempts: 0, ackDeadlineAt: null,
        message: '', verifiedSha256: '', createdAt: at, updatedAt: at,
      });
      await store.createCommand(command('c1'));
      await store.createCommand(command('c2'));
      await store.createCommand(command('c3'));
      await store.createCommand(command('c4'));
      const raw = new DatabaseSync(path);
      // A hand edit, and a kind only a newer manager sharing the database knows.
      raw.prepare(`UPDATE commands SET args = '{"gpuIndex":99}' WHERE id = 'c1'`).run();
      raw.prepare(`UPDATE commands SET kind = 'firmware-update' WHERE id = 'c3'`).run();
      raw.prepare(`UPDATE commands SET args = '{gpuIndex' WHERE id = 'c4'`).run();
      // One such row stopped every command from being sent (the sweep threw) and the manager from starting (resume threw).
      expect((await store.openCommands()).map((c) => c.id)).toEqual(['c2']);
      const ended = raw.prepare("SELECT id, state, message FROM commands WHERE id <> 'c2' ORDER BY id").all();
      raw.close();
      expect(ended).toEqual([
        { id: 'c1', state: 'failed', message: expect.stringContaining('gpuIndex must be an integer from 0 to 63') },
        // Not this manager's to end: the newer one sends it.
        { id: 'c3', state: 'pending', message: '' },
        { id: 'c4', state: 'failed', message: 'stored command is invalid, not sent: the arguments are not JSON' },
      ]);
    } finally {
      await store.close();
    }
  });
});
