// sha256 of the files the manager serves (boot artifacts, root images), kept
// per path and recomputed when a file's size or modification time changes.
// The digest is also the file's strong validator (ETag): a client resuming a
// download with If-Range gets the rest only of the very file it started.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

export interface FileDigest { size: number; mtimeMs: number; digest: string }
type Entry = FileDigest;

/** The strong ETag of a file with this (base64) sha256. */
export function strongEtag(digest: string): string {
  return `"sha256:${digest}"`;
}

export function createFileDigests(root: string) {
  const base = resolve(root);
  const entries = new Map<string, Entry>();
  const pending = new Map<string, Promise<void>>();

  async function compute(path: string): Promise<void> {
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return;
    const known = entries.get(path);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) return;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    entries.set(path, { size: info.size, mtimeMs: info.mtimeMs, digest: hash.digest('base64') });
  }

  /** The file's entry if it is hashed at its current size and modification time. */
  async function current(path: string): Promise<Entry | null> {
    const info = await stat(path).catch(() => null);
    const entry = entries.get(path);
    return info && entry && entry.size === info.size && entry.mtimeMs === info.mtimeMs ? entry : null;
  }

  return {
    /** Hashes the file a request path names (relative to the root), once per version of the file; null for paths outside the root or no file. */
    async prepare(requestPath: string): Promise<FileDigest | null> {
      let decoded: string;
      try {
        decoded = decodeURIComponent(requestPath.split('?')[0] ?? '');
      } catch {
        return null;
      }
      const path = resolve(base, `.${sep}${decoded}`);
      if (!path.startsWith(base + sep)) return null;
      const running = pending.get(path) ?? compute(path).finally(() => pending.delete(path));
      pending.set(path, running);
      await running;
      return current(path);
    },
    /** The base64 sha256 of `path` if it was hashed at this size and modification time. */
    cached(path: string, info: { size: number; mtimeMs: number }): string | null {
      const entry = entries.get(resolve(path));
      return entry && entry.size === info.size && entry.mtimeMs === info.mtimeMs ? entry.digest : null;
    },
  };
}
