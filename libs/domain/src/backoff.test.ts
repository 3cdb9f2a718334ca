import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const policy = { initialMs: 1000, maxMs: 30_000 };
  it.each([
    [0, 0, 500], [0, 0.999, 1000], [1, 0.999, 1999], [3, 0.999, 7993], [10, 0.999, 29_971], [50, 0.999, 29_971], [10, 0, 500],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, policy, random)).toBe(expected);
  });
});
