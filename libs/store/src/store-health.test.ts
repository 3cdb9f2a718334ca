import { describe, expect, it } from 'vitest';
import { DomainError } from '@metalfleet/domain';
import { isConnectionError, storeHealth, type StoreAvailability } from './store-health.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('store health', () => {
  it('tells connection errors from statement errors', () => {
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
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
});
