import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diskInstaller, verifyingInstaller } from './image-installer.ts';

const image = randomBytes(3 * 2 ** 20);
const sha = createHash('sha256').update(image).digest('hex');
let server: Server | null = null;
const ranges: string[] = [];

/** Serves the image with range support; the first full download is cut after 1 MiB, as a dropped link would. */
async function serve(options: { cutFirst: boolean; downFor?: number }): Promise<string> {
  let cut = options.cutFirst;
  let down = options.downFor ?? 0;
  server = createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? 'none');
    // A manager that is restarting: the connection drops before any answer.
    if (down > 0) {
      down -= 1;
      return void req.socket.destroy();
    }
    if (req.url !== '/root.img') return void res.writeHead(404).end();
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, { 'content-length': image.length - start });
    if (cut) {
      cut = false;
      res.write(image.subarray(0, 2 ** 20), () => res.destroy());
      return;
    }
    res.end(image.subarray(start));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(() => {
  server?.close();
  server = null;
  ranges.length = 0;
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
    const served = await serve({ cutFirst: false });
    await expect(verifyingInstaller(undefined, quick)(`${served}/gone.img`, () => undefined)).rejects.toThrow('HTTP 404');
    expect(ranges.length).toBe(1);
  });
});
