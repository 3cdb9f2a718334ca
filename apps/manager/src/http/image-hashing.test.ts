// A root image is hashed (for its strong ETag) in the background: a request
// that comes while it is still being hashed is answered at once, with the whole
// file and no validator, instead of waiting minutes for a large image (longer
// than an installer waits for a first byte). Hashing is held back here by a
// gate on the manager's reads of the file, over a real socket.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FleetEvents, createBootTokens, createBootstrapTokens } from '@metalfleet/fleet';
import { openSqliteFleetStore } from '@metalfleet/store';
import { buildBootApp } from './boot-app.ts';

const gate = vi.hoisted(() => {
  let release = () => undefined as void;
  const opened = new Promise<void>((resolve) => { release = resolve; });
  return { opened, release, reads: 0 };
});

// The manager's own reads of files (hashing) wait for the gate; the static file sender is a dependency and reads as usual.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const createReadStream = (...args: Parameters<typeof fs.createReadStream>) => {
    gate.reads += 1;
    const source = fs.createReadStream(...args);
    return Readable.from((async function* held() {
      await gate.opened;
      yield* source;
    })());
  };
  return { ...fs, default: { ...fs, createReadStream }, createReadStream };
});

const dir = mkdtempSync(join(tmpdir(), 'mf-image-hashing-'));
const image = randomBytes(512 * 1024);
let app: FastifyInstance;
let base = '';

beforeAll(async () => {
  writeFileSync(join(dir, 'root.img'), image);
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
  gate.release();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/images/root.img`, { headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

describe('a root image whose sha256 is not known yet', () => {
  it('is served at once, whole and without a strong validator; with its ETag once hashed, and then resumable', async () => {
    const first = await get();
    // The hash has not read a byte: the answer did not wait for it.
    expect(first.status).toBe(200);
    expect(first.body.equals(image)).toBe(true);
    expect(first.headers.get('etag')).toBeNull();
    expect(first.headers.get('repr-digest')).toBeNull();
    const lastModified = first.headers.get('last-modified') ?? '';
    expect(lastModified).not.toBe('');

    // A resume conditional on anything is answered with the whole file: nothing known says the range is of the same version.
    const byDate = await get({ range: 'bytes=1000-', 'if-range': lastModified });
    expect(byDate.status).toBe(200);
    expect(byDate.body.equals(image)).toBe(true);
    const byGuess = await get({ range: 'bytes=1000-', 'if-range': `"sha256:${createHash('sha256').update(image).digest('base64')}"` });
    expect(byGuess.status).toBe(200);

    gate.release();
    const digest = createHash('sha256').update(image).digest('base64');
    await vi.waitFor(async () => expect((await get()).headers.get('etag')).toBe(`"sha256:${digest}"`), { timeout: 10_000, interval: 20 });
    // The download that started without a validator resumes by its Last-Modified, and learns the digest to check the whole.
    const resumed = await get({ range: 'bytes=1000-', 'if-range': lastModified });
    expect(resumed.status).toBe(206);
    expect(resumed.body.equals(image.subarray(1000))).toBe(true);
    expect(resumed.headers.get('repr-digest')).toBe(`sha-256=:${digest}:`);
  });
});
