import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diskInstaller, verifyingInstaller } from './image-installer.ts';
import { defaultDownloadRetry, downloadRetryFor } from './resumable-download.ts';

const image = randomBytes(3 * 2 ** 20);
const sha = createHash('sha256').update(image).digest('hex');
const other = randomBytes(3 * 2 ** 20);
const otherSha = createHash('sha256').update(other).digest('hex');
let server: Server | null = null;
/** The Range header of each request ('none' without), and the If-Range beside it. */
const ranges: string[] = [];
const ifRanges: string[] = [];
/** Body bytes the server sent, over all requests. */
let sent = 0;

interface Served {
  /** Cut the first full download after 1 MiB, as a dropped link would. */
  cutFirst: boolean;
  /** Drop this many connections before any answer (a manager restarting). */
  downFor?: number;
  /** After this many requests the file is `other` (the image was replaced between tries). */
  changeAfter?: number;
  /** A broken server: answers ranges without checking If-Range, and with the validators of the first file. */
  ignoreIfRange?: boolean;
  /**
   * The manager after a restart, hashing in the background: the first this many requests are answered without
   * ETag and Repr-Digest, with a Last-Modified only; later ones with them, and an If-Range date is checked against Last-Modified.
   */
  hashedAfter?: number;
  /** Cut the first range answer after 512 KiB too. */
  cutFirstRange?: boolean;
}

/** The Last-Modified of both files (replaced within one second: a date cannot tell them apart). */
const lastModified = new Date(1_700_000_000_000).toUTCString();

const etagOf = (data: Buffer) => `"${createHash('sha256').update(data).digest('hex').slice(0, 16)}"`;
const digestOf = (data: Buffer) => `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;

/** Serves the image as the manager does: ranges, a strong ETag checked by If-Range, Repr-Digest. */
async function serve(options: Served): Promise<string> {
  let cut = options.cutFirst;
  let cutRange = options.cutFirstRange ?? false;
  let down = options.downFor ?? 0;
  let requests = 0;
  server = createServer((req, res) => {
    requests += 1;
    const file = options.changeAfter !== undefined && requests > options.changeAfter ? other : image;
    ranges.push(req.headers.range ?? 'none');
    ifRanges.push(String(req.headers['if-range'] ?? 'none'));
    if (down > 0) {
      down -= 1;
      return void req.socket.destroy();
    }
    if (req.url !== '/root.img') return void res.writeHead(404).end();
    const asked = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const hashed = options.hashedAfter === undefined || requests > options.hashedAfter;
    const ifRange = req.headers['if-range'];
    const fresh = options.ignoreIfRange || ifRange === undefined || (hashed && (ifRange === etagOf(file) || ifRange === lastModified));
    const start = asked && fresh ? Number(asked[1]) : 0;
    const validators = !hashed ? { 'last-modified': lastModified }
      : options.ignoreIfRange && start > 0 ? { etag: etagOf(image), 'repr-digest': digestOf(image) }
        : { etag: etagOf(file), 'repr-digest': digestOf(file), ...(options.hashedAfter !== undefined ? { 'last-modified': lastModified } : {}) };
    const body = file.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length, ...validators, ...(start > 0 ? { 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` } : {}),
    });
    if (cut) {
      cut = false;
      sent += 2 ** 20;
      res.write(body.subarray(0, 2 ** 20), () => res.destroy());
      return;
    }
    if (cutRange && start > 0) {
      cutRange = false;
      sent += 2 ** 19;
      res.write(body.subarray(0, 2 ** 19), () => res.destroy());
      return;
    }
    sent += body.length;
    res.end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(() => {
  server?.close();
  server = null;
  ranges.length = 0;
  ifRanges.length = 0;
  sent = 0;
});

function disk(bytes: number): { path: string; sizeBytes: number } {
  const path = join(mkdtempSync(join(tmpdir(), 'mf-disk-')), 'disk.raw');
  writeFileSync(path, Buffer.alloc(bytes, 0xee));
  return { path, sizeBytes: bytes };
}

