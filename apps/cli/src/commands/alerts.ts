// metalfleet alerts: what fires, the rules, and silences.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Static } from 'typebox';
import type { AlertList, AlertRule, AlertRuleList, AlertRuleSpec, Silence, SilenceList } from '@metalfleet/api';
import { UsageError, type CliContext } from '../context.ts';
import { formatTable } from '../table.ts';

type Alerts = Static<typeof AlertList>;
type Rules = Static<typeof AlertRuleList>;
type Silences = Static<typeof SilenceList>;
type SilenceJson = Static<typeof Silence>;

/** The parameters a rule sets besides name and kind, as "key=value" pairs. */
const parameters = (spec: AlertRuleSpec) => Object.entries(spec).filter(([key]) => key !== 'name' && key !== 'kind').map(([key, value]) => `${key}=${String(value)}`).join(' ');

/** "label=value" → a matcher; anything else is a usage error. */
function matcher(text: string, previous: Array<{ label: string; value: string }> = []) {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected label=value, e.g. alertname=pool-failure-rate or cohort=r12');
  return [...previous, { label: text.slice(0, eq), value: text.slice(eq + 1) }];
}

interface RuleFlags {
  kind: AlertRuleSpec['kind']; severity?: string; for?: string; by?: string; window?: string; threshold?: string; factor?: string;
  minNodes?: string; minFailedNodes?: string; minFailures?: string; minReports?: string; minRepairs?: string; max?: string;
}

function specFrom(name: string, o: RuleFlags): AlertRuleSpec {
  const numbers = ['threshold', 'factor', 'minNodes', 'minFailedNodes', 'minFailures', 'minReports', 'minRepairs'] as const;
  const spec: Record<string, unknown> = { name, kind: o.kind };
  for (const key of ['severity', 'for', 'by', 'window', 'max'] as const) if (o[key] !== undefined) spec[key] = o[key];
  for (const key of numbers) {
    const text = o[key];
    if (text === undefined) continue;
    if (text.trim() === '' || !Number.isFinite(Number(text))) throw new UsageError(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${text}: expected a number`);
    spec[key] = Number(text);
  }
  return spec as unknown as AlertRuleSpec;
}

const silenceRow = (s: SilenceJson) => [s.id, s.active ? 'active' : 'ended', s.matchers.map((m) => `${m.label}=${m.value}`).join(','), s.endsAt, s.createdBy, s.comment];

export function registerAlerts(program: Command, ctx: CliContext): void {
  const alerts = program.command('alerts').description('alerts on failure rates and fleet trouble, their rules and silences');
  alerts.command('ls', { isDefault: true }).description('pending, firing and recently resolved alerts, firing first')
    .addOption(new Option('--state <state>', 'only this state').choices(['pending', 'firing', 'resolved']))
    .action(async (o: { state?: string }) => {
      const list = await ctx.client().get<Alerts>(`/api/v1/alerts${o.state ? `?state=${o.state}` : ''}`);
      ctx.print(list, () => [
        formatTable(['STATE', 'SEVERITY', 'RULE', 'SINCE', 'SILENCED', 'SUMMARY'], list.items.map((a) => [
          a.state, a.severity, a.rule, a.resolvedAt ?? a.firingSince ?? a.activeSince, a.silencedBy.length > 0 ? 'yes' : '-', a.summary,
        ])),
        ...(list.notifiers.length > 0 ? ['', `Sent to: ${list.notifiers.join('; ')}`] : []),
      ].join('\n'));
    });

  const rules = alerts.command('rules').description('alert rules: from the rules file (or the defaults) and added here');
  rules.command('ls', { isDefault: true }).action(async () => {
    const list = await ctx.client().get<Rules>('/api/v1/alert-rules');
    ctx.print(list, () => formatTable(['NAME', 'KIND', 'SOURCE', 'PARAMETERS'], list.items.map((r) => [r.spec.name, r.spec.kind, r.source, parameters(r.spec)])));
  });
  rules.command('add').description('add a rule; parameters left out take the kind\'s defaults (see docs/alerting.md)').argument('<name>')
    .addOption(new Option('--kind <kind>').choices(['failure-rate', 'failure-burst', 'xid-storm', 'cohort-outlier', 'stuck-phase', 'switch-drift', 'nodes-offline', 'cabling-conflict', 'identity-conflicts']).makeOptionMandatory())
    .addOption(new Option('--severity <severity>').choices(['warning', 'critical']))
    .option('--for <duration>', 'how long it must hold before it fires, e.g. 5m').option('--by <dimension>', 'cohort: pool, rack, tenant, gpuModel, driver, ...')
    .option('--window <duration>', 'sliding window, e.g. 24h').option('--threshold <fraction>', 'failure-rate: above this fraction (0.1 = 10 %)')
    .option('--factor <n>', 'cohort-outlier: times the fleet\'s rate').option('--min-nodes <n>', 'smallest cohort, or nodes offline to fire')
    .option('--min-failed-nodes <n>', 'cohort-outlier: failed nodes needed').option('--min-failures <n>', 'failure-burst: failures to fire')
    .option('--min-reports <n>', 'xid-storm: XID reports to fire').option('--min-repairs <n>', 'switch-drift: repairs to fire').option('--max <duration>', 'stuck-phase: longest phase')
    .action(async (name: string, o: RuleFlags) => {
      const made = await ctx.client().request<Static<typeof AlertRule>>('POST', '/api/v1/alert-rules', specFrom(name, o));
      ctx.print(made, () => `rule ${made.spec.name} added: ${made.spec.kind} ${parameters(made.spec)}`);
    });
  rules.command('rm').description('remove a rule added through the API').argument('<name>').action(async (name: string) => {
    await ctx.client().request('DELETE', `/api/v1/alert-rules/${encodeURIComponent(name)}`);
    ctx.print({ deleted: name }, () => `rule ${name} removed`);
  });

  alerts.command('silence').description('mute the alerts whose labels match, for a while')
    .requiredOption('--match <label=value>', 'label to match (repeat for more; all must match)', matcher)
    .requiredOption('--for <duration>', 'how long, e.g. 2h').requiredOption('--comment <text>', 'why: a ticket, "rack r12 in maintenance"')
    .action(async (o: { match: Array<{ label: string; value: string }>; for: string; comment: string }) => {
      const made = await ctx.client().request<SilenceJson>('POST', '/api/v1/silences', { matchers: o.match, duration: o.for, comment: o.comment });
      ctx.print(made, () => `silence ${made.id} until ${made.endsAt}`);
    });
  alerts.command('silences').description('silences, active and ended').action(async () => {
    const list = await ctx.client().get<Silences>('/api/v1/silences');
    ctx.print(list, () => formatTable(['ID', 'STATE', 'MATCHERS', 'ENDS', 'BY', 'COMMENT'], list.items.map(silenceRow)));
  });
  alerts.command('unsilence').description('end a silence now').argument('<id>').action(async (id: string) => {
    await ctx.client().request('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`);
    ctx.print({ ended: id }, () => `silence ${id} ended`);
  });
}
