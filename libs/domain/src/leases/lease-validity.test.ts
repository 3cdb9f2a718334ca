import { describe, expect, it } from 'vitest';
import { actUntil, mayAct, safetyMarginMs } from './lease-validity.ts';

describe('acting on a lease (fake monotonic clock)', () => {
  const lease = { name: 'shard/1', epoch: 4, sentAt: 100_000, ttlMs: 15_000 };

  it.each([
    // ms after the renewal was sent → may act
    [0, true], [5_000, true], [11_999, true], [12_000, false], [15_000, false], [60_000, false],
  ])('%i ms after sending the renewal: may act %s (15 s lease, 3 s margin)', (after, expected) => {
    expect(mayAct(lease, lease.sentAt + after)).toBe(expected);
  });

  it('counts from the sending, not the answer: a renewal answered late leaves less time, never more', () => {
    // Answered 4 s after it was sent (a slow database): still 12 s from the sending.
    expect(actUntil(lease)).toBe(lease.sentAt + 12_000);
  });

  it('keeps at least a second of margin on short leases', () => {
    expect(safetyMarginMs(2_000)).toBe(1_000);
    expect(safetyMarginMs(60_000)).toBe(12_000);
  });

  it('a replica paused past its lease (SIGSTOP) finds it may no longer act when it wakes', () => {
    const wokeAt = lease.sentAt + 40_000;
    expect(mayAct(lease, wokeAt)).toBe(false);
  });
});
