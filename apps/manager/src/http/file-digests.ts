// sha256 of the files the manager serves (boot artifacts, root images). The
// digest is the file's strong validator (ETag): a client resuming a download
// with If-Range gets the rest only of the very file it started.
//
// Hashing a 30 GB image takes minutes, longer than an installer waits for a
// first byte, so no request ever waits for it: every file under the root is
// hashed in the background from start (one file at a time, so the disk stays
// free for the downloads), a file a request names moves to the front, and a
// request for a file not hashed yet is answered without the digest. Digests
// are kept in a ledger in the data directory (digest-ledger.ts), keyed by the
// file's identity, so a restart hashes only what changed. A file that changed
// while it was hashed gets no digest from that pass (it is stat'ed again after).
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { identityOf, readDigestLedger, sameIdentity, writeDigestLedger, type FileIdentity, type LedgerEntry } from './digest-ledger.ts';

/** A served file as a request finds it: `digest` is null while it is not hashed yet. */
export interface ServedFile { path: string; identity: FileIdentity; mtimeMs: number; digest: string | null }

export interface DigestLog {
  info(context: object, message: string): void;
  warn(context: object, message: string): void;
}

export interface FileDigestsOptions {
  root: string;
  /** Where digests are kept across restarts; null: in memory only. */
  ledgerFile: string | null;
  log?: DigestLog;
  /** The bytes of a file, in order (tests slow it down or count the reads). */
  read?: (path: string, signal: AbortSignal) => AsyncIterable<Buffer>;
  /** Files at least this large get progress lines (default 1 GiB). */
  largeFileBytes?: number;
  /** How often a large file's progress is logged (default 10 s). */
  progressEveryMs?: number;
}

export type FileDigests = ReturnType<typeof createFileDigests>;

/** The strong ETag of a file with this (base64) sha256. */
export function strongEtag(digest: string): string {
  return `"sha256:${digest}"`;
}

const readFile = (path: string, signal: AbortSignal): AsyncIterable<Buffer> => createReadStream(path, { highWaterMark: 1 << 20, signal });

async function listFiles(dir: string): Promise<string[]> {
  const found = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return found.filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)).sort();
}

async function identityAt(path: string): Promise<FileIdentity | null> {
  const info = await stat(path, { bigint: true }).catch(() => null);
  return info?.isFile() ? identityOf(info) : null;
}

