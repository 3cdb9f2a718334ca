// SqlExecutor on node:sqlite.
import type { SQLInputValue } from 'node:sqlite';
import { sqliteTransaction, type SqliteHandle } from './sqlite-statements.ts';
import type { SqlExecutor } from './sql-executor.ts';

export function sqliteExecutor(db: SqliteHandle): SqlExecutor {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      return db.prepare(sql).all(...(params as SQLInputValue[])) as T[];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return Number(db.prepare(sql).run(...(params as SQLInputValue[])).changes);
    },
    async atomically(statements) {
      // Synchronous from BEGIN to COMMIT: no other caller's statement can land inside the transaction.
      sqliteTransaction(db, () => {
        for (const s of statements) db.prepare(s.sql).run(...(s.params as SQLInputValue[]));
      });
    },
    isUniqueViolation: (error) => error instanceof Error && /UNIQUE constraint failed/.test(error.message),
  };
}
