// The sha256 digests of served files, kept in the data directory so that a
// restart does not hash every image again. Each digest is keyed by the file's
// identity (path, device, inode, size, modification and change times in ns):
// a file that was replaced or written to since has another identity and is
// hashed again. The change time is there because a copy that keeps times
// (cp -p, tar) can write new bytes under the old modification time.
// Written whole to a temporary file and renamed (mode 600); a missing or
// damaged ledger only means hashing again.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';

/** What says "this very file": bigints as decimal strings, so the ledger is plain JSON. */
export interface FileIdentity { dev: string; ino: string; size: number; mtimeNs: string; ctimeNs: string }

export interface LedgerEntry extends FileIdentity {
  /** base64 sha256 of the file's bytes. */
  sha256: string;
}

export function identityOf(info: BigIntStats): FileIdentity {
  return { dev: String(info.dev), ino: String(info.ino), size: Number(info.size), mtimeNs: String(info.mtimeNs), ctimeNs: String(info.ctimeNs) };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

const isEntry = (value: unknown): value is LedgerEntry => {
  const e = value as Partial<LedgerEntry> | null;
  return typeof e === 'object' && e !== null && typeof e.dev === 'string' && typeof e.ino === 'string' && typeof e.size === 'number'
    && typeof e.mtimeNs === 'string' && typeof e.ctimeNs === 'string' && typeof e.sha256 === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(e.sha256);
};

/** The entries of `file` by absolute path; empty when it is missing or damaged (`problem` says which). */
export function readDigestLedger(file: string): { entries: Map<string, LedgerEntry>; problem: string | null } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { entries: new Map(), problem: missing ? null : (error as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; files?: unknown };
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return { entries: new Map(), problem: 'not a version 1 digest ledger' };
    const entries = new Map<string, LedgerEntry>();
    for (const [path, entry] of Object.entries(parsed.files)) if (isEntry(entry)) entries.set(path, entry);
    return { entries, problem: null };
  } catch (error) {
    return { entries: new Map(), problem: (error as Error).message };
  }
}

export function writeDigestLedger(file: string, entries: ReadonlyMap<string, LedgerEntry>): void {
  const files = Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ version: 1, files }, null, 1)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
