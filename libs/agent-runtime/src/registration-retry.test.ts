// After a failed registration try: how long an agent waits, and what it keeps.
import { describe, expect, it } from 'vitest';
import { status, Metadata, type ServiceError } from '@grpc/grpc-js';
import { RpcError } from '@metalfleet/transport';
import { afterFailedTry, unansweredBackoffMaxMs } from './registration-retry.ts';

const backoff = { initialMs: 1000, maxMs: 30_000 };

function rpcError(code: status, retryAfterMs?: number): RpcError {
  const metadata = new Metadata();
  if (retryAfterMs !== undefined) metadata.set('retry-after-ms', String(retryAfterMs));
  return new RpcError(Object.assign(new Error('failed'), { code, details: 'failed', metadata }) as ServiceError);
}

describe('after a failed registration try', () => {
  it('waits longer and longer while the manager answers no try in time, past the agent\'s 30 s cap (a starved manager hears less from each agent)', () => {
    let tries = { attempt: 0, unanswered: 0 };
    const ceilings: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const next = afterFailedTry(rpcError(status.DEADLINE_EXCEEDED), tries, backoff, 0.999);
      ceilings.push(next.delayMs);
      // Kept after one try without an answer (it may still be waiting its turn), built again after a second in a row
      // (a manager host gone without a reset leaves a dead connection).
      expect(next.reconnect).toBe(next.unanswered % 2 === 0);
      tries = { attempt: tries.attempt + 1, unanswered: next.unanswered };
    }
    expect(ceilings[0]).toBeLessThan(1000);
    expect(Math.max(...ceilings)).toBeGreaterThan(250_000);
    expect(Math.max(...ceilings)).toBeLessThanOrEqual(unansweredBackoffMaxMs);
    // Full jitter: a fleet refused together comes back spread over the whole window.
    expect(afterFailedTry(rpcError(status.DEADLINE_EXCEEDED), tries, backoff, 0).delayMs).toBe(0);
  });

  it('starts again from the short backoff once the manager answers a try, even with a refusal', () => {
    const next = afterFailedTry(rpcError(status.UNAVAILABLE), { attempt: 3, unanswered: 9 }, backoff, 0.5);
    expect(next.unanswered).toBe(0);
    expect(next.delayMs).toBeLessThanOrEqual(30_000);
  });

  it('follows a busy manager\'s retry-after hint beyond 30 s and keeps the connection', () => {
    const next = afterFailedTry(rpcError(status.UNAVAILABLE, 90_000), { attempt: 0, unanswered: 0 }, backoff, 0.5);
    expect(next.delayMs).toBe(105_000);
    expect(next.reconnect).toBe(false);
    expect(next.retryAfterMs).toBe(90_000);
  });

  it('dials again after a connection failure (the manager may have a new certificate or address), within the agent\'s cap', () => {
    const next = afterFailedTry(rpcError(status.UNAVAILABLE), { attempt: 20, unanswered: 0 }, backoff, 0.999);
    expect(next.reconnect).toBe(true);
    expect(next.delayMs).toBeLessThanOrEqual(30_000);
  });
});
