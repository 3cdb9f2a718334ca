// The digests of served files: hashed in the background, kept across restarts
// in the data directory by file identity, never given to a file that changed.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileDigests, type FileDigestsOptions } from './file-digests.ts';

let dir = '';
let images = '';
let ledgerFile = '';
/** Files read for hashing, in order. */
let reads: string[] = [];

const sha = (data: Buffer) => createHash('sha256').update(data).digest('base64');
const counting: FileDigestsOptions['read'] = (path, signal) => {
  reads.push(path);
  return createReadStream(path, { signal });
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mf-file-digests-'));
  images = join(dir, 'images');
  mkdirSync(join(images, 'ubuntu'), { recursive: true });
  ledgerFile = join(dir, 'image-digests.json');
  reads = [];
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function started(options: Partial<FileDigestsOptions> = {}) {
  const digests = createFileDigests({ root: images, ledgerFile, read: counting, ...options });
  await digests.start();
  await digests.idle();
  return digests;
}

describe('file digests', () => {
  it('hashes every file under the root at start and keeps the digests (mode 600) for the next start, which hashes only what changed', async () => {
    const kernel = randomBytes(4096);
    const root = randomBytes(64 * 1024);
    writeFileSync(join(images, 'vmlinuz'), kernel);
    writeFileSync(join(images, 'ubuntu', 'root.img'), root);
    const first = await started();
    expect(reads.sort()).toEqual([join(images, 'ubuntu', 'root.img'), join(images, 'vmlinuz')]);
    expect((await first.lookup('ubuntu/root.img'))?.digest).toBe(sha(root));
    expect((await first.lookup('vmlinuz'))?.digest).toBe(sha(kernel));
    expect(statSync(ledgerFile).mode & 0o777).toBe(0o600);
    await first.close();

    // A restart: nothing changed, nothing is read again.
    reads = [];
    const second = await started();
    expect(reads).toEqual([]);
    expect((await second.lookup('ubuntu/root.img'))?.digest).toBe(sha(root));
    await second.close();

    // The root image is replaced (same size) and the kernel touched: both are hashed again, and only they.
    const replaced = randomBytes(64 * 1024);
    writeFileSync(join(images, 'ubuntu', 'root.img'), replaced);
    utimesSync(join(images, 'vmlinuz'), new Date(), new Date(Date.now() + 2000));
    writeFileSync(join(images, 'initrd'), randomBytes(100));
    reads = [];
    const third = await started();
    expect(reads.sort()).toEqual([join(images, 'initrd'), join(images, 'ubuntu', 'root.img'), join(images, 'vmlinuz')]);
    expect((await third.lookup('ubuntu/root.img'))?.digest).toBe(sha(replaced));
    await third.close();
  });

  it('hashes everything again when the ledger is damaged or missing, and writes a good one', async () => {
    writeFileSync(join(images, 'root.img'), randomBytes(1000));
    writeFileSync(ledgerFile, '{"version":1,"files":{"/x": {"dev":');
    const warnings: string[] = [];
    const digests = await started({ log: { info: () => undefined, warn: (_context, message) => warnings.push(message) } });
    expect(reads).toEqual([join(images, 'root.img')]);
    expect(warnings.some((m) => m.includes('ledger unreadable'))).toBe(true);
    await digests.close();
    reads = [];
    await (await started()).close();
    expect(reads).toEqual([]);
  });

  it('gives no digest to a file that changed while it was hashed, even under its old size and modification time', async () => {
    const path = join(images, 'root.img');
    const before = randomBytes(8192);
    writeFileSync(path, before);
    const at = new Date(1_700_000_000_000);
    utimesSync(path, at, at);
    const digests = await started({
      read: async function* changing(file, signal) {
        reads.push(file);
        for await (const chunk of createReadStream(file, { signal })) yield chunk as Buffer;
        // Rewritten in place after the hash read it, times put back (as cp -p or tar would): what was hashed is gone.
        if (reads.length === 1) {
          writeFileSync(file, randomBytes(8192));
          utimesSync(file, at, at);
        }
      },
    });
    expect(reads).toEqual([path]);
    expect((await digests.lookup('root.img'))?.digest).toBeNull();
    // Asked for, it is hashed again, as it is now.
    await digests.idle();
    const now = readFileSync(path);
    expect(sha(now)).not.toBe(sha(before));
    expect((await digests.lookup('root.img'))?.digest).toBe(sha(now));
    await digests.close();
  });

  it('answers a lookup without waiting for a hash, and hashes the file asked for next', async () => {
    writeFileSync(join(images, 'a.img'), randomBytes(1000));
    writeFileSync(join(images, 'b.img'), randomBytes(1000));
    writeFileSync(join(images, 'c.img'), randomBytes(1000));
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const digests = createFileDigests({
      root: images, ledgerFile: null,
      read: async function* held(file, signal) {
        reads.push(file);
        await gate;
        for await (const chunk of createReadStream(file, { signal })) yield chunk as Buffer;
      },
    });
    await digests.start();
    await vi.waitFor(() => expect(reads).toEqual([join(images, 'a.img')]), { interval: 5 });
    const c = await digests.lookup('c.img');
    expect(c?.digest).toBeNull();
    expect(digests.status().pending).toBe(3);
    release();
    await digests.idle();
    // a.img was already being hashed; c.img, asked for, went before b.img.
    expect(reads).toEqual([join(images, 'a.img'), join(images, 'c.img'), join(images, 'b.img')]);
    expect(digests.status()).toMatchObject({ pending: 0, hashedFiles: 3 });
    expect(await digests.lookup('../image-digests.json')).toBeNull();
    expect(await digests.lookup('missing.img')).toBeNull();
    await digests.close();
  });
});
