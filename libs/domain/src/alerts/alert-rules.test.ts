import { describe, expect, it } from 'vitest';
import { defaultAlertRuleSpecs, parseDuration, ruleFromSpec, rulesFromSpecs, withDefaults, type AlertRuleSpec } from './alert-rules.ts';

describe('parseDuration', () => {
  it.each([['30s', 30_000], ['10m', 600_000], ['24h', 86_400_000], ['7d', 604_800_000], [' 5m ', 300_000], ['0s', 0]])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '10', 'm', '1.5h', '-1h', '7y', '10 m', '1234567h'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('ruleFromSpec', () => {
  it('fills in the kind\'s defaults: the default pool rule is "more than 10 % of a pool in 24 h, pools of 10 nodes or more"', () => {
    expect(ruleFromSpec({ name: 'pool-failure-rate', kind: 'failure-rate' })).toEqual({
      ok: true, rule: { name: 'pool-failure-rate', kind: 'failure-rate', severity: 'critical', forMs: 0, by: 'pool', windowMs: 86_400_000, threshold: 0.1, minNodes: 10 },
    });
  });

  it('takes what is given over the defaults', () => {
    const checked = ruleFromSpec({ name: 'rack-burst', kind: 'failure-rate', by: 'rack', window: '1h', threshold: 0.25, minNodes: 4, for: '5m', severity: 'warning' });
    expect(checked).toEqual({ ok: true, rule: { name: 'rack-burst', kind: 'failure-rate', severity: 'warning', forMs: 300_000, by: 'rack', windowMs: 3_600_000, threshold: 0.25, minNodes: 4 } });
  });

  it.each<{ spec: AlertRuleSpec; problem: string }>([
    { spec: { name: 'Bad Name', kind: 'nodes-offline' }, problem: 'rule name "Bad Name" must be 1-63 of a-z, 0-9 and -' },
    { spec: { name: 'x', kind: 'disk-full' as never }, problem: 'kind "disk-full" is not one of failure-rate' },
    { spec: { name: 'x', kind: 'failure-rate', window: '7y' }, problem: 'rule "x": window "7y" is not a duration like 30s, 10m, 24h or 7d' },
    { spec: { name: 'x', kind: 'failure-rate', threshold: 10 }, problem: 'threshold 10 must be a fraction from 0 to below 1 (0.1 is 10 %)' },
    { spec: { name: 'x', kind: 'failure-rate', by: 'colour' as never }, problem: 'by "colour" is not one of fleet, pool, rack' },
    { spec: { name: 'x', kind: 'failure-burst', minFailures: 0 }, problem: 'minFailures must be a whole number of at least 1, not 0' },
    { spec: { name: 'x', kind: 'cohort-outlier', factor: 1 }, problem: 'factor 1 must be above 1' },
    { spec: { name: 'x', kind: 'nodes-offline', threshold: 0.5 }, problem: '"threshold" does not apply to a nodes-offline rule' },
    { spec: { name: 'x', kind: 'stuck-phase', severity: 'page' as never }, problem: 'severity "page" is not warning or critical' },
  ])('refuses $spec.name/$spec.kind: $problem', ({ spec, problem }) => {
    const checked = ruleFromSpec(spec);
    expect(checked.ok).toBe(false);
    expect(checked.ok ? [] : checked.problems.join('\n')).toContain(problem);
  });

  it('shows a spec with only the parameters its kind uses', () => {
    expect(withDefaults({ name: 'off', kind: 'nodes-offline' })).toEqual({ name: 'off', kind: 'nodes-offline', severity: 'warning', for: '5m', minNodes: 1 });
  });
});

describe('rulesFromSpecs', () => {
  it('accepts the default rules, one of each kind', () => {
    const checked = rulesFromSpecs(defaultAlertRuleSpecs);
    expect(checked.ok && checked.rules.map((r) => r.kind)).toEqual(['failure-rate', 'failure-burst', 'xid-storm', 'cohort-outlier', 'stuck-phase', 'switch-drift', 'nodes-offline', 'cabling-conflict', 'identity-conflicts']);
  });

  it('names a rule defined twice and every bad rule', () => {
    const checked = rulesFromSpecs([{ name: 'a', kind: 'nodes-offline' }, { name: 'a', kind: 'xid-storm' }, { name: 'b', kind: 'xid-storm', window: 'soon' }]);
    expect(checked).toEqual({ ok: false, problems: ['rule "a" is defined twice', 'rule "b": window "soon" is not a duration like 30s, 10m, 24h or 7d'] });
  });
});
