// The state directory and the database files in it are the manager's alone:
// 700 and 600, whatever the umask, and fixed at every start where an older
// manager (or a copy) left them readable by others. SQLite gives a database's
// -wal and -shm files the mode of the database file itself.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The files in the data directory that hold fleet state or telemetry. */
export const privateDataFiles = ['fleet.db', 'fleet.db-wal', 'fleet.db-shm', 'telemetry.db', 'telemetry.db-wal', 'telemetry.db-shm'] as const;

function restrict(path: string, mode: number): void {
  if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
}

/** Makes `dir` (mode 700) when missing, and takes group and other access away from it and from the state files in it. */
export function makeDataDirPrivate(dir: string, files: readonly string[] = privateDataFiles): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  restrict(dir, 0o700);
  for (const file of files) if (existsSync(join(dir, file))) restrict(join(dir, file), 0o600);
}

/** Creates `path` empty with mode 600 when missing (before SQLite opens it, so it and its -wal/-shm are born private). */
export function createPrivateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  restrict(path, 0o600);
}
