import { describe, expect, it } from 'vitest';
import { finding } from './health-condition.ts';
import { diffHealth } from './health-diff.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const t1 = new Date('2026-11-21T10:01:00Z');
const hot = finding('gpu:0', 'temperature-high', 'warning', 'none', '90 C');

describe('diffHealth', () => {
  const cases = [
    { name: 'nothing before, nothing now', before: [], now: [], kinds: [] },
    { name: 'a new condition appears', before: [], now: [hot], kinds: ['appeared'] },
    { name: 'an unchanged condition is silent and keeps since', before: [{ ...hot, since: t0 }], now: [hot], kinds: [] },
    { name: 'a worse severity is a change', before: [{ ...hot, since: t0 }], now: [{ ...hot, severity: 'critical' as const }], kinds: ['changed'] },
    { name: 'a gone condition clears', before: [{ ...hot, since: t0 }], now: [], kinds: ['cleared'] },
    { name: 'a duplicate finding counts once', before: [], now: [hot, hot], kinds: ['appeared'] },
  ];
  it.each(cases)('$name', ({ before, now, kinds }) => {
    const diff = diffHealth(before, now, t1);
    expect(diff.changes.map((c) => c.kind)).toEqual(kinds);
    for (const c of diff.current) expect(c.since).toEqual(before.length > 0 ? t0 : t1);
  });
});
