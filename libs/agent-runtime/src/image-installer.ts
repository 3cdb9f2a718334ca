// The install step of a reimage: the agent in the install image streams the
// root image from the manager onto the target disk, flushes it, and hashes
// what it reads back from the disk: the checksum that counts is the one of
// what was written. A dropped connection or a manager restart mid-download is
// waited for and resumed from the bytes the disk has (resumable-download.ts),
// for as long as the install may take (metalfleet.window, from the manager).
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { defaultDownloadRetry, downloadResuming, type DownloadSink } from './resumable-download.ts';

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

/** Keeps the download on the disk, at the offsets it has in the image; the hash is of what the disk gives back. */
function diskSink(disk: TargetDisk, file: FileHandle): DownloadSink {
  let kept = 0;
  return {
    get kept() {
      return kept;
    },
    async write(chunk) {
      await file.write(chunk, 0, chunk.length, kept);
      kept += chunk.length;
    },
    restart() {
      kept = 0;
    },
    async sha256() {
      await file.sync();
      return sha256OfDisk(disk.path, kept);
    },
  };
}

/** Keeps only the running hash of the download (simulated machines have no disk). */
function hashSink(): DownloadSink {
  let kept = 0;
  let hash = createHash('sha256');
  return {
    get kept() {
      return kept;
    },
    async write(chunk) {
      hash.update(chunk);
      kept += chunk.length;
    },
    restart() {
      kept = 0;
      hash = createHash('sha256');
    },
    async sha256() {
      return hash.copy().digest('hex');
    },
  };
}

/** Installs to a real disk: `target` says which (the kernel command line's metalfleet.disk, or the first fixed disk). */
export function diskInstaller(target: () => Promise<TargetDisk>, signal?: AbortSignal, retry = defaultDownloadRetry): InstallImage {
  return async (url, onProgress) => {
    const disk = await target();
    const file = await open(disk.path, 'r+');
    try {
      // Each try resumes from what the disk took; the whole image is checked at the end.
      const done = await downloadResuming(url, diskSink(disk, file), { retry, maxBytes: disk.sizeBytes, sinkName: disk.path, onProgress, ...(signal ? { signal } : {}) });
      return { sha256: done.sha256, bytes: done.bytes, detail: `wrote ${done.bytes} bytes to ${disk.path} and read them back` };
    } finally {
      await file.close();
    }
  };
}

/** Simulated machines have no disk: they download and hash the image (resuming as a disk install does), which is what a real write is checked against. */
export function verifyingInstaller(signal?: AbortSignal, retry = defaultDownloadRetry): InstallImage {
  return async (url, onProgress) => {
    const done = await downloadResuming(url, hashSink(), { retry, onProgress, ...(signal ? { signal } : {}) });
    return { sha256: done.sha256, bytes: 0, detail: 'downloaded and verified (simulated disk)' };
  };
}
