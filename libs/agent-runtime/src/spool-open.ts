// Opening the spool file so that a bad one never stops the agent: a spool that
// cannot be opened, fails SQLite's quick_check, or is not a spool (wrong
// schema) is moved aside (quarantined, a few kept for a person to look at) and
// a new one is made; a zero-length one is replaced, and so is one that is
// missing where the agent has run before (it has a saved credential). Either way the new spool
// records when the old one was lost, because with it went the command journal
// (what already ran): see journalLostAt and docs/agent-commands.md.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** What was wrong with the spool file found at open, and where it went. */
export interface SpoolRecovery {
  reason: 'corrupt' | 'empty' | 'missing';
  /** What SQLite (or the schema check) said. */
  detail: string;
  /** The file it was moved to; null when there was nothing to keep (zero-length). */
  quarantinedAs: string | null;
  at: Date;
}

/** Quarantined spools kept beside the live one; older ones are deleted. */
export const quarantinedSpoolsKept = 3;

const schema = `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
  CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, replace_key TEXT);
  CREATE INDEX IF NOT EXISTS spool_by_namespace ON spool (namespace, seq);
  CREATE TABLE IF NOT EXISTS counters (namespace TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (namespace, name));
  CREATE TABLE IF NOT EXISTS executed (namespace TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (namespace, key));
  CREATE TABLE IF NOT EXISTS command_journal (namespace TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL,
    boot_id TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL, PRIMARY KEY (namespace, key));
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);`;

/** Every column the spool code reads or writes: a table that lacks one is not this spool's. */
const probes = [
  'SELECT seq, namespace, topic, payload, replace_key FROM spool LIMIT 0',
  'SELECT namespace, name, value FROM counters LIMIT 0',
  'SELECT namespace, key, at FROM executed LIMIT 0',
  'SELECT namespace, key, kind, payload, boot_id, done, at FROM command_journal LIMIT 0',
  'SELECT name, value FROM meta LIMIT 0',
];

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** What makes a spool unusable as it is: SQLite's damage codes, or our own checks (quick_check, tables, columns). */
class SpoolDamage extends Error {}

/** SQLITE_CORRUPT (11) and SQLITE_NOTADB (26). Anything else (busy, I/O, permissions, a read-only disk) may pass: the spool is kept. */
function isDamage(error: unknown): boolean {
  if (error instanceof SpoolDamage) return true;
  const code = typeof error === 'object' && error !== null ? ((error as { errcode?: number }).errcode ?? 0) % 256 : 0;
  return code === 11 || code === 26;
}

/** Opens an existing spool as it is (empty: it has no tables at all); throws (with SQLite's reason) when it is not a sound spool. */
function openChecked(path: string): { db: DatabaseSync; empty: boolean } {
  const db = new DatabaseSync(path);
  try {
    const problems = (db.prepare('PRAGMA quick_check').all() as Array<Record<string, string>>).map((row) => Object.values(row)[0]).filter((v) => v !== 'ok');
    if (problems.length > 0) throw new SpoolDamage(`quick_check: ${problems.slice(0, 3).join('; ')}`);
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'spool'").get() as { n: number };
    const any = db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number };
    if (tables.n === 0 && any.n > 0) throw new SpoolDamage('not a spool: it has tables, but no spool table');
    try {
      db.exec(schema);
      for (const probe of probes) db.prepare(probe);
    } catch (error) {
      // SQLITE_ERROR here is a table without the columns a spool has; anything else (read-only, I/O) is not damage.
      const code = typeof error === 'object' && error !== null ? ((error as { errcode?: number }).errcode ?? 0) % 256 : 0;
      throw code === 1 ? new SpoolDamage(`not a spool: ${message(error)}`) : error;
    }
    return { db, empty: any.n === 0 };
  } catch (error) {
    db.close();
    throw error;
  }
}

function stamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

/** Moves the spool (and its WAL) aside and deletes all but the newest few quarantined before it. */
function quarantine(path: string, at: Date): string {
  const target = `${path}.corrupt-${stamp(at)}`;
  renameSync(path, target);
  // The WAL belongs to the file it was written for; the shared-memory index is rebuilt from it.
  if (existsSync(`${path}-wal`)) renameSync(`${path}-wal`, `${target}-wal`);
  rmSync(`${path}-shm`, { force: true });
  const prefix = `${basename(path)}.corrupt-`;
  const quarantined = readdirSync(dirname(path)).filter((name) => name.startsWith(prefix) && !name.endsWith('-wal')).sort();
  for (const old of quarantined.slice(0, Math.max(0, quarantined.length - quarantinedSpoolsKept))) {
    rmSync(join(dirname(path), old), { force: true });
    rmSync(join(dirname(path), `${old}-wal`), { force: true });
  }
  return target;
}

/**
 * The spool database at `path`, sound: a new one when it was missing, a
 * rebuilt one (with `recovery` saying why) when it was empty or not usable.
 * `ranBefore`: the agent has state from an earlier run (a saved credential), so
 * a missing spool was lost, not never made, and is treated like an empty one.
 */
export function openSpoolDatabase(path: string, now: () => Date = () => new Date(), ranBefore = false): { db: DatabaseSync; recovery: SpoolRecovery | null } {
  if (path === ':memory:') {
    const db = new DatabaseSync(path);
    db.exec(schema);
    return { db, recovery: null };
  }
  mkdirSync(dirname(path), { recursive: true });
  const size = existsSync(path) ? statSync(path).size : null;
  let recovery: SpoolRecovery | null = null;
  if (size === null && ranBefore) {
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    recovery = { reason: 'missing', detail: 'the spool file was missing, but the agent has run here before (it has a saved credential)', quarantinedAs: null, at: now() };
  } else if (size === 0 && !(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0)) {
    // Nothing in it to keep, and SQLite would take it for a new database.
    rmSync(path, { force: true });
    rmSync(`${path}-shm`, { force: true });
    recovery = { reason: 'empty', detail: 'the spool file was zero bytes long', quarantinedAs: null, at: now() };
  } else if (size !== null) {
    try {
      const { db, empty } = openChecked(path);
      // A spool gets its tables when it is made: one without any lost them (or was never one).
      if (!empty) return { db, recovery: null };
      return { db, recovery: markLost(db, { reason: 'empty', detail: 'the spool file had no tables', quarantinedAs: null, at: now() }) };
    } catch (error) {
      // A spool that could not be opened this once (busy, I/O error, permissions) is not moved aside: its unsent reports stay.
      if (!isDamage(error)) throw error;
      const at = now();
      recovery = { reason: 'corrupt', detail: message(error), quarantinedAs: quarantine(path, at), at };
    }
  }
  const db = new DatabaseSync(path);
  db.exec(schema);
  return { db, recovery: recovery ? markLost(db, recovery) : null };
}

/** Records in the new spool when the journal was lost: commands issued before then may have run already. */
function markLost(db: DatabaseSync, recovery: SpoolRecovery): SpoolRecovery {
  db.prepare("INSERT INTO meta (name, value) VALUES ('journal-lost-at', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(String(recovery.at.getTime()));
  return recovery;
}
