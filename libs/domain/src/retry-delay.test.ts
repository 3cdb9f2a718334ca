import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.ts';

describe('retryDelay (full jitter, retry-after honoured)', () => {
  const policy = { initialMs: 1000, maxMs: 30_000 };

  it.each([
    [0, 0, 0], [0, 0.5, 500], [0, 0.999, 999], [3, 0.5, 4000], [10, 0.999, 29_970], [50, 0.999, 29_970], [10, 0, 0],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(retryDelay(attempt, policy, random)).toBe(expected);
  });

  it('spreads retries over the whole window: from 0 up to the ceiling', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => retryDelay(4, policy, i / 1000));
    expect(Math.min(...delays)).toBe(0);
    expect(Math.max(...delays)).toBeGreaterThan(15_900);
    expect(Math.max(...delays)).toBeLessThanOrEqual(16_000);
  });

  it.each([
    // attempt, random, retry-after, expected: never sooner than the hint, jittered up to twice it
    [0, 0, 5000, 5000], [0, 0.999, 5000, 9995], [0, 0.5, 2000, 3000],
    // the growing backoff still wins when it is longer than the hint
    [5, 0.9, 1000, 27_000],
    // a hint beyond the agent's own cap is followed (a busy manager spreads a storm over minutes), jittered by at most the cap
    [0, 0, 120_000, 120_000], [0, 0.5, 120_000, 135_000],
    // a hint beyond ten minutes is held to ten minutes
    [0, 0, 3_600_000, 600_000], [0, 0.7, 3_600_000, 621_000],
  ])('attempt %i, random %f, retry-after %i ms: waits %i ms', (attempt, random, retryAfter, expected) => {
    expect(retryDelay(attempt, policy, random, retryAfter)).toBe(expected);
  });

  it('ignores a missing, zero or negative hint', () => {
    for (const hint of [undefined, null, 0, -5]) expect(retryDelay(1, policy, 0.5, hint)).toBe(1000);
  });
});
