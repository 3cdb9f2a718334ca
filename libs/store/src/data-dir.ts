// Claiming a data directory before the manager reads or writes its state:
// the lock first (one manager per directory), then what the directory and
// the store hold. Nothing is created unless the operator asked for a new
// manager with --init, and --init never overwrites one: an empty, missing or
// damaged database stops the start with what to do, instead of becoming a
// silent fresh install with new tokens and no nodes.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError } from './data-dir-error.ts';
import { lockDataDir, refuseLocked, type DataDirLock } from './data-dir-lock.ts';
import { lockDataDirName } from './data-dir-name-lock.ts';
import { checkSqliteDatabase, pgSchemaVersion } from './store-check.ts';
import { retryWhileUnreachable, type ConnectRetry } from './store-connect.ts';

/** Entries a manager leaves in its data directory; anything else there (images/, lost+found, the lock) is not state. */
const stateEntries = ['fleet.db', 'fleet.db-wal', 'telemetry.db', 'pki', 'bootstrap-token', 'admin-token', 'secret.key'] as const;
export const sqliteFileName = 'fleet.db';
/**
 * Written by --init before it creates any state and removed once all of it is there: a start that
 * finds it knows that an --init was cut short (a crash, a kill), and another --init may finish it.
 */
export const initMarkerFileName = 'init-incomplete';

/** What the directory holds, as far as deciding whether to start goes. */
export interface DataDirFacts {
  exists: boolean;
  /** The state entries present, in stateEntries order. */
  state: string[];
  /** fleet.db: absent, zero bytes (and no WAL with pages), or holding something. */
  fleetDb: 'absent' | 'empty' | 'present';
  /** An --init was cut short here (initMarkerFileName). */
  initIncomplete: boolean;
  /**
   * pki/: the CA's certificate and key both there, no pki/ at all, an empty pki/ (an operator's
   * request for a new CA), or some of it.
   */
  ca: 'present' | 'absent' | 'empty-dir' | 'partial';
}

function caFacts(pki: string): DataDirFacts['ca'] {
  if (!existsSync(pki)) return 'absent';
  const names = readdirSync(pki);
  if (names.length === 0) return 'empty-dir';
  return names.includes('ca.crt') && names.includes('ca.key') ? 'present' : 'partial';
}

export function readDataDirFacts(dir: string): DataDirFacts {
  if (!existsSync(dir)) return { exists: false, state: [], fleetDb: 'absent', initIncomplete: false, ca: 'absent' };
  const names = new Set(readdirSync(dir));
  const size = (name: string) => (names.has(name) ? statSync(join(dir, name)).size : 0);
  const fleetDb = !names.has(sqliteFileName) ? 'absent' : size(sqliteFileName) === 0 && size(`${sqliteFileName}-wal`) === 0 ? 'empty' : 'present';
  return {
    exists: true, state: stateEntries.filter((name) => names.has(name)), fleetDb, initIncomplete: names.has(initMarkerFileName), ca: caFacts(join(dir, 'pki')),
  };
}

const startOver = (dir: string) => `to start over instead, move ${dir} aside and start with --init`;

/** Whether a manager may go on with this directory; the refusal, with its instructions, when not. */
export function judgeDataDir(dir: string, facts: DataDirFacts, options: { init: boolean; sqlite: boolean; ca: boolean }): DataDirError | null {
  const held = options.sqlite ? facts.state : facts.state.filter((name) => !name.startsWith(sqliteFileName));
  const marker = join(dir, initMarkerFileName);
  if (facts.initIncomplete) {
    // Whatever an --init cut short left here is its own, unfinished: only --init goes on with it.
    if (options.init) return null;
    return new DataDirError('init-incomplete',
      `an --init of ${dir} was cut short (${marker} is there; it holds ${held.length > 0 ? held.join(', ') : 'no state yet'}): start with --init again to finish it, or ${startOver(dir)}`);
  }
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
  return judgeCa(dir, facts, options.ca);
}

/**
 * A fleet's CA is never made again by itself: agents pin it (and the manager trusts the node
 * certificates it signed), so a new one cuts every agent off. An operator who means it (a manager
 * that ran without TLS until now) makes pki/ empty first.
 */
function judgeCa(dir: string, facts: DataDirFacts, needed: boolean): DataDirError | null {
  if (!needed || facts.ca === 'present' || facts.ca === 'empty-dir') return null;
  const pki = join(dir, 'pki');
  const what = facts.ca === 'absent' ? `${pki} is missing` : `${pki} lacks ca.crt or ca.key`;
  return new DataDirError('ca-missing',
    `${what}, but ${dir} holds a fleet: restore pki/ (ca.crt and ca.key) from a backup; a new CA would make every agent refuse this manager. ` +
    `To make a new CA anyway (every agent must then be given it again), replace ${pki} with an empty directory (mkdir -m 700 ${pki}) and start again`);
}

