import { describe, expect, it } from 'vitest';
import { retryWhileUnreachable, StoreConnectError, type ConnectAttempt } from './store-connect.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });

/** A fake clock: sleeping moves it on. */
function fakeTime() {
  let at = 1_000_000;
  return { now: () => at, sleep: async (ms: number) => { at += ms; } };
}

describe('waiting for the store at start', () => {
  it('retries connection errors with doubling pauses, telling each attempt, until the store answers', async () => {
    const clock = fakeTime();
    const attempts: ConnectAttempt[] = [];
    let calls = 0;
    const answer = await retryWhileUnreachable('PostgreSQL', async () => {
      calls += 1;
      if (calls < 5) throw refused;
      return 'open';
    }, { ...clock, deadline: clock.now() + 60_000, onRetry: (a) => attempts.push(a), firstRetryMs: 250, maxRetryMs: 1000 });
    expect(answer).toBe('open');
    expect(attempts.map((a) => [a.attempt, a.retryInMs, a.reason])).toEqual([
      [1, 250, refused.message], [2, 500, refused.message], [3, 1000, refused.message], [4, 1000, refused.message],
    ]);
  });

  it('gives up at the deadline with one error naming the last reason', async () => {
    const clock = fakeTime();
    const attempts: ConnectAttempt[] = [];
    const failed = await retryWhileUnreachable('PostgreSQL', async () => { throw refused; }, { ...clock, deadline: clock.now() + 3000, onRetry: (a) => attempts.push(a) })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StoreConnectError);
    expect((failed as Error).message).toMatch(/^PostgreSQL did not answer within 3 s \(\d+ attempts, last: connect ECONNREFUSED 127\.0\.0\.1:5999\)/);
    expect(attempts.reduce((sum, a) => sum + a.retryInMs, 0)).toBe(3000);
  });

  it('does not wait out other errors (a bad password, a missing database)', async () => {
    const clock = fakeTime();
    const denied = Object.assign(new Error('password authentication failed for user "fleet"'), { code: '28P01' });
    let calls = 0;
    await expect(retryWhileUnreachable('PostgreSQL', async () => { calls += 1; throw denied; }, { ...clock, deadline: clock.now() + 60_000, onRetry: () => undefined }))
      .rejects.toBe(denied);
    expect(calls).toBe(1);
  });
});
