// Prepared statements kept per database, so a query run on every MQTT CONNECT
// (the credential lookup) or every API call is compiled once, not each time.
// The cache is bounded: a few queries are built with a variable number of
// placeholders (identity lookups), and each distinct text is one entry.
import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * The part of a node:sqlite database the stores use; prepare() answers from the
 * cache. Statements are shared, so callers run them (all, get, run) and never
 * change their settings or hold an iterate() open across another query.
 */
export interface SqliteHandle {
  prepare(sql: string): StatementSync;
  exec(sql: string): void;
  /** Whether a transaction is open: SQLite rolls one back by itself when a statement in it fails with SQLITE_FULL or an I/O error. */
  readonly isTransaction: boolean;
}

/** What to throw instead of a driver error (the store's typed `unavailable` for a full disk); the error itself when it is the statement's. */
export type ErrorTranslator = (error: unknown) => unknown;

/** `statement` with every method's error passed through `translate`. */
function translating(statement: StatementSync, translate: ErrorTranslator): StatementSync {
  return new Proxy(statement, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (error) {
          throw translate(error);
        }
      };
    },
  });
}

export const defaultStatementCacheSize = 256;

export function withStatementCache(db: DatabaseSync, capacity = defaultStatementCacheSize, translate: ErrorTranslator | null = null): SqliteHandle {
  // A Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  const statements = new Map<string, StatementSync>();
  return {
    prepare(sql: string): StatementSync {
      const cached = statements.get(sql);
      if (cached) {
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      let statement: StatementSync;
      try {
        statement = db.prepare(sql);
      } catch (error) {
        throw translate ? translate(error) : error;
      }
      if (translate) statement = translating(statement, translate);
      statements.set(sql, statement);
      if (statements.size > capacity) statements.delete(statements.keys().next().value as string);
      return statement;
    },
    exec(sql: string): void {
      try {
        db.exec(sql);
      } catch (error) {
        throw translate ? translate(error) : error;
      }
    },
    get isTransaction() {
      return db.isTransaction;
    },
  };
}

/**
 * Runs `work` in one write transaction. On an error the transaction is rolled back, unless SQLite
 * already did (SQLITE_FULL, an I/O error): a ROLLBACK then would fail with "no transaction is
 * active" and hide the error that matters, which is always the one thrown.
 */
export function sqliteTransaction<T>(db: SqliteHandle, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The first error is the one to report; SQLite ends the transaction when it cannot roll back.
      }
    }
    throw error;
  }
}
