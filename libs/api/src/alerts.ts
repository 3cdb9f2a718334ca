// Alerts, alert rules and silences.
import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

const Duration = (description: string) => Type.String({ pattern: '^\\d{1,6}[smhd]$', description: `${description} (e.g. 30s, 10m, 24h, 7d)` });
const Count = (description: string) => Type.Integer({ minimum: 1, description });

/** An alert rule as written in the rules file or sent to the API; parameters left out take the kind's defaults. */
export const AlertRuleSpec = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Unique name; the alert\'s alertname.' }),
  kind: Type.Enum(['failure-rate', 'failure-burst', 'xid-storm', 'cohort-outlier', 'stuck-phase', 'switch-drift', 'nodes-offline', 'cabling-conflict', 'identity-conflicts']),
  severity: Type.Optional(Type.Enum(['warning', 'critical'])),
  for: Type.Optional(Duration('How long the condition must hold before the alert fires')),
  by: Type.Optional(Type.Enum(['fleet', 'pool', 'rack', 'tenant', 'vendor', 'model', 'gpuModel', 'bios', 'vbios', 'driver', 'firmware'], { description: 'Cohort dimension (failure-rate, cohort-outlier).' })),
  window: Type.Optional(Duration('Sliding window (failure-rate, failure-burst, xid-storm, cohort-outlier, switch-drift)')),
  threshold: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'failure-rate: fires above this fraction of the cohort (0.1 = 10 %).' })),
  factor: Type.Optional(Type.Number({ exclusiveMinimum: 1, description: 'cohort-outlier: fires at this many times the fleet\'s rate.' })),
  minNodes: Type.Optional(Count('failure-rate, cohort-outlier: smallest cohort considered; nodes-offline: nodes offline to fire.')),
  minFailedNodes: Type.Optional(Count('cohort-outlier: failed nodes needed in the cohort.')),
  minFailures: Type.Optional(Count('failure-burst: failures in the window to fire.')),
  minReports: Type.Optional(Count('xid-storm: XID reports from one node in the window to fire.')),
  minRepairs: Type.Optional(Count('switch-drift: drift repairs in the window to fire.')),
  max: Type.Optional(Duration('stuck-phase: longest time a node may spend in one reimage phase')),
}, { additionalProperties: false });
export type AlertRuleSpec = Static<typeof AlertRuleSpec>;
/** The rules file: a list of rules (YAML or JSON). */
export const AlertRulesFile = Type.Array(AlertRuleSpec);

export const AlertRule = Type.Object({
  spec: AlertRuleSpec,
  source: Type.Enum(['default', 'file', 'api'], { description: 'default and file rules change only with the rules file.' }),
  createdAt: NullableTimestamp, createdBy: Type.Union([Type.String(), Type.Null()]),
});
export const AlertRuleList = Type.Object({ items: Type.Array(AlertRule) });
export const AlertRuleParams = Type.Object({ name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });

export const AlertStateName = Type.Enum(['pending', 'firing', 'resolved']);
export const Alert = Type.Object({
  fingerprint: Type.String({ description: 'The alert\'s labels, sorted: the same labels are the same alert.' }),
  rule: Type.String(), severity: Type.String(), state: AlertStateName,
  labels: Type.Record(Type.String(), Type.String()),
  summary: Type.String({ description: 'Which cohort, how many, which nodes, which conditions.' }),
  nodes: Type.Array(Type.String()), conditions: Type.Array(Type.String()), value: Type.Number(),
  activeSince: Timestamp, firingSince: NullableTimestamp, resolvedAt: NullableTimestamp,
  silencedBy: Type.Array(Type.String(), { description: 'Silences muting it now.' }),
});
export const AlertQuery = Type.Object({
  state: Type.Optional(AlertStateName),
}, { additionalProperties: false });
export const AlertList = Type.Object({
  items: Type.Array(Alert),
  notifiers: Type.Array(Type.String(), { description: 'Where firing and resolved alerts are sent.' }),
});

const SilenceMatcher = Type.Object({ label: Type.String({ minLength: 1, maxLength: 100 }), value: Type.String({ maxLength: 200 }) }, { additionalProperties: false });
export const CreateSilence = Type.Object({
  matchers: Type.Array(SilenceMatcher, { minItems: 1, maxItems: 20, description: 'Alerts whose labels have all these values are muted (e.g. alertname, cohort, node, tenant).' }),
  duration: Duration('How long from now'),
  comment: Type.String({ minLength: 1, maxLength: 500, description: 'Why (a ticket, "rack r12 in maintenance").' }),
}, { additionalProperties: false });
export type CreateSilence = Static<typeof CreateSilence>;
export const Silence = Type.Object({
  id: Type.String(), matchers: Type.Array(SilenceMatcher), startsAt: Timestamp, endsAt: Timestamp, createdBy: Type.String(), comment: Type.String(),
  active: Type.Boolean(),
});
export const SilenceList = Type.Object({ items: Type.Array(Silence) });
export const SilenceParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
