// The second half of the data directory's lock, for when manager.lock is not
// enough: the file lock is on the file's inode, so deleting manager.lock while a
// manager runs lets the next one create a new file and lock that. This lock is
// on the directory itself: a Linux abstract-namespace Unix socket named after
// the directory. Nothing in the file system can delete it, the kernel frees the
// name when the holder ends however it ends (kill -9 included), and binding a
// taken name fails. Whoever connects is told the holder's pid. Abstract names
// are per network namespace, which the file lock is not: the two together cover
// managers in other containers (file lock) and a deleted lock file (this one).
//
// Any local user can bind an abstract name, and the directory's device and
// inode are there for anyone to stat: a name made of them alone could be
// squatted, and the manager refused to start while it was (denial of service).
// So the name is an HMAC of the device and inode under a key only the manager's
// user can read: 32 random bytes in <dataDir>/lock.key (mode 600, in a directory
// of mode 700), made once, under the file lock, and kept. Two managers on one
// directory read the same key and race for the same name; deleting manager.lock
// leaves the key, so the second is still refused. (Deleting both manager.lock
// and lock.key under a running manager would let a second in: the key is its
// own user's to keep, as the lock file is.)
import { createConnection, createServer, type Server } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError } from './data-dir-error.ts';

export interface DataDirNameLock {
  release(): void;
}

export const lockKeyFileName = 'lock.key';

const keyPattern = /^([0-9a-f]{64})\n?$/;

/** The key in `file`, or null when there is none or it is not one (then made again). */
function readLockKey(file: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const hex = keyPattern.exec(text)?.[1];
  if (!hex) return null;
  // Readable by others (a copy, a restore): private again. Who read it meanwhile could squat the name, never share it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return Buffer.from(hex, 'hex');
}

/**
 * The directory's lock key (lock.key), made when missing. Called with the file lock held: only one manager at a time
 * makes it, written whole and synced under another name first, so no one ever reads half a key.
 */
export function dataDirLockKey(dir: string): Buffer {
  const file = join(dir, lockKeyFileName);
  const existing = readLockKey(file);
  if (existing) return existing;
  const key = randomBytes(32);
  const partial = `${file}.partial`;
  const fd = openSync(partial, 'w', 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(partial, 0o600);
  renameSync(partial, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return key;
}

/** The abstract socket name for a directory under its key; null where there are no abstract sockets (not Linux). */
export function dataDirLockName(dir: string, key: Buffer): string | null {
  if (process.platform !== 'linux') return null;
  const { dev, ino } = statSync(dir, { bigint: true });
  const mac = createHmac('sha256', key).update(`metalfleet-data-dir:${dev.toString(16)}:${ino.toString(16)}`).digest('hex');
  return `\0metalfleet-data-dir-${mac.slice(0, 40)}`;
}

/** The pid the holder answers with, or null when it does not answer at once (not a manager, or busy). */
function askHolder(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = createConnection(name);
    const done = (pid: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(null), 2000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 32) done(null);
    });
    socket.on('end', () => done(/^\d+\n$/.test(text) ? Number(text.trim()) : null));
    socket.on('error', () => done(null));
  });
}

/**
 * Takes the directory's name lock, or throws DataDirError 'data-dir-locked' (with the holder's pid
 * when it says). `refuse` words the refusal as the file lock's does. Call it with the file lock held
 * (it makes lock.key when missing).
 */
export async function lockDataDirName(dir: string, refuse: (pid: number | null) => DataDirError, pid: number = process.pid): Promise<DataDirNameLock> {
  if (process.platform !== 'linux') return { release: () => undefined };
  const name = dataDirLockName(dir, dataDirLockKey(dir));
  if (name === null) return { release: () => undefined };
  const server: Server = createServer((socket) => socket.end(`${pid}\n`));
  const listened = await new Promise<Error | null>((resolve) => {
    server.once('error', resolve);
    server.listen(name, () => resolve(null));
  });
  if (listened) {
    if ((listened as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw listened;
    throw refuse(await askHolder(name));
  }
  // The lock must not keep a process alive that is otherwise done (the file lock does not either).
  server.unref();
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      server.close();
    },
  };
}
