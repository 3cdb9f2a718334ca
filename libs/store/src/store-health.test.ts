import { describe, expect, it } from 'vitest';
import { DomainError } from '@metalfleet/domain';
import { isConnectionError, storeHealth, type StoreAvailability } from './store-health.ts';
import { classifyStoreError } from './store-problems.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('store health', () => {
  it('tells connection errors from statement errors', () => {
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    // The server ended a session whose transaction sat idle too long (idle_in_transaction_session_timeout).
    expect(isConnectionError(Object.assign(new Error('terminating connection due to idle-in-transaction timeout'), { code: '25P03' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
  });

  it('a lost connection is `unavailable` (retryable) without the driver message; a probe with backoff finds the store again', async () => {
    let up = true;
    const changes: StoreAvailability[] = [];
    const health = storeHealth({ ping: async () => { if (!up) throw refused; }, onChange: (s) => changes.push(s), firstRetryMs: 1, maxRetryMs: 4 });
    up = false;
    const failed = await health.watch(async () => { throw refused; }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DomainError);
    expect(failed).toMatchObject({ code: 'unavailable', retryable: true, message: expect.stringMatching(/fleet store.*unreachable/) });
    expect((failed as Error).message).not.toMatch(/127\.0\.0\.1/);
    expect(await health.check()).toMatchObject({ available: false, reason: refused.message });
    up = true;
    await until(() => changes.at(-1)?.available === true);
    expect(changes.map((c) => c.available)).toEqual([false, true]);
    health.stop();
  });

  it('other errors pass through unchanged and leave the store available', async () => {
    const health = storeHealth({ ping: async () => undefined });
    const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
    await expect(health.watch(async () => { throw syntax; })).rejects.toBe(syntax);
    expect((await health.check()).available).toBe(true);
    health.stop();
  });

  it('runs one ping however many readiness checks arrive at once', async () => {
    let pings = 0;
    let release: () => void = () => undefined;
    const health = storeHealth({ ping: () => { pings += 1; return new Promise<void>((resolve) => { release = resolve; }); } });
    const checks = Array.from({ length: 50 }, () => health.check());
    release();
    const states = await Promise.all(checks);
    expect(pings).toBe(1);
    expect(states.every((s) => s.available)).toBe(true);
    health.stop();
  });

  it('a full disk is `unavailable` naming the disk, logged once per episode, and over only when a write probe succeeds', async () => {
    let full = true;
    const diskFull = Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13 });
    const changes: StoreAvailability[] = [];
    const health = storeHealth({
      ping: async () => undefined,
      writeProbe: async () => { if (full) throw diskFull; },
      describe: ({ problem }) => (problem === 'disk-full' ? "the manager's disk is full: /data" : 'other'),
      onChange: (s) => changes.push(s), firstRetryMs: 1, maxRetryMs: 4,
    });
    for (let i = 0; i < 5; i += 1) {
      const failed = health.translate(diskFull);
      expect(failed).toBeInstanceOf(DomainError);
      expect(failed).toMatchObject({ code: 'unavailable', message: "the manager's disk is full: /data; retry later", details: { storeProblem: 'disk-full', forClients: true } });
    }
    // Reads still answer: that does not make the disk less full.
    expect(await health.watch(async () => 'read')).toBe('read');
    expect(await health.check()).toMatchObject({ available: false, problem: 'disk-full', message: "the manager's disk is full: /data", errors: { 'disk-full': 5 } });
    full = false;
    await until(() => changes.at(-1)?.available === true);
    expect(changes.map((c) => [c.available, c.problem])).toEqual([[false, 'disk-full'], [true, null]]);
    health.stop();
  });

  it('a precheck (free space under the floor) makes the store not ready before any write fails', async () => {
    let low = true;
    const changes: StoreAvailability[] = [];
    const health = storeHealth({
      ping: async () => undefined, writeProbe: async () => undefined, firstRetryMs: 1, maxRetryMs: 4, onChange: (s) => changes.push(s),
      precheck: () => (low ? { problem: 'disk-full', what: 'disk full', reason: '0 bytes free in /data' } : null),
    });
    expect(await health.check()).toMatchObject({ available: false, problem: 'disk-full', reason: '0 bytes free in /data', errors: { 'disk-full': 0 } });
    low = false;
    await until(() => changes.at(-1)?.available === true);
    expect((await health.check()).available).toBe(true);
    health.stop();
  });

  it('classifies PostgreSQL and SQLite errors that mean the store cannot write', () => {
    expect(classifyStoreError(Object.assign(new Error('could not extend file'), { code: '53100' }))).toEqual({ problem: 'disk-full', what: 'disk full' });
    expect(classifyStoreError(Object.assign(new Error('out of memory'), { code: '53200' }))?.problem).toBe('not-writable');
    expect(classifyStoreError(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }))?.problem).toBe('not-writable');
    expect(classifyStoreError(Object.assign(new Error('disk I/O error'), { code: 'ERR_SQLITE_ERROR', errcode: 778 }))).toEqual({ problem: 'not-writable', what: 'I/O error' });
    expect(classifyStoreError(Object.assign(new Error('UNIQUE constraint failed'), { code: 'ERR_SQLITE_ERROR', errcode: 2067 }))).toBeNull();
    expect(classifyStoreError(new DomainError('conflict', 'taken'))).toBeNull();
  });
});
