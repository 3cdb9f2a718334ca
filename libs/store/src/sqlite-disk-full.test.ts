// A full disk under the SQLite store, simulated with PRAGMA max_page_count on the store's own
// connection (SQLITE_FULL, and SQLite rolls the transaction back itself, as on a real full disk):
// the caller gets `unavailable` naming the disk, never "cannot rollback - no transaction is active".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { DomainError } from '@metalfleet/domain';
import { newNode } from './fleet-store.contract.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';
import { sqliteTransaction } from './sqlite-statements.ts';
import type { StoreAvailability } from './store-health.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Fills the database up to `maxPages` pages from now on. */
function capPages(db: DatabaseSync, extra: number): void {
  const { page_count: pages } = db.prepare('PRAGMA page_count').get() as { page_count: number };
  db.exec(`PRAGMA max_page_count = ${pages + extra}`);
}

describe('SQLite on a full disk', () => {
  it('a transaction that fails with SQLITE_FULL throws that error, not the failed ROLLBACK after it', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (v TEXT)');
    capPages(db, 0);
    const failed = (() => {
      try {
        sqliteTransaction(db, () => {
          for (let i = 0; i < 100; i += 1) db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(1000));
        });
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(failed).toMatchObject({ errcode: 13, message: expect.stringMatching(/disk is full/) });
    expect(db.isTransaction).toBe(false);
    db.close();
  });

  it('store writes answer `unavailable` naming the data directory, the state changes once, and writes work again once there is room', async () => {
    // The store's own connection, caught at its first prepare (max_page_count holds per connection).
    const connections = new Set<DatabaseSync>();
    const prepare = DatabaseSync.prototype.prepare;
    vi.spyOn(DatabaseSync.prototype, 'prepare').mockImplementation(function (this: DatabaseSync, sql: string) {
      connections.add(this);
      return prepare.call(this, sql);
    });
    const changes: StoreAvailability[] = [];
    const store = openSqliteFleetStore({ path: join(dir, 'data', 'fleet.db'), onAvailabilityChange: (s) => changes.push(s) });
    const [connection] = [...connections];
    try {
      await store.createNode(newNode('n0', { systemUuid: 'u-0' }));
      capPages(connection!, 0);
      const failures: unknown[] = [];
      for (let i = 1; i <= 50 && failures.length < 3; i += 1) {
        await store.createNode(newNode(`n${i}`, { systemUuid: `u-${i}` })).catch((error: unknown) => failures.push(error));
      }
      expect(failures).toHaveLength(3);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(DomainError);
        expect(failure).toMatchObject({ code: 'unavailable', message: `the manager's disk is full: ${join(dir, 'data')}; retry later` });
      }
      expect(changes[0]).toMatchObject({ available: false, problem: 'disk-full', reason: 'database or disk is full' });
      expect(changes.filter((c) => !c.available)).toHaveLength(1);

      capPages(connection!, 1000);
      await store.createNode(newNode('n99', { systemUuid: 'u-99' }));
      expect(await store.getNodeSummary('n99')).not.toBeNull();
      expect(await store.getNodeSummary('n0')).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});
