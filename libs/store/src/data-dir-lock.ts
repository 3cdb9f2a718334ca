// One manager per data directory. The lock is a small SQLite database,
// <dataDir>/manager.lock, on which the holder keeps a write transaction open
// for its whole life: SQLite's lock on it is an OS advisory lock (fcntl), which
// the kernel drops when the process ends however it ends, kill -9 included, so
// a lock left by a dead manager never blocks a restart. Others can still read
// the committed row that names the holder's pid, so a refusal can say who.
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { DataDirError } from './data-dir-error.ts';
import { createPrivateFile } from './private-files.ts';

export const lockFileName = 'manager.lock';

export interface DataDirLock {
  readonly file: string;
  /** Lets the next manager in; also done by the kernel when this process ends. */
  release(): void;
}

/** SQLITE_BUSY and its extended codes: another connection holds a conflicting lock. */
function isBusy(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ((error as { errcode?: number }).errcode ?? 0) % 256 === 5;
}

/** The pid the holder wrote, when it can be read (not while the holder is between its two transactions). */
function holderPid(db: DatabaseSync): number | null {
  try {
    const row = db.prepare('SELECT pid FROM holder').get() as { pid: number } | undefined;
    return row?.pid ?? null;
  } catch {
    return null;
  }
}

/** The refusal a second manager gets, naming the holder's pid where known. */
export function refuseLocked(dir: string, pid: number | null): DataDirError {
  const who = pid === null ? 'another manager' : `another manager (pid ${pid})`;
  return new DataDirError('data-dir-locked', `data directory ${dir} is in use by ${who}: one manager per data directory; stop that one first`);
}

/**
 * Takes the data directory's lock or throws DataDirError 'data-dir-locked'. The directory must exist.
 * The holder commits its pid, then opens the transaction it keeps (BEGIN IMMEDIATE: a RESERVED lock,
 * which readers pass and writers do not); a manager that slips in between wins, and this one refuses.
 */
export function lockDataDir(dir: string, pid: number = process.pid): DataDirLock {
  const file = join(dir, lockFileName);
  createPrivateFile(file);
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of waiting for it.
  const db = new DatabaseSync(file, { timeout: 0 });
  const take = () => {
    try {
      db.exec('BEGIN IMMEDIATE');
      return true;
    } catch (error) {
      if (isBusy(error)) return false;
      throw error;
    }
  };
  try {
    if (!take()) throw refuseLocked(dir, holderPid(db));
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since INTEGER NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(pid, Date.now());
    db.exec('COMMIT');
    if (!take()) throw refuseLocked(dir, holderPid(db));
  } catch (error) {
    db.close();
    throw error;
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
