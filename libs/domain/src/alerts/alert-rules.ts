// Alert rules: what the manager watches the fleet for. A rule is written as a
// spec (in the rules file or through the API, durations as "10m" or "24h") and
// checked into an AlertRule, or refused with every problem named.
import { cohortDimensions, type CohortDimension } from '../failures/cohorts.ts';

export const alertRuleKinds = ['failure-rate', 'failure-burst', 'xid-storm', 'cohort-outlier', 'stuck-phase', 'switch-drift', 'nodes-offline', 'cabling-conflict', 'identity-conflicts'] as const;
export type AlertRuleKind = (typeof alertRuleKinds)[number];
export const alertSeverities = ['warning', 'critical'] as const;
export type AlertSeverity = (typeof alertSeverities)[number];

interface RuleBase {
  name: string;
  severity: AlertSeverity;
  /** How long the condition must hold before the alert fires (pending until then). */
  forMs: number;
}

export type AlertRule = RuleBase & (
  /** Distinct failed nodes / nodes of a cohort in the window above `threshold` (0..1), for cohorts of at least `minNodes`. */
  | { kind: 'failure-rate'; by: CohortDimension; windowMs: number; threshold: number; minNodes: number }
  /** At least `minFailures` failures across the fleet within a short window. */
  | { kind: 'failure-burst'; windowMs: number; minFailures: number }
  /** At least `minReports` health reports of new XID errors from one node within the window. */
  | { kind: 'xid-storm'; windowMs: number; minReports: number }
  /** A cohort failing at `factor` times the fleet's rate or more (with at least `minNodes` nodes and `minFailedNodes` failed). */
  | { kind: 'cohort-outlier'; by: CohortDimension; windowMs: number; factor: number; minNodes: number; minFailedNodes: number }
  /** A node in one reimage phase for longer than `maxMs`. */
  | { kind: 'stuck-phase'; maxMs: number }
  /** Switch ports out of the plan now, or at least `minRepairs` drift repairs within the window. */
  | { kind: 'switch-drift'; windowMs: number; minRepairs: number }
  /** At least `minNodes` nodes in service (allocated, provisioning, active) offline. */
  | { kind: 'nodes-offline'; minNodes: number }
  /** A node claims a switch port another node holds (by the plan or an earlier trusted claim): the port stays, an operator decides. */
  | { kind: 'cabling-conflict' }
  /** Identity conflicts or re-enrolments waiting for an operator: a machine claims to be (part of) a known node. */
  | { kind: 'identity-conflicts' }
);

/** A rule as people write it: durations as text, parameters left out take the kind's defaults. */
export interface AlertRuleSpec {
  name: string;
  kind: AlertRuleKind;
  severity?: AlertSeverity;
  for?: string;
  by?: CohortDimension;
  window?: string;
  threshold?: number;
  factor?: number;
  minNodes?: number;
  minFailedNodes?: number;
  minFailures?: number;
  minReports?: number;
  minRepairs?: number;
  max?: string;
}

/** Each kind's parameters when a spec leaves them out. */
const kindDefaults: Record<AlertRuleKind, Omit<AlertRuleSpec, 'name' | 'kind'>> = {
  'failure-rate': { severity: 'critical', for: '0s', by: 'pool', window: '24h', threshold: 0.1, minNodes: 10 },
  'failure-burst': { severity: 'warning', for: '0s', window: '10m', minFailures: 5 },
  'xid-storm': { severity: 'warning', for: '0s', window: '10m', minReports: 10 },
  'cohort-outlier': { severity: 'warning', for: '0s', by: 'rack', window: '24h', factor: 3, minNodes: 5, minFailedNodes: 2 },
  'stuck-phase': { severity: 'warning', for: '0s', max: '1h' },
  'switch-drift': { severity: 'warning', for: '2m', window: '1h', minRepairs: 3 },
  'nodes-offline': { severity: 'warning', for: '5m', minNodes: 1 },
  'cabling-conflict': { severity: 'warning', for: '0s' },
  'identity-conflicts': { severity: 'warning', for: '0s' },
};

/** The rules used when the operator configured none: one of each kind. */
export const defaultAlertRuleSpecs: readonly AlertRuleSpec[] = [
  { name: 'pool-failure-rate', kind: 'failure-rate' },
  { name: 'failure-burst', kind: 'failure-burst' },
  { name: 'xid-storm', kind: 'xid-storm' },
  { name: 'rack-outlier', kind: 'cohort-outlier' },
  { name: 'reimage-stuck', kind: 'stuck-phase' },
  { name: 'switch-drift', kind: 'switch-drift' },
  { name: 'nodes-offline', kind: 'nodes-offline' },
  { name: 'cabling-conflict', kind: 'cabling-conflict' },
  { name: 'identity-conflicts', kind: 'identity-conflicts' },
];

const durationUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "10m", "24h", "7d" → milliseconds; anything else → null. */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  return match?.[1] && match[2] ? Number(match[1]) * (durationUnits[match[2]] ?? 0) : null;
}

/** The spec with every parameter its kind uses filled in (what the API shows). */
export function withDefaults(spec: AlertRuleSpec): AlertRuleSpec {
  const defaults = kindDefaults[spec.kind];
  const used = Object.fromEntries(Object.entries(spec).filter(([key]) => key === 'name' || key === 'kind' || key in defaults));
  return { ...defaults, ...used } as AlertRuleSpec;
}

export type RuleCheck = { ok: true; rule: AlertRule } | { ok: false; problems: string[] };

/** Checks a spec; every problem is named (`rule "x": window "7y" is not a duration like 10m or 24h`). */
export function ruleFromSpec(input: AlertRuleSpec): RuleCheck {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`rule "${input.name}": ${text}`);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.name)) problems.push(`rule name "${input.name}" must be 1-63 of a-z, 0-9 and -`);
  if (!(alertRuleKinds as readonly string[]).includes(input.kind)) return { ok: false, problems: [...problems, `rule "${input.name}": kind "${String(input.kind)}" is not one of ${alertRuleKinds.join(', ')}`] };
  const defaults = kindDefaults[input.kind];
  for (const key of Object.keys(input)) if (key !== 'name' && key !== 'kind' && !(key in defaults)) say(`"${key}" does not apply to a ${input.kind} rule`);
  const spec = withDefaults(input);
  const duration = (key: 'for' | 'window' | 'max') => {
    const ms = parseDuration(spec[key] ?? '');
    if (ms === null) say(`${key} "${spec[key] ?? ''}" is not a duration like 30s, 10m, 24h or 7d`);
    return ms ?? 0;
  };
  const count = (key: 'minNodes' | 'minFailedNodes' | 'minFailures' | 'minReports' | 'minRepairs') => {
    const value = spec[key] ?? 0;
    if (!Number.isInteger(value) || value < 1) say(`${key} must be a whole number of at least 1, not ${value}`);
    return value;
  };
  const cohort = (): CohortDimension => {
    if (!(cohortDimensions as readonly string[]).includes(spec.by ?? '')) say(`by "${spec.by ?? ''}" is not one of ${cohortDimensions.join(', ')}`);
    return spec.by as CohortDimension;
  };
  const severity = spec.severity ?? 'warning';
  if (!(alertSeverities as readonly string[]).includes(severity)) say(`severity "${severity}" is not warning or critical`);
  const base = { name: input.name, severity, forMs: duration('for') };
  let rule: AlertRule;
  switch (spec.kind) {
    case 'failure-rate': {
      const threshold = spec.threshold ?? 0;
      if (!(threshold >= 0 && threshold < 1)) say(`threshold ${threshold} must be a fraction from 0 to below 1 (0.1 is 10 %)`);
      rule = { ...base, kind: spec.kind, by: cohort(), windowMs: duration('window'), threshold, minNodes: count('minNodes') };
      break;
    }
    case 'cohort-outlier': {
      const factor = spec.factor ?? 0;
      if (!(factor > 1)) say(`factor ${factor} must be above 1`);
      rule = { ...base, kind: spec.kind, by: cohort(), windowMs: duration('window'), factor, minNodes: count('minNodes'), minFailedNodes: count('minFailedNodes') };
      break;
    }
    case 'failure-burst':
      rule = { ...base, kind: spec.kind, windowMs: duration('window'), minFailures: count('minFailures') };
      break;
    case 'xid-storm':
      rule = { ...base, kind: spec.kind, windowMs: duration('window'), minReports: count('minReports') };
      break;
    case 'stuck-phase':
      rule = { ...base, kind: spec.kind, maxMs: duration('max') };
      break;
    case 'switch-drift':
      rule = { ...base, kind: spec.kind, windowMs: duration('window'), minRepairs: count('minRepairs') };
      break;
    case 'nodes-offline':
      rule = { ...base, kind: spec.kind, minNodes: count('minNodes') };
      break;
    case 'cabling-conflict':
    case 'identity-conflicts':
      rule = { ...base, kind: spec.kind };
      break;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rule };
}

/** Checks a whole rule set: each rule, and names used twice. */
export function rulesFromSpecs(specs: readonly AlertRuleSpec[]): { ok: true; rules: AlertRule[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const rules: AlertRule[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) problems.push(`rule "${spec.name}" is defined twice`);
    seen.add(spec.name);
    const checked = ruleFromSpec(spec);
    if (checked.ok) rules.push(checked.rule);
    else problems.push(...checked.problems);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules };
}

/** The longest span of history any rule looks back over. */
export function longestWindowMs(rules: readonly AlertRule[]): number {
  return Math.max(0, ...rules.map((r) => ('windowMs' in r ? r.windowMs : 0)));
}