describe('diskInstaller', () => {
  it('writes the image to the disk, resumes a dropped download with a range request, and hashes what it reads back', async () => {
    const base = await serve({ cutFirst: true });
    const target = disk(4 * 2 ** 20);
    const seen: number[] = [];
    const result = await diskInstaller(async () => target)(`${base}/root.img`, (p) => seen.push(p.bytes));
    expect(result).toEqual({ sha256: sha, bytes: image.length, detail: `wrote ${image.length} bytes to ${target.path} and read them back` });
    // The second request starts where the disk's writes ended: within the first MiB, not at zero.
    expect(ranges).toEqual(['none', expect.stringMatching(/^bytes=\d+-$/)]);
    const resumedAt = Number(/\d+/.exec(ranges[1] ?? '')?.[0]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(2 ** 20);
    const written = readFileSync(target.path);
    expect(written.subarray(0, image.length).equals(image)).toBe(true);
    // The rest of the disk is left as it was.
    expect(written.subarray(image.length).every((b) => b === 0xee)).toBe(true);
    expect(seen.at(-1)).toBe(image.length);
  }, 20_000);

  it('refuses an image larger than the disk before writing anything, and a missing image with the HTTP status', async () => {
    const base = await serve({ cutFirst: false });
    const small = disk(2 ** 20);
    await expect(diskInstaller(async () => small)(`${base}/root.img`, () => undefined)).rejects.toThrow(`the image is ${image.length} bytes; ${small.path} holds only ${2 ** 20}`);
    expect(readFileSync(small.path).every((b) => b === 0xee)).toBe(true);
    await expect(diskInstaller(async () => small)(`${base}/gone.img`, () => undefined)).rejects.toThrow('HTTP 404');
  });
});

describe('a manager restarting during the download', () => {
  const quick = { windowMs: 60_000, firstPauseMs: 5 };

  it('is waited for: the disk install resumes after more failed tries than a restart takes (it gave up after 5)', async () => {
    const base = await serve({ cutFirst: true, downFor: 8 });
    const target = disk(4 * 2 ** 20);
    const result = await diskInstaller(async () => target, undefined, quick)(`${base}/root.img`, () => undefined);
    expect(result.sha256).toBe(sha);
    expect(ranges.length).toBe(10);
  }, 20_000);

  it('is waited for by the simulated installer too (it gave up at the first error)', async () => {
    const base = await serve({ cutFirst: true, downFor: 3 });
    expect(await verifyingInstaller(undefined, quick)(`${base}/root.img`, () => undefined)).toMatchObject({ sha256: sha });
  }, 20_000);

  it('gives up when the window has passed, and at once on an answer that will not change (404)', async () => {
    const base = await serve({ cutFirst: false, downFor: 1000 });
    await expect(verifyingInstaller(undefined, { windowMs: 50, firstPauseMs: 5 })(`${base}/root.img`, () => undefined)).rejects.toThrow();
    server?.close();
    ranges.length = 0;
    ifRanges.length = 0;
    const served = await serve({ cutFirst: false });
    await expect(verifyingInstaller(undefined, quick)(`${served}/gone.img`, () => undefined)).rejects.toThrow('HTTP 404');
    expect(ranges.length).toBe(1);
  });
});

describe('resuming a cut download', () => {
  const quick = { windowMs: 60_000, firstPauseMs: 5 };

  it('the simulated installer asks only for the rest, conditional on the version it started (it downloaded everything again)', async () => {
    const base = await serve({ cutFirst: true });
    const seen: number[] = [];
    expect(await verifyingInstaller(undefined, quick)(`${base}/root.img`, (p) => seen.push(p.bytes))).toMatchObject({ sha256: sha });
    expect(ranges).toEqual(['none', expect.stringMatching(/^bytes=\d+-$/)]);
    expect(ifRanges[1]).toBe(etagOf(image));
    const resumedAt = Number(/\d+/.exec(ranges[1] ?? '')?.[0]);
    expect(resumedAt).toBeGreaterThan(0);
    // Fewer bytes than the whole image went over the wire again.
    expect(sent - 2 ** 20).toBe(image.length - resumedAt);
    expect(seen.at(-1)).toBe(image.length);
  }, 20_000);

  it('the disk installer sends the same If-Range', async () => {
    const base = await serve({ cutFirst: true, downFor: 0 });
    const target = disk(4 * 2 ** 20);
    expect((await diskInstaller(async () => target, undefined, quick)(`${base}/root.img`, () => undefined)).sha256).toBe(sha);
    // Every try after the first asks for the rest of the version it started with.
    expect(ranges[0]).toBe('none');
    expect(ranges.slice(1)).toEqual(ranges.slice(1).map(() => expect.stringMatching(/^bytes=[1-9]\d*-$/)));
    expect(ifRanges.slice(1)).toEqual(ifRanges.slice(1).map(() => etagOf(image)));
    expect(ranges.length).toBeGreaterThan(1);
  }, 20_000);

  it('starts over from byte 0 when the image changed between tries (If-Range: the whole new image)', async () => {
    const base = await serve({ cutFirst: true, changeAfter: 1 });
    const target = disk(4 * 2 ** 20);
    const result = await diskInstaller(async () => target, undefined, quick)(`${base}/root.img`, () => undefined);
    // The new image, whole: nothing of the first one spliced in.
    expect(result).toMatchObject({ sha256: otherSha, bytes: other.length });
    expect(readFileSync(target.path).subarray(0, other.length).equals(other)).toBe(true);
    expect(await verifyingInstaller(undefined, quick)(`${base}/root.img`, () => undefined)).toMatchObject({ sha256: otherSha });
  }, 20_000);

  it('starts over when the assembled image does not match the server\'s digest (a server that splices), and then verifies', async () => {
    // The broken server resumes into the replaced file with the first file's validators: only the whole-image check sees it.
    const base = await serve({ cutFirst: true, changeAfter: 1, ignoreIfRange: true });
    const target = disk(4 * 2 ** 20);
    const installer = diskInstaller(async () => target, undefined, quick);
    await expect(installer(`${base}/root.img`, () => undefined)).resolves.toMatchObject({ sha256: otherSha, bytes: other.length });
    // First the whole image, then the rest (spliced, refused), then from 0 again.
    expect(ranges[0]).toBe('none');
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(ranges[2]).toBe('none');
  }, 20_000);
});

describe('a server that had not hashed the image when the download started (a manager just restarted)', () => {
  const quick = { windowMs: 60_000, firstPauseMs: 5 };

  it('resumes by Last-Modified, then by the strong ETag the range answer brought', async () => {
    const base = await serve({ cutFirst: true, hashedAfter: 1, cutFirstRange: true });
    const target = disk(4 * 2 ** 20);
    const result = await diskInstaller(async () => target, undefined, quick)(`${base}/root.img`, () => undefined);
    expect(result.sha256).toBe(sha);
    expect(ifRanges[1]).toBe(lastModified);
    // The range answer was cut too: the try after it asks with the ETag that answer brought.
    expect(ifRanges.slice(2)).toEqual(ifRanges.slice(2).map(() => etagOf(image)));
    expect(ifRanges.length).toBeGreaterThan(2);
    expect(readFileSync(target.path).subarray(0, image.length).equals(image)).toBe(true);
  }, 20_000);

  it('checks the whole against the digest a range answer brought: a splice the date could not tell is downloaded again', async () => {
    // Replaced within the same second: the date validator matches, and the range is of the new file.
    const base = await serve({ cutFirst: true, hashedAfter: 1, changeAfter: 1 });
    const target = disk(4 * 2 ** 20);
    const result = await diskInstaller(async () => target, undefined, quick)(`${base}/root.img`, () => undefined);
    expect(result).toMatchObject({ sha256: otherSha, bytes: other.length });
    expect(readFileSync(target.path).subarray(0, other.length).equals(other)).toBe(true);
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(ranges[2]).toBe('none');
  }, 20_000);
});

describe('the retry window', () => {
  it('is the manager\'s install window from the kernel command line, else 10 minutes', () => {
    expect(downloadRetryFor(900).windowMs).toBe(900_000);
    expect(downloadRetryFor(undefined)).toEqual(defaultDownloadRetry);
    expect(defaultDownloadRetry.windowMs).toBe(600_000);
  });
});
