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
  it('carries a finding\'s raw lines on its change, never in the condition: new lines for the same condition are no change', () => {
    const xid = { ...finding('gpu:0000:9b:00', 'xid-79', 'critical', 'replace', 'Xid 79: GPU has fallen off the bus'), evidence: ['NVRM: Xid (PCI:0000:9b:00): 79, …'] };
    const first = diffHealth([], [xid], t0);
    expect(first.changes).toEqual([{
      kind: 'appeared', evidence: ['NVRM: Xid (PCI:0000:9b:00): 79, …'],
      condition: { component: 'gpu:0000:9b:00', code: 'xid-79', severity: 'critical', remediation: 'replace', message: 'Xid 79: GPU has fallen off the bus', since: t0 },
    }]);
    expect(first.current[0]).not.toHaveProperty('evidence');
    expect(diffHealth(first.current, [{ ...xid, evidence: ['another line'] }], t1).changes).toEqual([]);
  });

  it.each(cases)('$name', ({ before, now, kinds }) => {
    const diff = diffHealth(before, now, t1);
    expect(diff.changes.map((c) => c.kind)).toEqual(kinds);
    for (const c of diff.current) expect(c.since).toEqual(before.length > 0 ? t0 : t1);
  });
});