export function createFileDigests(options: FileDigestsOptions) {
  const base = resolve(options.root);
  const read = options.read ?? readFile;
  const largeFileBytes = options.largeFileBytes ?? 1 << 30;
  const progressEveryMs = options.progressEveryMs ?? 10_000;
  const ledger = options.ledgerFile ? readDigestLedger(options.ledgerFile) : { entries: new Map<string, LedgerEntry>(), problem: null };
  if (ledger.problem) options.log?.warn({ file: options.ledgerFile, problem: ledger.problem }, 'image digest ledger unreadable; every image is hashed again');
  const entries = ledger.entries;
  const queue: string[] = [];
  const abort = new AbortController();
  let worker: Promise<void> | null = null;
  const idleWaiters: (() => void)[] = [];
  let hashing: { path: string; bytes: number; done: number } | null = null;
  let hashedFiles = 0;

  const known = (path: string, identity: FileIdentity): string | null => {
    const entry = entries.get(path);
    return entry && sameIdentity(entry, identity) ? entry.sha256 : null;
  };

  function save(): void {
    if (!options.ledgerFile) return;
    try {
      writeDigestLedger(options.ledgerFile, entries);
    } catch (error) {
      options.log?.warn({ err: error, file: options.ledgerFile }, 'could not save image digests; they are hashed again after a restart');
    }
  }

  async function hash(path: string, identity: FileIdentity): Promise<string> {
    const large = identity.size >= largeFileBytes;
    const startedAt = performance.now();
    let loggedAt = startedAt;
    if (large) options.log?.info({ path, bytes: identity.size }, 'hashing image file (sha256, its download validator); requests are answered meanwhile without it');
    const sha = createHash('sha256');
    hashing = { path, bytes: identity.size, done: 0 };
    for await (const chunk of read(path, abort.signal)) {
      sha.update(chunk);
      hashing.done += chunk.length;
      if (large && performance.now() - loggedAt >= progressEveryMs) {
        loggedAt = performance.now();
        options.log?.info({ path, hashedBytes: hashing.done, bytes: identity.size }, 'hashing image file');
      }
    }
    const seconds = (performance.now() - startedAt) / 1000;
    if (large) options.log?.info({ path, bytes: identity.size, seconds: Math.round(seconds * 10) / 10 }, 'image file hashed');
    return sha.digest('base64');
  }

  /** Hashes one file unless its digest is known; a file that changed meanwhile gets none (it is hashed when asked for again). */
  async function settle(path: string): Promise<void> {
    const before = await identityAt(path);
    if (!before) {
      if (entries.delete(path)) save();
      return;
    }
    if (known(path, before)) return;
    let digest: string;
    try {
      digest = await hash(path, before);
    } catch (error) {
      if (!abort.signal.aborted) options.log?.warn({ err: error, path }, 'could not hash image file; served without a digest until asked for again');
      return;
    } finally {
      hashing = null;
    }
    const after = await identityAt(path);
    if (!after || !sameIdentity(before, after)) {
      options.log?.warn({ path }, 'image file changed while it was hashed; hashed again when next asked for');
      return;
    }
    entries.set(path, { ...before, sha256: digest });
    hashedFiles += 1;
    save();
  }

  function work(): void {
    if (worker || abort.signal.aborted) return;
    worker = (async () => {
      for (let path = queue.shift(); path !== undefined && !abort.signal.aborted; path = queue.shift()) await settle(path);
    })().finally(() => {
      worker = null;
      if (queue.length > 0 && !abort.signal.aborted) work();
      else for (const waiter of idleWaiters.splice(0)) waiter();
    });
  }

  function enqueue(path: string, first: boolean): void {
    if (hashing?.path === path) return;
    const at = queue.indexOf(path);
    if (at >= 0) queue.splice(at, 1);
    if (first) queue.unshift(path);
    else queue.push(path);
    work();
  }

  /** The file a request path names (relative to the root); null for paths outside the root or no file. */
  function pathOf(requestPath: string): string | null {
    let decoded: string;
    try {
      decoded = decodeURIComponent(requestPath.split('?')[0] ?? '');
    } catch {
      return null;
    }
    const path = resolve(base, `.${sep}${decoded}`);
    return path.startsWith(base + sep) ? path : null;
  }

  return {
    /** Hashes, in the background, every file under the root whose digest is not known; forgets the digests of files gone. */
    async start(): Promise<void> {
      const files = await listFiles(base);
      const present = new Set(files);
      let dropped = false;
      for (const path of entries.keys()) {
        if (!present.has(path)) dropped = entries.delete(path) || dropped;
      }
      if (dropped) save();
      let pending = 0;
      for (const path of files) {
        const identity = await identityAt(path);
        if (identity && known(path, identity)) continue;
        pending += 1;
        if (!queue.includes(path)) queue.push(path);
      }
      options.log?.info({ root: base, files: files.length, toHash: pending }, pending > 0 ? 'hashing image files in the background' : 'image file digests known');
      work();
    },
    /** The file a request names, with its digest when it is known; one not hashed yet goes to the front of the queue. Never waits for hashing. */
    async lookup(requestPath: string): Promise<ServedFile | null> {
      const path = pathOf(requestPath);
      if (!path) return null;
      const info = await stat(path, { bigint: true }).catch(() => null);
      if (!info?.isFile()) return null;
      const identity = identityOf(info);
      const digest = known(path, identity);
      if (!digest) enqueue(path, true);
      return { path, identity, mtimeMs: Number(info.mtimeMs), digest };
    },
    /** The digest of `path` if it was hashed as the file `info` describes (the file about to be sent). */
    cached(path: string, info: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>): string | null {
      const entry = entries.get(resolve(path));
      if (!entry || entry.dev !== String(info.dev) || entry.ino !== String(info.ino) || entry.size !== info.size) return null;
      // Stats (not bigint) has times in float ms: equal to the microsecond is the same time.
      const close = (ns: string, ms: number) => Math.abs(Number(BigInt(ns) / 1000n) / 1000 - ms) < 0.002;
      return close(entry.mtimeNs, info.mtimeMs) && close(entry.ctimeNs, info.ctimeMs) ? entry.sha256 : null;
    },
    /** Files waiting to be hashed (the one being hashed included) and the progress on it. */
    status(): { pending: number; hashedFiles: number; hashing: { path: string; bytes: number; done: number } | null } {
      return { pending: queue.length + (hashing ? 1 : 0), hashedFiles, hashing: hashing && { ...hashing, path: relative(base, hashing.path) } };
    },
    /** Resolves when nothing is left to hash. */
    async idle(): Promise<void> {
      if (!worker && queue.length === 0) return;
      await new Promise<void>((done) => idleWaiters.push(done));
    },
    /** Stops hashing (a manager stopping does not wait for a large file). */
    async close(): Promise<void> {
      abort.abort();
      queue.length = 0;
      await worker;
    },
  };
}
