// Downloading a root image so that a dropped connection or a manager restart
// costs only the bytes not yet kept. Each try asks for the rest with a range
// request (`Range: bytes=<kept>-`) made conditional on the version first
// seen (`If-Range` with its strong ETag, else its Last-Modified): a server
// whose file changed answers with the whole new file (200), and the download
// starts over instead of splicing two images. At the end the bytes kept are
// hashed and checked against the server's Repr-Digest (the sha256 of the whole
// file, RFC 9530) when it sent one: a mismatch is a bad splice, and the
// download starts over from byte 0. A server may send the digest and its ETag
// only once it has hashed the file (the manager after a restart): the first
// answer's Last-Modified is then the validator, and the digest a later range
// answer brings is kept to check the end. Failed tries are repeated, with a growing
// pause, until the window has passed (a monotonic clock); answers that will not
// change (4xx other than 416) fail at once.
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a failing download is retried, and the first pause (doubling up to 10 s). */
export interface DownloadRetry {
  windowMs: number;
  firstPauseMs: number;
}

/** Without a window from the manager (metalfleet.window on the kernel command line): 10 minutes. */
export const defaultDownloadRetry: DownloadRetry = { windowMs: 10 * 60_000, firstPauseMs: 500 };

/** The retry window for an install boot: the manager's window when it gave one, else the default. */
export function downloadRetryFor(windowS: number | undefined): DownloadRetry {
  return windowS !== undefined && windowS > 0 ? { ...defaultDownloadRetry, windowMs: windowS * 1000 } : defaultDownloadRetry;
}

/** Where the downloaded bytes go: a disk, or (simulated) only a hash. */
export interface DownloadSink {
  /** Bytes kept so far; the next try asks for the rest from here. */
  readonly kept: number;
  /** Keeps `chunk` after the bytes kept so far. */
  write(chunk: Buffer): Promise<void>;
  /** Forgets everything kept: the next try starts at byte 0. */
  restart(): void;
  /** sha256 (hex) of the bytes kept. */
  sha256(): Promise<string>;
}

export interface DownloadOptions {
  retry: DownloadRetry;
  signal?: AbortSignal;
  /** The most bytes the sink takes (a disk's size); more fails for good. */
  maxBytes?: number;
  /** What to call the sink in an error ("/dev/vda"). */
  sinkName?: string;
  onProgress?: (progress: { bytes: number; total: number | null }) => void;
}

export interface Downloaded {
  sha256: string;
  bytes: number;
  /** Tries it took (1: no interruption). */
  tries: number;
}

type DownloadError = Error & { permanent?: boolean };

function failure(message: string, permanent = false): DownloadError {
  return Object.assign(new Error(message), { permanent });
}

/** The version of the file the bytes kept came from. */
interface Version { etag: string | null; lastModified: string | null; digest: string | null }

