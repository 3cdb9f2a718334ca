// A manager that starts with a large root image it has not hashed yet answers
// the first download of it at once: the whole image, without the strong ETag
// (its sha256) that it does not know yet. Before, the request waited for the
// image to be hashed, about 85 s for 30 GB on this machine, longer than an
// installer waits for a first byte (60 s): every install that was downloading
// when the manager restarted lost its tries to that wait. Hashed in the
// background, the digest is kept in the data directory: the next start knows
// it without reading the image again, and resumes (If-Range) work at once.
//
// The image is sparse (3 GiB of holes): hashing it takes seconds, holds no disk.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';

const imageBytes = 3 * 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), 'mf-image-hashing-'));
let manager: ManagerProcess;

beforeAll(() => {
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  const fd = openSync(join(dir, 'manager', 'images', 'root.img'), 'w');
  ftruncateSync(fd, imageBytes);
  closeSync(fd);
  manager = new ManagerProcess(join(dir, 'manager'));
});

afterAll(async () => {
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hashedLine = (line: string) => line.includes('"msg":"image file hashed"');

const metric = async (name: string) => {
  const text = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

/** The response headers of a GET for the root image; the body is not read (3 GiB). */
async function headersOf(headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers }> {
  const abort = new AbortController();
  const response = await fetch(`${manager.boot}/images/root.img`, { headers, signal: abort.signal });
  abort.abort();
  return { status: response.status, headers: response.headers };
}

describe('a root image the manager has not hashed yet', () => {
  it('is served at once while it is hashed, resumable once hashed, and not hashed again at the next start', async () => {
    await manager.start();
    const first = await headersOf();
    // Answered before the hash was done: whole, without the validator it does not know yet.
    const hashedBeforeAnswer = manager.proc?.lines.some(hashedLine);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-length')).toBe(String(imageBytes));
    expect(first.headers.get('etag')).toBeNull();
    expect(hashedBeforeAnswer).toBe(false);

    const hashed = await manager.proc?.waitForLog('image file hashed', 120_000);
    expect(hashed?.['bytes']).toBe(imageBytes);
    const whole = await headersOf();
    const etag = whole.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"sha256:/);
    expect(whole.headers.get('repr-digest')).toMatch(/^sha-256=:/);
    const resumed = await headersOf({ range: `bytes=${imageBytes - 10}-`, 'if-range': etag });
    expect(resumed.status).toBe(206);
    expect(await metric('metalfleet_image_files_unhashed')).toBe(0);
    expect(await metric('metalfleet_image_files_hashed')).toBe(1);

    // Restarted: the digest is known from the data directory; the image is not read again.
    await manager.stop();
    await manager.start();
    const known = await manager.proc?.waitForLog('image file digests known');
    expect(known).toMatchObject({ files: 1, toHash: 0 });
    const afterRestart = await headersOf({ range: `bytes=${imageBytes - 10}-`, 'if-range': etag });
    expect(afterRestart.status).toBe(206);
    expect(afterRestart.headers.get('etag')).toBe(etag);
    expect(manager.proc?.lines.some((line) => line.includes('"msg":"hashing image file'))).toBe(false);
    expect(await metric('metalfleet_image_files_hashed')).toBe(0);
  }, 240_000);
});
