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
}

export const defaultStatementCacheSize = 256;

export function withStatementCache(db: DatabaseSync, capacity = defaultStatementCacheSize): SqliteHandle {
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
      const statement = db.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > capacity) statements.delete(statements.keys().next().value as string);
      return statement;
    },
    exec(sql: string): void {
      db.exec(sql);
    },
  };
}