function versionOf(response: IncomingMessage): Version {
  const header = (name: string) => {
    const value = response.headers[name];
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const digest = /sha-256=:([A-Za-z0-9+/=]+):/.exec(header('repr-digest') ?? '')?.[1] ?? null;
  return { etag: header('etag'), lastModified: header('last-modified'), digest: digest ? Buffer.from(digest, 'base64').toString('hex') : null };
}

/** The If-Range value: a strong ETag (a weak one may not be used), else the Last-Modified date. */
function ifRange(version: Version | null): string | null {
  if (version?.etag && !version.etag.startsWith('W/')) return version.etag;
  return version?.lastModified ?? null;
}

/** Two answers describe the same file if no validator they both carry differs. */
function sameVersion(a: Version, b: Version): boolean {
  const differs = (x: string | null, y: string | null) => x !== null && y !== null && x !== y;
  return !differs(a.etag, b.etag) && !differs(a.lastModified, b.lastModified) && !differs(a.digest, b.digest);
}

const idleTimeoutMs = 60_000;

function request(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
  // Loaded here, not imported: an ESM import of node:http reads all its exports, and its
  // lazy WebSocket export loads undici and web streams (about 2 MiB the agent keeps for nothing).
  const { get } = process.getBuiltinModule(url.startsWith('https:') ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, ...(signal ? { signal } : {}) }, resolve);
    // A server that went silent (its host gone, no reset sent) is a failed try, not a hang.
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data from ${url} for ${idleTimeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}

/** Downloads `url` into `sink`, resuming after failures; resolves with the verified hash of the whole file. */
export async function downloadResuming(url: string, sink: DownloadSink, options: DownloadOptions): Promise<Downloaded> {
  const { retry, signal } = options;
  const until = performance.now() + retry.windowMs;
  let version = null as Version | null;
  let total = null as number | null;

  /** One try: asks for what is missing and keeps it; throws when it ends early. */
  async function fetchRest(): Promise<void> {
    const from = sink.kept;
    const validator = ifRange(version);
    // Without a validator a range could join two versions of the file: start over.
    if (from > 0 && validator === null) sink.restart();
    const headers: Record<string, string> = sink.kept > 0 && validator !== null ? { range: `bytes=${sink.kept}-`, 'if-range': validator } : {};
    const response = await request(url, headers, signal);
    const status = response.statusCode ?? 0;
    const answered = versionOf(response);
    if (status === 416 && sink.kept > 0) {
      // Nothing left past what is kept, or the file got shorter: start over.
      response.resume();
      sink.restart();
      version = null;
      throw failure(`${url}: range from ${from} not satisfiable; starting over`);
    }
    if (status !== 200 && status !== 206) {
      response.resume();
      throw failure(`downloading ${url} failed: HTTP ${status}`, status < 500 && status !== 408 && status !== 429);
    }
    const start = status === 206 ? Number(/^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(response.headers['content-range'] ?? ''))?.[1] ?? NaN) : 0;
    if (status === 206 && (start !== sink.kept || version === null || !sameVersion(version, answered))) {
      // A part of something else than asked for: keep nothing of it.
      response.resume();
      sink.restart();
      version = null;
      throw failure(`${url}: the server sent a range of another version or offset; starting over`);
    }
    if (status === 200) {
      // The whole file (first try, changed file, or a server without ranges).
      sink.restart();
      version = answered;
    } else if (version !== null) {
      // The rest of the same file: validators it carries now (a server that had not hashed the file yet
      // when the download started) are kept, so the next try resumes with the strong ETag and the end is checked.
      version = { etag: version.etag ?? answered.etag, lastModified: version.lastModified ?? answered.lastModified, digest: version.digest ?? answered.digest };
    }
    const length = Number(response.headers['content-length'] ?? NaN);
    total = Number.isFinite(length) ? sink.kept + length : null;
    if (total !== null && options.maxBytes !== undefined && total > options.maxBytes) {
      response.resume();
      throw failure(`the image is ${total} bytes; ${options.sinkName ?? 'the target'} holds only ${options.maxBytes}`, true);
    }
    await pipeline(response, new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (options.maxBytes !== undefined && sink.kept + chunk.length > options.maxBytes) {
          done(failure(`the image is larger than ${options.sinkName ?? 'the target'} (${options.maxBytes} bytes)`, true));
          return;
        }
        sink.write(chunk).then(() => {
          options.onProgress?.({ bytes: sink.kept, total });
          done();
        }, done);
      },
    }));
    if (total !== null && sink.kept < total) throw failure(`the download of ${url} ended at ${sink.kept} of ${total} bytes`);
  }

  for (let tries = 1; ; tries += 1) {
    try {
      await fetchRest();
      const sha256 = await sink.sha256();
      const expected = version?.digest ?? null;
      if (expected !== null && expected !== sha256) {
        sink.restart();
        version = null;
        throw failure(`${url}: the ${sink.kept} bytes assembled hash to ${sha256}, the server's digest is ${expected}; starting over`);
      }
      return { sha256, bytes: sink.kept, tries };
    } catch (error) {
      const pause = Math.min(10_000, retry.firstPauseMs * 2 ** (tries - 1));
      if ((error as DownloadError).permanent || signal?.aborted || performance.now() + pause > until) throw error;
      await sleep(pause, undefined, signal ? { signal } : {});
    }
  }
}
