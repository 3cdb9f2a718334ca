import { describe, expect, it } from 'vitest';
import { advanceAlerts, fingerprintOf, type Alert } from './alert-lifecycle.ts';
import type { AlertRule } from './alert-rules.ts';
import type { AlertCandidate } from './evaluate-rules.ts';
import { dueNotifications, markNotified } from './notifications.ts';
import { silencedBy, silenceProblems, type Silence } from './silences.ts';

const t0 = new Date('2026-11-22T12:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const rules: AlertRule[] = [
  { name: 'pool', kind: 'failure-rate', severity: 'critical', forMs: 0, by: 'pool', windowMs: 86_400_000, threshold: 0.1, minNodes: 10 },
  { name: 'offline', kind: 'nodes-offline', severity: 'warning', forMs: 60_000, minNodes: 1 },
];
const candidate = (rule: string, extra: Record<string, string> = {}, nodes = ['n1']): AlertCandidate => ({
  rule, severity: rule === 'pool' ? 'critical' : 'warning', labels: { alertname: rule, ...extra }, summary: `${rule} ${nodes.join(',')}`, nodes, conditions: [], value: nodes.length,
});
const keep = 3_600_000;

/** Runs evaluations in order: [seconds after t0, candidates]; returns every round's states and transitions. */
function run(rounds: Array<[number, AlertCandidate[]]>) {
  let alerts: Alert[] = [];
  return rounds.map(([s, candidates]) => {
    const next = advanceAlerts(alerts, candidates, rules, at(s), keep);
    alerts = next.alerts;
    return { states: alerts.map((a) => `${a.rule}:${a.state}`), transitions: next.transitions.map((t) => `${t.from ?? 'new'}→${t.to}`), alerts };
  });
}

describe('advanceAlerts', () => {
  it.each<{ name: string; rounds: Array<[number, AlertCandidate[]]>; states: string[][]; transitions: string[][] }>([
    {
      name: 'a rule without "for" fires at once, then resolves when its condition clears',
      rounds: [[0, [candidate('pool')]], [5, [candidate('pool')]], [10, []]],
      states: [['pool:firing'], ['pool:firing'], ['pool:resolved']], transitions: [['new→firing'], [], ['firing→resolved']],
    },
    {
      name: 'with "for", pending until it has held that long',
      rounds: [[0, [candidate('offline')]], [59, [candidate('offline')]], [60, [candidate('offline')]]],
      states: [['offline:pending'], ['offline:pending'], ['offline:firing']], transitions: [['new→pending'], [], ['pending→firing']],
    },
    {
      name: 'a pending alert that clears is dropped without a resolve',
      rounds: [[0, [candidate('offline')]], [30, []], [40, [candidate('offline')]], [99, [candidate('offline')]], [100, [candidate('offline')]]],
      states: [['offline:pending'], [], ['offline:pending'], ['offline:pending'], ['offline:firing']], transitions: [['new→pending'], [], ['new→pending'], [], ['pending→firing']],
    },
    {
      name: 'the same labels are one alert however often found; other labels are another',
      rounds: [[0, [candidate('pool', { cohort: 'a' }), candidate('pool', { cohort: 'a' }), candidate('pool', { cohort: 'b' })]]],
      states: [['pool:firing', 'pool:firing']], transitions: [['new→firing', 'new→firing']],
    },
    {
      name: 'a resolved alert that comes back fires again; resolved ones are forgotten after an hour',
      rounds: [[0, [candidate('pool')]], [10, []], [20, [candidate('pool')]], [30, []], [30 + 3600, []]],
      states: [['pool:firing'], ['pool:resolved'], ['pool:firing'], ['pool:resolved'], []],
      transitions: [['new→firing'], ['firing→resolved'], ['resolved→firing'], ['firing→resolved'], []],
    },
  ])('$name', ({ rounds, states, transitions }) => {
    const result = run(rounds);
    expect(result.map((r) => r.states)).toEqual(states);
    expect(result.map((r) => r.transitions)).toEqual(transitions);
  });

  it('keeps when it started firing and takes the newest summary and nodes', () => {
    const [, second] = run([[0, [candidate('pool', {}, ['n1'])]], [5, [candidate('pool', {}, ['n1', 'n2'])]]]);
    expect(second?.alerts[0]).toMatchObject({ firingSince: t0, activeSince: t0, nodes: ['n1', 'n2'], summary: 'pool n1,n2' });
  });

  it('fingerprints do not depend on label order', () => {
    expect(fingerprintOf({ b: '2', a: '1' })).toBe(fingerprintOf({ a: '1', b: '2' }));
    expect(fingerprintOf({ a: '1' })).not.toBe(fingerprintOf({ a: '2' }));
  });
});

describe('silences and notifications', () => {
  const silence = (matchers: Silence['matchers'], from = 0, to = 600): Silence => ({ id: 's1', matchers, startsAt: at(from), endsAt: at(to), createdBy: 'ops', comment: 'rack maintenance' });
  const [firing] = run([[0, [candidate('pool', { cohort: 'r12' })]]]).map((r) => r.alerts);

  it('a silence mutes the alerts all its matchers match, while it lasts', () => {
    const alert = { labels: { alertname: 'pool', cohort: 'r12' } };
    expect(silencedBy(alert, [silence([{ label: 'cohort', value: 'r12' }])], at(1))).toEqual(['s1']);
    expect(silencedBy(alert, [silence([{ label: 'cohort', value: 'r12' }, { label: 'alertname', value: 'other' }])], at(1))).toEqual([]);
    expect(silencedBy(alert, [silence([{ label: 'cohort', value: 'r12' }])], at(600))).toEqual([]);
    expect(silencedBy(alert, [silence([{ label: 'cohort', value: 'r12' }], 10)], at(1))).toEqual([]);
  });

  it('refuses a silence that matches everything or ends before it starts', () => {
    expect(silenceProblems({ matchers: [], startsAt: at(0), endsAt: at(1) })).toHaveLength(1);
    expect(silenceProblems({ matchers: [{ label: 'a', value: 'b' }], startsAt: at(5), endsAt: at(5) })).toEqual(['a silence must end after it starts']);
  });

  it('tells each notifier a firing alert once, then its resolve once, grouped by rule', () => {
    let alerts = firing ?? [];
    expect(dueNotifications(alerts, 'hook', [], at(1)).map((g) => [g.rule, g.alerts.length])).toEqual([['pool', 1]]);
    alerts = markNotified(alerts, 'hook', alerts);
    expect(dueNotifications(alerts, 'hook', [], at(2))).toEqual([]);
    expect(dueNotifications(alerts, 'slack', [], at(2))).toHaveLength(1);
    alerts = advanceAlerts(alerts, [], rules, at(3), keep).alerts;
    expect(dueNotifications(alerts, 'hook', [], at(4)).flatMap((g) => g.alerts.map((a) => a.state))).toEqual(['resolved']);
    expect(dueNotifications(alerts, 'slack', [], at(4))).toEqual([]);
  });

  it('a silenced alert is not sent; once the silence ends it is', () => {
    const alerts = firing ?? [];
    const muted = [silence([{ label: 'cohort', value: 'r12' }], 0, 60)];
    expect(dueNotifications(alerts, 'hook', muted, at(1))).toEqual([]);
    expect(dueNotifications(alerts, 'hook', muted, at(60))).toHaveLength(1);
  });
});
