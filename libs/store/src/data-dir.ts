// Claiming a data directory before the manager reads or writes its state:
// the lock first (one manager per directory), then what the directory and
// the store hold. Nothing is created unless the operator asked for a new
// manager with --init, and --init never overwrites one: an empty, missing or
// damaged database stops the start with what to do, instead of becoming a
// silent fresh install with new tokens and no nodes.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError } from './data-dir-error.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { checkSqliteDatabase, pgSchemaVersion } from './store-check.ts';
import { retryWhileUnreachable, type ConnectRetry } from './store-connect.ts';

/** Entries a manager leaves in its data directory; anything else there (images/, lost+found, the lock) is not state. */
const stateEntries = ['fleet.db', 'fleet.db-wal', 'telemetry.db', 'pki', 'bootstrap-token', 'admin-token', 'secret.key'] as const;
export const sqliteFileName = 'fleet.db';

/** What the directory holds, as far as deciding whether to start goes. */
export interface DataDirFacts {
  exists: boolean;
  /** The state entries present, in stateEntries order. */
  state: string[];
  /** fleet.db: absent, zero bytes (and no WAL with pages), or holding something. */
  fleetDb: 'absent' | 'empty' | 'present';
}

export function readDataDirFacts(dir: string): DataDirFacts {
  if (!existsSync(dir)) return { exists: false, state: [], fleetDb: 'absent' };
  const names = new Set(readdirSync(dir));
  const size = (name: string) => (names.has(name) ? statSync(join(dir, name)).size : 0);
  const fleetDb = !names.has(sqliteFileName) ? 'absent' : size(sqliteFileName) === 0 && size(`${sqliteFileName}-wal`) === 0 ? 'empty' : 'present';
  return { exists: true, state: stateEntries.filter((name) => names.has(name)), fleetDb };
}

const startOver = (dir: string) => `to start over instead, move ${dir} aside and start with --init`;

/** Whether a manager may go on with this directory; the refusal, with its instructions, when not. */
export function judgeDataDir(dir: string, facts: DataDirFacts, options: { init: boolean; sqlite: boolean }): DataDirError | null {
  const held = options.sqlite ? facts.state : facts.state.filter((name) => !name.startsWith(sqliteFileName));
  if (options.init) {
    if (options.sqlite && held.length > 0) {
      return new DataDirError('init-over-existing', `--init: ${dir} already holds manager state (${held.join(', ')}): start without --init to use it, or give an empty --data-dir`);
    }
    return null;
  }
  // On PostgreSQL the schema says whether there is a fleet (checked under the lock); the directory may be new.
  if (!options.sqlite) return null;
  if (held.length === 0) {
    const what = facts.exists ? 'holds no manager state' : 'does not exist';
    return new DataDirError('data-dir-missing', `data directory ${dir} ${what}: to set up a new manager there, start it once with --init`);
  }
  const file = join(dir, sqliteFileName);
  if (facts.fleetDb === 'absent') {
    return new DataDirError('database-missing',
      `${file} is missing, but ${dir} holds manager state (${held.join(', ')}): restore fleet.db from a backup; a new one would forget every node and token (${startOver(dir)})`);
  }
  if (facts.fleetDb === 'empty') {
    return new DataDirError('database-empty', `${file} is empty (0 bytes): restore it from a backup; the manager does not take it for a new fleet (${startOver(dir)})`);
  }
  return null;
}

export interface StoreTarget {
  dir: string;
  init: boolean;
  /** null: SQLite in the data directory. */
  postgres: { connectionString: string; schema: string } | null;
  /** How long to wait for a PostgreSQL that does not answer yet (none: fail at the first connection error). */
  connectRetry?: ConnectRetry;
}

export interface DataDirClaim {
  lock: DataDirLock;
  /** What was found, for the start-up log: the schema version, and for SQLite the integrity check. */
  found: { store: string; schemaVersion: number; integrity?: 'ok'; checkMs?: number; created: boolean };
}

function refuseIf(error: DataDirError | null): void {
  if (error) throw error;
}

/**
 * Locks the data directory and checks the store, or throws DataDirError with what to do. A directory
 * that fails the checks is refused before it is locked too, so that a refusal writes nothing there.
 */
export async function claimDataDir(target: StoreTarget): Promise<DataDirClaim> {
  const { dir, init, postgres } = target;
  const sqlite = postgres === null;
  refuseIf(judgeDataDir(dir, readDataDirFacts(dir), { init, sqlite }));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dir);
  try {
    // Again under the lock: another manager may have created or changed it meanwhile.
    const facts = readDataDirFacts(dir);
    refuseIf(judgeDataDir(dir, facts, { init, sqlite }));
    if (postgres) {
      const probe = () => pgSchemaVersion(postgres.connectionString, postgres.schema);
      const schemaVersion = target.connectRetry ? await retryWhileUnreachable('PostgreSQL', probe, target.connectRetry) : await probe();
      const where = `PostgreSQL schema ${postgres.schema}`;
      if (init && schemaVersion > 0) {
        throw new DataDirError('init-over-existing', `--init: ${where} already holds metalfleet state (schema version ${schemaVersion}): start without --init to use it, or give another --postgres-schema`);
      }
      if (!init && schemaVersion === 0) {
        throw new DataDirError('data-dir-missing', `${where} holds no metalfleet state: to set up a new manager there, start it once with --init (or check --postgres-url and --postgres-schema)`);
      }
      return { lock, found: { store: where, schemaVersion, created: init } };
    }
    const file = join(dir, sqliteFileName);
    if (facts.fleetDb === 'absent') return { lock, found: { store: file, schemaVersion: 0, created: true } };
    const check = checkSqliteDatabase(file);
    if (!check.ok) {
      throw new DataDirError('database-corrupt',
        `${file} failed its integrity check (${check.problem}): restore it from a backup, or salvage what is left with \`sqlite3 ${file} .recover\`; the manager does not start on a damaged database`);
    }
    if (check.schemaVersion === 0) {
      throw new DataDirError('database-empty', `${file} holds no metalfleet tables: restore it from a backup; the manager does not take it for a new fleet (${startOver(dir)})`);
    }
    return { lock, found: { store: file, schemaVersion: check.schemaVersion, integrity: 'ok', checkMs: check.checkMs, created: false } };
  } catch (error) {
    lock.release();
    throw error;
  }
}
