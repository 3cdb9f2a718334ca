import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diskInstaller } from './image-installer.ts';

const image = randomBytes(3 * 2 ** 20);
const sha = createHash('sha256').update(image).digest('hex');
let server: Server | null = null;
const ranges: string[] = [];

/** Serves the image with range support; the first full download is cut after 1 MiB, as a dropped link would. */
async function serve(options: { cutFirst: boolean }): Promise<string> {
  let cut = options.cutFirst;
  server = createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? 'none');
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
