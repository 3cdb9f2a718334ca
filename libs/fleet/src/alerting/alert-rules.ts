// The rule set: the rules file's (or, without one, the default rules) plus the
// rules made through the API. File rules change only with the file; API rules
// are kept in the store. Silences are made and ended here too.
import { randomUUID } from 'node:crypto';
import {
  DomainError, defaultAlertRuleSpecs, ruleFromSpec, rulesFromSpecs, silenceProblems, withDefaults,
  type AlertRule, type AlertRuleSpec, type Silence, type SilenceMatcher,
} from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';

export type AlertRuleSource = 'default' | 'file' | 'api';

export interface ListedAlertRule {
  spec: AlertRuleSpec;
  source: AlertRuleSource;
  createdAt: Date | null;
  createdBy: string | null;
}

export interface AlertRulesDeps {
  store: FleetStore;
  /** The rules file's rules, already checked; null: no file, the default rules apply. */
  fileRules: readonly AlertRuleSpec[] | null;
}

export function createAlertRules(deps: AlertRulesDeps) {
  const fixed = deps.fileRules ?? defaultAlertRuleSpecs;
  const fixedSource: AlertRuleSource = deps.fileRules ? 'file' : 'default';
  const fixedChecked = rulesFromSpecs(fixed);
  if (!fixedChecked.ok) throw new DomainError('invalid-argument', `invalid alert rules:\n  ${fixedChecked.problems.join('\n  ')}`);

  return {
    async list(): Promise<ListedAlertRule[]> {
      return [
        ...fixed.map((spec) => ({ spec: withDefaults(spec), source: fixedSource, createdAt: null, createdBy: null })),
        ...(await deps.store.listAlertRules()).map((r) => ({ spec: withDefaults(r.spec), source: 'api' as const, createdAt: r.createdAt, createdBy: r.createdBy })),
      ];
    },

    /** Every rule in force. An API rule that no longer checks (after an upgrade) is skipped, not fatal. */
    async active(): Promise<AlertRule[]> {
      const made = (await deps.store.listAlertRules()).flatMap((r) => {
        const checked = ruleFromSpec(r.spec);
        return checked.ok ? [checked.rule] : [];
      });
      return [...fixedChecked.rules, ...made];
    },

    async create(spec: AlertRuleSpec, actor: string, at: Date): Promise<ListedAlertRule> {
      const checked = ruleFromSpec(spec);
      if (!checked.ok) throw new DomainError('invalid-argument', checked.problems.join('; '));
      if (fixed.some((r) => r.name === spec.name)) throw new DomainError('conflict', `an alert rule named ${spec.name} comes from the ${fixedSource === 'file' ? 'rules file' : 'default rules'}`);
      await deps.store.createAlertRule({ spec, createdAt: at, createdBy: actor });
      return { spec: withDefaults(spec), source: 'api', createdAt: at, createdBy: actor };
    },

    async remove(name: string): Promise<void> {
      if (fixed.some((r) => r.name === name)) {
        throw new DomainError('conflict', `alert rule ${name} comes from the ${fixedSource === 'file' ? 'rules file; change the file and restart the manager' : 'default rules; give the manager a rules file to replace them'}`);
      }
      if (!(await deps.store.deleteAlertRule(name))) throw new DomainError('not-found', `no alert rule named ${name}`);
    },

    async createSilence(input: { matchers: SilenceMatcher[]; startsAt?: Date; endsAt: Date; comment: string }, actor: string, now: Date): Promise<Silence> {
      const silence: Silence = { id: randomUUID(), matchers: input.matchers, startsAt: input.startsAt ?? now, endsAt: input.endsAt, createdBy: actor, comment: input.comment };
      const problems = silenceProblems(silence);
      if (silence.endsAt.getTime() <= now.getTime()) problems.push('the silence would end in the past');
      if (problems.length > 0) throw new DomainError('invalid-argument', problems.join('; '));
      await deps.store.createSilence(silence);
      return silence;
    },

    async expireSilence(id: string, now: Date): Promise<void> {
      if (!(await deps.store.expireSilence(id, now))) throw new DomainError('not-found', `no silence ${id}`);
    },
  };
}

export type AlertRules = ReturnType<typeof createAlertRules>;
