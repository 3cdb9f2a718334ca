// What the fleet state store holds before the manager opens it for work: the
// SQLite file's integrity (PRAGMA quick_check) and schema version, or the
// PostgreSQL schema's version. A store that is not there is never created
// here; that is --init's decision, made by the caller.
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

export type SqliteCheck =
  | { ok: true; schemaVersion: number; checkMs: number }
  | { ok: false; problem: string };

/** SQLITE_CORRUPT (11) and SQLITE_NOTADB (26): the file is damaged or not a database at all. */
function isDamage(error: unknown): error is { errstr?: string; message: string } {
  const code = typeof error === 'object' && error !== null ? ((error as { errcode?: number }).errcode ?? 0) % 256 : 0;
  return code === 11 || code === 26;
}

/** Runs quick_check (every page and b-tree, not index contents) and reads the schema version, in `file` as it is. */
export function checkSqliteDatabase(file: string, started: () => number = Date.now): SqliteCheck {
  const begin = started();
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(file);
    const rows = db.prepare('PRAGMA quick_check(5)').all() as Array<{ quick_check: string }>;
    // One line per problem, even where SQLite's own spans several (a damaged tree lists its pages): the message is a log line.
    const problems = rows.map((row) => row.quick_check.split('\n').map((part) => part.trim()).filter(Boolean).join(': ')).filter((line) => line !== 'ok');
    if (problems.length > 0) return { ok: false, problem: problems.join('; ') };
    const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (table === undefined) return { ok: true, schemaVersion: 0, checkMs: started() - begin };
    const row = db.prepare('SELECT coalesce(max(version), 0) AS version FROM schema_migrations').get() as { version: number };
    return { ok: true, schemaVersion: row.version, checkMs: started() - begin };
  } catch (error) {
    if (isDamage(error)) return { ok: false, problem: error.errstr ?? error.message };
    throw error;
  } finally {
    db?.close();
  }
}

/** The newest migration applied in a PostgreSQL schema; 0 when the schema or its migrations table is not there. */
export async function pgSchemaVersion(connectionString: string, schema: string): Promise<number> {
  // A host gone from the network fails this probe in 5 s (and the start retries it) instead of hanging.
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  // A connection the server ends while this probe is open must not become an unhandled 'error' event.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${schema}.schema_migrations`]);
    if (rows[0]?.t == null) return 0;
    const version = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0)::int AS v FROM ${schema}.schema_migrations`);
    return version.rows[0]?.v ?? 0;
  } finally {
    await client.end();
  }
}
