// The boot listener serves root images so that an install can resume a cut
// download: ranges (206 + Content-Range), a strong validator (the sha256 as
// ETag) that If-Range is checked against, so a resumed download never splices
// two versions of an image. Over a real socket, as installers reach it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FleetEvents, createBootTokens, createBootstrapTokens } from '@metalfleet/fleet';
import { openSqliteFleetStore } from '@metalfleet/store';
import { buildBootApp } from './boot-app.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-image-ranges-'));
const first = randomBytes(256 * 1024);
const second = randomBytes(256 * 1024);
let app: FastifyInstance;
let base = '';

const b64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

beforeAll(async () => {
  writeFileSync(join(dir, 'root.img'), first);
  const store = openSqliteFleetStore({ path: ':memory:' });
  const now = () => new Date();
  const tokens = createBootstrapTokens({ store, now, caFingerprint: null });
  const bootTokens = createBootTokens({ tokens, store, now, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 2, discoveryMax: 3, installTtlSeconds: 3600 } });
  app = await buildBootApp({
    store, events: new FleetEvents(), now, logger: pino({ level: 'silent' }), managerAddress: () => '127.0.0.1:1', publicUrl: () => base,
    discoveryImage: null, imageDir: dir, bootTokens, retryAfterS: 900, installTimeoutMs: 600_000,
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/images/root.img`, { headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** Waits until the image is hashed (in the background; until then it is served without validators: image-hashing.test.ts). */
async function hashed(data: Buffer): Promise<void> {
  await vi.waitFor(async () => expect((await get()).headers.get('etag')).toBe(`"sha256:${b64(data)}"`), { timeout: 10_000, interval: 20 });
}

describe('root images on the boot listener', () => {
  it('answers the whole image with a strong ETag (its sha256), Last-Modified and Repr-Digest', async () => {
    await hashed(first);
    const whole = await get();
    expect(whole.status).toBe(200);
    expect(whole.body.equals(first)).toBe(true);
    expect(whole.headers.get('etag')).toBe(`"sha256:${b64(first)}"`);
    expect(whole.headers.get('last-modified')).toBeTruthy();
    expect(whole.headers.get('repr-digest')).toBe(`sha-256=:${b64(first)}:`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
  });

  it('answers a range with 206 and Content-Range, and the same validators', async () => {
    const part = await get({ range: 'bytes=1000-' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-${first.length - 1}/${first.length}`);
    expect(part.body.equals(first.subarray(1000))).toBe(true);
    expect(part.headers.get('etag')).toBe(`"sha256:${b64(first)}"`);
    expect(part.headers.get('repr-digest')).toBe(`sha-256=:${b64(first)}:`);
  });

  it('honours If-Range with the ETag it gave: the rest while the image is the same, the whole new image once it changed', async () => {
    const etag = (await get()).headers.get('etag') ?? '';
    const resumed = await get({ range: 'bytes=5000-', 'if-range': etag });
    expect(resumed.status).toBe(206);
    expect(resumed.body.equals(first.subarray(5000))).toBe(true);

    // The image is replaced between two tries of a download (same size; the modification time moves on).
    writeFileSync(join(dir, 'root.img'), second);
    utimesSync(join(dir, 'root.img'), new Date(), new Date(Date.now() + 5000));
    const changed = await get({ range: 'bytes=5000-', 'if-range': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.equals(second)).toBe(true);
    // Never the old file's validator on the new file's bytes; the new one's once it is hashed.
    expect(changed.headers.get('etag')).not.toBe(etag);
    await hashed(second);
    expect((await get({ range: 'bytes=5000-', 'if-range': etag })).status).toBe(200);
    // A Last-Modified that is not this version's is no validator either.
    const byDate = await get({ range: 'bytes=5000-', 'if-range': new Date(Date.now() - 3_600_000).toUTCString() });
    expect(byDate.status).toBe(200);
    // Without If-Range a range is a range.
    expect((await get({ range: 'bytes=5000-' })).status).toBe(206);
  });
});
