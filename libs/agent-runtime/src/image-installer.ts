// The install step of a reimage: the agent in the install image streams the
// root image from the manager onto the target disk (resuming with a range
// request if the connection drops), flushes it, and hashes what it reads back
// from the disk: the checksum that counts is the one of what was written.
// A manager that restarts mid-download is waited for: the download is tried
// again, with a growing pause, for a window longer than a restart takes (the
// manager's own install timeout gives up on the node sooner if it must).
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256OfUrl } from './image-verifier.ts';

export interface InstallProgress {
  bytes: number;
  /** Content-Length of the image, when the server sent one. */
  total: number | null;
}

export interface InstallResult {
  /** sha256 (hex) of the installed image, as read back. */
  sha256: string;
  bytes: number;
  /** Where it went, for the report. */
  detail: string;
}

export type InstallImage = (url: string, onProgress: (progress: InstallProgress) => void) => Promise<InstallResult>;

export interface TargetDisk {
  /** Block device path, e.g. /dev/vda. */
  path: string;
  sizeBytes: number;
}

/** How long a failing download is retried, and the first pause (doubling up to 10 s). */
export interface DownloadRetry {
  windowMs: number;
  firstPauseMs: number;
}

export const defaultDownloadRetry: DownloadRetry = { windowMs: 10 * 60_000, firstPauseMs: 500 };

/** Runs `work` until it succeeds, fails for good (`permanent`), is aborted, or the window (monotonic clock) has passed. */
async function retrying<T>(work: () => Promise<T>, retry: DownloadRetry, signal?: AbortSignal): Promise<T> {
  const until = performance.now() + retry.windowMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const pause = Math.min(10_000, retry.firstPauseMs * 2 ** (attempt - 1));
      if ((error as { permanent?: boolean }).permanent || signal?.aborted || performance.now() + pause > until) throw error;
      await sleep(pause, undefined, signal ? { signal } : {});
    }
  }
}

function request(url: string, from: number, signal?: AbortSignal): Promise<IncomingMessage> {
  // Loaded here, not imported: an ESM import of node:http reads all its exports, and its
  // lazy WebSocket export loads undici and web streams (about 2 MiB the agent keeps for nothing).
  const { get } = process.getBuiltinModule(url.startsWith('https:') ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: from > 0 ? { range: `bytes=${from}-` } : {}, ...(signal ? { signal } : {}) }, resolve);
    req.on('error', reject);
  });
}

interface Written { bytes: number; total: number | null }

/** Streams `url` onto the disk from `written.bytes`, counting only bytes the disk took. Throws on errors; `permanent` ones are not retried. */
async function download(url: string, disk: TargetDisk, file: FileHandle, written: Written, onProgress: (progress: InstallProgress) => void, signal?: AbortSignal): Promise<void> {
  const start = written.bytes;
  const response = await request(url, start, signal);
  const resumed = start > 0 && response.statusCode === 206;
  if (response.statusCode !== 200 && !resumed) {
    response.resume();
    throw Object.assign(new Error(`downloading ${url} failed: HTTP ${response.statusCode ?? 0}`), { permanent: (response.statusCode ?? 500) < 500 });
  }
  // A server that ignores the range sends the whole image again.
  if (!resumed) written.bytes = 0;
  const length = Number(response.headers['content-length'] ?? NaN);
  written.total = Number.isFinite(length) ? written.bytes + length : null;
  if (written.total !== null && written.total > disk.sizeBytes) {
    response.resume();
    throw Object.assign(new Error(`the image is ${written.total} bytes; ${disk.path} holds only ${disk.sizeBytes}`), { permanent: true });
  }
  await pipeline(response, new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (written.bytes + chunk.length > disk.sizeBytes) {
        done(Object.assign(new Error(`the image is larger than ${disk.path} (${disk.sizeBytes} bytes)`), { permanent: true }));
        return;
      }
      file.write(chunk, 0, chunk.length, written.bytes).then(() => {
        written.bytes += chunk.length;
        onProgress({ bytes: written.bytes, total: written.total });
        done();
      }, done);
    },
  }));
  if (written.total !== null && written.bytes < written.total) throw new Error(`the download of ${url} ended at ${written.bytes} of ${written.total} bytes`);
}

async function sha256OfDisk(path: string, bytes: number): Promise<string> {
  // Read what reached the disk, not what the page cache still holds (best effort: needs root).
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  } catch {
    // Not root, or no procfs: the read may come from the cache.
  }
  const hash = createHash('sha256');
  if (bytes > 0) for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Installs to a real disk: `target` says which (the kernel command line's metalfleet.disk, or the first fixed disk). */
export function diskInstaller(target: () => Promise<TargetDisk>, signal?: AbortSignal, retry = defaultDownloadRetry): InstallImage {
  return async (url, onProgress) => {
    const disk = await target();
    const written: Written = { bytes: 0, total: null };
    const file = await open(disk.path, 'r+');
    try {
      // Each try resumes from what the disk took.
      await retrying(() => download(url, disk, file, written, onProgress, signal), retry, signal);
      await file.sync();
    } finally {
      await file.close();
    }
    const sha256 = await sha256OfDisk(disk.path, written.bytes);
    return { sha256, bytes: written.bytes, detail: `wrote ${written.bytes} bytes to ${disk.path} and read them back` };
  };
}

/** Simulated machines have no disk: they download and hash the image, which is what a real write is checked against. */
export function verifyingInstaller(signal?: AbortSignal, retry = defaultDownloadRetry): InstallImage {
  return async (url) => ({ sha256: await retrying(() => sha256OfUrl(url, signal), retry, signal), bytes: 0, detail: 'downloaded and verified (simulated disk)' });
}