export interface StoreTarget {
  dir: string;
  init: boolean;
  /** Whether this manager uses its CA (TLS on any listener): then a fleet without its CA is refused. */
  ca?: boolean;
  /** null: SQLite in the data directory. */
  postgres: { connectionString: string; schema: string } | null;
  /** How long to wait for a PostgreSQL that does not answer yet (none: fail at the first connection error). */
  connectRetry?: ConnectRetry;
}

export interface DataDirClaim {
  lock: DataDirLock;
  /**
   * With --init: marks the directory as being set up (call before creating state), and, once all of
   * it is there, as set up. A crash between the two leaves the mark, which only another --init passes.
   */
  init: { begin(): void; finish(): void } | null;
  /** What was found, for the start-up log: the schema version, and for SQLite the integrity check. */
  found: { store: string; schemaVersion: number; integrity?: 'ok'; checkMs?: number; created: boolean };
}

/** The file lock (names its holder across containers) and the directory's name lock (outlives a deleted manager.lock), both or neither. */
async function lockDataDirAndName(dir: string): Promise<DataDirLock> {
  const file = lockDataDir(dir);
  try {
    const name = await lockDataDirName(dir, (pid) => refuseLocked(dir, pid));
    return { file: file.file, release: () => { name.release(); file.release(); } };
  } catch (error) {
    file.release();
    throw error;
  }
}

/** Durably: a crash right after begin() must find the mark, and one after finish() must not. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function initMarker(dir: string): { begin(): void; finish(): void } {
  const marker = join(dir, initMarkerFileName);
  return {
    begin() {
      const fd = openSync(marker, 'w', 0o600);
      try {
        writeSync(fd, 'an --init of this directory began and has not finished: start with --init to finish it\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      syncDir(dir);
    },
    finish() {
      rmSync(marker, { force: true });
      syncDir(dir);
    },
  };
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
  const options = { init, sqlite, ca: target.ca ?? false };
  refuseIf(judgeDataDir(dir, readDataDirFacts(dir), options));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = await lockDataDirAndName(dir);
  try {
    // Again under the lock: another manager may have created or changed it meanwhile.
    const facts = readDataDirFacts(dir);
    refuseIf(judgeDataDir(dir, facts, options));
    const initSteps = init ? initMarker(dir) : null;
    if (postgres) {
      const probe = () => pgSchemaVersion(postgres.connectionString, postgres.schema);
      const schemaVersion = target.connectRetry ? await retryWhileUnreachable('PostgreSQL', probe, target.connectRetry) : await probe();
      const where = `PostgreSQL schema ${postgres.schema}`;
      if (init && schemaVersion > 0 && !facts.initIncomplete) {
        throw new DataDirError('init-over-existing', `--init: ${where} already holds metalfleet state (schema version ${schemaVersion}): start without --init to use it, or give another --postgres-schema`);
      }
      if (!init && schemaVersion === 0) {
        throw new DataDirError('data-dir-missing', `${where} holds no metalfleet state: to set up a new manager there, start it once with --init (or check --postgres-url and --postgres-schema)`);
      }
      // The fleet is in PostgreSQL; a directory that holds the rest of a manager's state (tokens, key) must hold its CA too.
      if (!init && facts.state.length > 0) refuseIf(judgeCa(dir, facts, options.ca));
      return { lock, init: initSteps, found: { store: where, schemaVersion, created: init } };
    }
    const file = join(dir, sqliteFileName);
    // --init makes fleet.db from nothing, or goes on with the one a cut-short --init left (a zero-length one included).
    if (facts.fleetDb === 'absent' || (init && facts.fleetDb === 'empty')) return { lock, init: initSteps, found: { store: file, schemaVersion: 0, created: true } };
    const check = checkSqliteDatabase(file);
    if (!check.ok) {
      throw new DataDirError('database-corrupt',
        `${file} failed its integrity check (${check.problem}): restore it from a backup, or salvage what is left with \`sqlite3 ${file} .recover\`; the manager does not start on a damaged database`);
    }
    if (init) return { lock, init: initSteps, found: { store: file, schemaVersion: check.schemaVersion, integrity: 'ok', checkMs: check.checkMs, created: true } };
    if (check.schemaVersion === 0) {
      throw new DataDirError('database-empty', `${file} holds no metalfleet tables: restore it from a backup; the manager does not take it for a new fleet (${startOver(dir)})`);
    }
    return { lock, init: null, found: { store: file, schemaVersion: check.schemaVersion, integrity: 'ok', checkMs: check.checkMs, created: false } };
  } catch (error) {
    lock.release();
    throw error;
  }
}
