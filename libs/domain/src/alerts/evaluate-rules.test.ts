import { describe, expect, it } from 'vitest';
import type { Cohorts } from '../failures/cohorts.ts';
import type { FailureEvent } from '../failures/failure-rate.ts';
import { ruleFromSpec, type AlertRule, type AlertRuleSpec } from './alert-rules.ts';
import { evaluateRules, formatDuration, type AlertInputs, type AlertNode } from './evaluate-rules.ts';

const now = new Date('2026-11-22T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
const cohorts = (pool: string, rack: string): Cohorts => ({
  fleet: 'fleet', pool, rack, tenant: pool === 'spares' ? 'none' : pool, vendor: 'Supermicro', model: 'SYS-821GE', gpuModel: 'H100', bios: '2.1', vbios: '96.00.89', driver: '550.54.15', firmware: '1.0',
});
// Pool "training": 10 nodes t0..t9 in rack r1; spares: 20 nodes s0..s19, in r2 (s0..s9) and r3 (s10..s19).
const nodes: AlertNode[] = [
  ...Array.from({ length: 10 }, (_, i) => ({ nodeId: `t${i}`, hostname: `gpu-t${i}`, cohorts: cohorts('training', 'r1'), state: 'active' as const, presence: 'online' as const })),
  ...Array.from({ length: 20 }, (_, i) => ({ nodeId: `s${i}`, hostname: `gpu-s${i}`, cohorts: cohorts('spares', i < 10 ? 'r2' : 'r3'), state: 'available' as const, presence: 'online' as const })),
];
const cohortOf = (id: string) => nodes.find((n) => n.nodeId === id)?.cohorts ?? cohorts('spares', 'r2');
const failure = (nodeId: string, at: Date, code = 'xid-79'): FailureEvent => ({ nodeId, at, kind: 'critical-condition', code, cohorts: cohortOf(nodeId) });
const empty: AlertInputs = { now, nodes, failures: [], xidReports: [], inPhase: [], fabric: { outOfPlan: [], repairs: [], cablingConflicts: [] } };
const rule = (spec: AlertRuleSpec): AlertRule => {
  const checked = ruleFromSpec(spec);
  if (!checked.ok) throw new Error(checked.problems.join('; '));
  return checked.rule;
};

describe('evaluateRules', () => {
  it.each<{ name: string; spec: AlertRuleSpec; inputs: Partial<AlertInputs>; expected: Array<{ labels: Record<string, string>; value: number; nodes: string[]; summary?: string }> }>([
    {
      name: 'the default pool rule stays quiet at 1 of 10 (10 % is not more than 10 %)',
      spec: { name: 'pool', kind: 'failure-rate' }, inputs: { failures: [failure('t1', minutesAgo(60))] }, expected: [],
    },
    {
      name: 'the default pool rule fires at 2 of 10 in the pool, naming nodes and conditions',
      spec: { name: 'pool', kind: 'failure-rate' },
      inputs: { failures: [failure('t1', minutesAgo(60)), failure('t2', minutesAgo(30), 'ecc-dbe'), failure('t1', minutesAgo(20))] },
      expected: [{
        labels: { alertname: 'pool', severity: 'critical', by: 'pool', cohort: 'training', tenant: 'training' }, value: 0.2, nodes: ['t1', 't2'],
        summary: 'pool training: 2 of 10 nodes failed in 24h (20.0%, more than 10.0%); nodes gpu-t1, gpu-t2; ecc-dbe, xid-79',
      }],
    },
    {
      name: 'failures outside the window do not count',
      spec: { name: 'pool', kind: 'failure-rate', window: '1h' }, inputs: { failures: [failure('t1', minutesAgo(61)), failure('t2', minutesAgo(59))] }, expected: [],
    },
    {
      name: 'cohorts smaller than minNodes are left alone',
      spec: { name: 'pool', kind: 'failure-rate', minNodes: 11 }, inputs: { failures: [failure('t1', minutesAgo(1)), failure('t2', minutesAgo(1))] }, expected: [],
    },
    {
      name: 'a burst: 5 failures in 10 minutes',
      spec: { name: 'burst', kind: 'failure-burst' },
      inputs: { failures: ['s1', 's2', 's3', 's4', 's5'].map((id) => failure(id, minutesAgo(2))) },
      expected: [{ labels: { alertname: 'burst', severity: 'warning' }, value: 5, nodes: ['s1', 's2', 's3', 's4', 's5'], summary: '5 failures on 5 nodes in 10m: xid-79; nodes gpu-s1, gpu-s2, gpu-s3, gpu-s4, gpu-s5' }],
    },
    {
      name: 'no burst: the fifth failure is 11 minutes old',
      spec: { name: 'burst', kind: 'failure-burst' },
      inputs: { failures: [...['s1', 's2', 's3', 's4'].map((id) => failure(id, minutesAgo(2))), failure('s5', minutesAgo(11))] }, expected: [],
    },
    {
      name: 'an XID storm on one node, with its tenant',
      spec: { name: 'storm', kind: 'xid-storm', minReports: 3 },
      inputs: { xidReports: [...[1, 2, 3].map((m) => ({ nodeId: 't4', at: minutesAgo(m), code: m === 1 ? 'xid-31' : 'xid-13' })), { nodeId: 's1', at: minutesAgo(1), code: 'xid-13' }] },
      expected: [{ labels: { alertname: 'storm', severity: 'warning', node: 't4', tenant: 'training' }, value: 3, nodes: ['t4'], summary: 'node gpu-t4: 3 XID reports in 10m (xid-13, xid-31)' }],
    },
    {
      name: 'a rack at three times the fleet\'s rate',
      spec: { name: 'outlier', kind: 'cohort-outlier' },
      inputs: { failures: [failure('s1', minutesAgo(5)), failure('s2', minutesAgo(5)), failure('s3', minutesAgo(5))] },
      // r2: 3/10 = 30 %, fleet 3/30 = 10 %: exactly 3×.
      expected: [{ labels: { alertname: 'outlier', severity: 'warning', by: 'rack', cohort: 'r2' }, value: 0.3, nodes: ['s1', 's2', 's3'] }],
    },
    {
      name: 'no outlier when the failures are spread across racks',
      spec: { name: 'outlier', kind: 'cohort-outlier' }, inputs: { failures: [failure('s1', minutesAgo(5)), failure('s11', minutesAgo(5)), failure('t1', minutesAgo(5))] }, expected: [],
    },
    {
      name: 'a node stuck in a reimage phase past the limit',
      spec: { name: 'stuck', kind: 'stuck-phase', max: '30m' },
      inputs: { inPhase: [{ nodeId: 's1', operationId: 'op1', phase: 'installing', since: minutesAgo(45) }, { nodeId: 's2', operationId: 'op1', phase: 'installing', since: minutesAgo(29) }] },
      expected: [{ labels: { alertname: 'stuck', severity: 'warning', node: 's1' }, value: 2700, nodes: ['s1'], summary: 'node gpu-s1 has been in phase installing for 45m (more than 30m), operation op1' }],
    },
    {
      name: 'switch ports out of plan',
      spec: { name: 'drift', kind: 'switch-drift' },
      inputs: { fabric: { outOfPlan: [{ switchName: 'leaf1', port: 'p3', nodeId: 't3', reason: 'carries VLAN 300, planned 101' }], repairs: [], cablingConflicts: [] } },
      expected: [{ labels: { alertname: 'drift', severity: 'warning' }, value: 1, nodes: ['t3'], summary: '1 switch ports out of plan: leaf1/p3 (carries VLAN 300, planned 101)' }],
    },
    {
      name: 'ports changed again and again behind the manager\'s back',
      spec: { name: 'drift', kind: 'switch-drift', minRepairs: 2 },
      inputs: { fabric: { outOfPlan: [], repairs: [{ at: minutesAgo(5), switchName: 'leaf1', port: 'p3' }, { at: minutesAgo(1), switchName: 'leaf1', port: 'p3' }, { at: minutesAgo(90), switchName: 'leaf1', port: 'p4' }], cablingConflicts: [] } },
      expected: [{ labels: { alertname: 'drift', severity: 'warning' }, value: 2, nodes: [] }],
    },
    {
      name: "a node claiming another node's port, one alert per port, without the tenant label",
      spec: { name: 'cabling', kind: 'cabling-conflict' },
      inputs: { fabric: { outOfPlan: [], repairs: [], cablingConflicts: [{ switchName: 'leaf1', port: 'p1', nodeId: 't3', holderNodeId: 't1', message: 'node t3 claims leaf1/p1' }] } },
      expected: [{ labels: { alertname: 'cabling', severity: 'warning', switch: 'leaf1', port: 'p1', node: 't3' }, value: 1, nodes: ['t1', 't3'], summary: 'node t3 claims leaf1/p1' }],
    },
    {
      name: 'no cabling conflict, no alert',
      spec: { name: 'cabling', kind: 'cabling-conflict' },
      inputs: {},
      expected: [],
    },
    {
      name: 'no identity conflict waiting: nothing',
      spec: { name: 'who', kind: 'identity-conflicts' }, inputs: { identityConflicts: [] }, expected: [],
    },
    {
      name: 'identity conflicts waiting for an operator',
      spec: { name: 'who', kind: 'identity-conflicts' },
      inputs: { identityConflicts: [{ id: '3', kind: 'mismatch', nodeIds: ['t1'], reason: 'partial match with node t1' }, { id: '4', kind: 're-enrolment', nodeIds: ['t2'], reason: 'node t2 registered again without its credential' }] },
      expected: [{ labels: { alertname: 'who', severity: 'warning' }, value: 2, nodes: ['t1', 't2'], summary: '2 identity conflicts wait for an operator (1 re-enrolments): #3 partial match with node t1, #4 node t2 registered again without its credential; see metalfleet conflicts ls' }],
    },
    {
      name: 'shared credentials apart from registration conflicts: one a tenant makes at will does not hide a rogue machine (hostile review)',
      spec: { name: 'who', kind: 'identity-conflicts' },
      inputs: { identityConflicts: [{ id: '5', kind: 'shared-credential', nodeIds: ['t1'], reason: 'two agents hold node t1\'s credential' }, { id: '6', kind: 'mismatch', nodeIds: ['t2'], reason: 'partial match with node t2' }] },
      expected: [
        { labels: { alertname: 'who', severity: 'warning' }, value: 1, nodes: ['t2'], summary: '1 identity conflicts wait for an operator (0 re-enrolments): #6 partial match with node t2; see metalfleet conflicts ls' },
        { labels: { alertname: 'who', severity: 'warning', kind: 'shared-credential' }, value: 1, nodes: ['t1'], summary: '1 nodes\' credentials are held by two agents at once: #5 node t1; stop the second agent, then metalfleet conflicts reject <id>' },
      ],
    },
    {
      name: 'nodes in service offline; a spare offline does not count',
      spec: { name: 'offline', kind: 'nodes-offline', minNodes: 2 },
      inputs: { nodes: nodes.map((n) => (['t1', 't2', 's1'].includes(n.nodeId) ? { ...n, presence: 'offline' as const } : n)) },
      expected: [{ labels: { alertname: 'offline', severity: 'warning' }, value: 2, nodes: ['t1', 't2'], summary: '2 nodes in service offline: gpu-t1, gpu-t2' }],
    },
  ])('$name', ({ spec, inputs, expected }) => {
    const found = evaluateRules([rule(spec)], { ...empty, ...inputs });
    expect(found.map((c) => ({ labels: c.labels, value: c.value, nodes: c.nodes, ...(expected.some((e) => e.summary) ? { summary: c.summary } : {}) }))).toEqual(
      expected.map((e) => ({ ...e, value: expect.closeTo(e.value, 6) as unknown as number })),
    );
  });

  it('evaluates every rule and keeps their alerts apart', () => {
    const rules = [rule({ name: 'pool', kind: 'failure-rate' }), rule({ name: 'burst', kind: 'failure-burst', minFailures: 2 })];
    const found = evaluateRules(rules, { ...empty, failures: [failure('t1', minutesAgo(1)), failure('t2', minutesAgo(1))] });
    expect(found.map((c) => c.rule)).toEqual(['pool', 'burst']);
  });
});

describe('formatDuration', () => {
  it.each([[0, '0s'], [90_000, '1m30s'], [3_600_000, '1h'], [86_400_000, '24h'], [4_320_000, '1h12m']])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
