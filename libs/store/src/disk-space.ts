// How full the disk under a store is. Below the floor the store counts as full
// (/readyz says so) before a write fails: SQLite in WAL mode can still write
// into WAL space it already holds, then fails on the first write that needs a
// new page, and a readiness check should not wait for that.
import { statfsSync } from 'node:fs';
import type { PrecheckProblem } from './store-health.ts';

/** Free space under which the data directory's disk is full to the manager. */
export const minFreeDiskBytes = 1024 * 1024;

/** A write that changes nothing but needs a page written, as every write does: the store's own write probe. */
export const writeProbeSql = 'UPDATE schema_migrations SET name = name WHERE version = (SELECT max(version) FROM schema_migrations)';

/** Bytes free for this (unprivileged) process in the file system holding `dir`; null when it cannot be read. */
export function freeDiskBytes(dir: string): number | null {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

export function lowDiskSpace(dir: string, minFree = minFreeDiskBytes): PrecheckProblem | null {
  const free = freeDiskBytes(dir);
  if (free === null || free >= minFree) return null;
  return { problem: 'disk-full', what: 'disk full', reason: `${free} bytes free in ${dir} (under ${minFree})` };
}
