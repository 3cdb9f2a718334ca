// The second half of the data directory's lock, for when manager.lock is not
// enough: the file lock is on the file's inode, so deleting manager.lock while a
// manager runs lets the next one create a new file and lock that. This lock is
// on the directory itself: a Linux abstract-namespace Unix socket named after
// the directory's device and inode. Nothing in the file system can delete it,
// the kernel frees the name when the holder ends however it ends (kill -9
// included), and binding a taken name fails. Whoever connects is told the
// holder's pid. Abstract names are per network namespace, which the file lock
// is not: the two together cover managers in other containers (file lock) and
// a deleted lock file (this one).
//
// Any local user can bind an abstract name, so another user could squat it and
// keep the manager from starting (a refusal, never a second manager); the
// refusal then names no pid.
import { createConnection, createServer, type Server } from 'node:net';
import { statSync } from 'node:fs';
import { DataDirError } from './data-dir-error.ts';

export interface DataDirNameLock {
  release(): void;
}

/** The abstract socket name for a directory; null where there are no abstract sockets (not Linux). */
export function dataDirLockName(dir: string): string | null {
  if (process.platform !== 'linux') return null;
  const { dev, ino } = statSync(dir, { bigint: true });
  return `\0metalfleet-data-dir-${dev.toString(16)}-${ino.toString(16)}`;
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
 * when it says). `refuse` words the refusal as the file lock's does.
 */
export async function lockDataDirName(dir: string, refuse: (pid: number | null) => DataDirError, pid: number = process.pid): Promise<DataDirNameLock> {
  const name = dataDirLockName(dir);
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
