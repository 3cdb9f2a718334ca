// Edge-triggering: what changed between the last published set of conditions
// and what the classifiers found now. A condition keeps its `since` while it
// persists; it changes when severity, remediation or message change.
import { conditionKey, type ConditionFinding, type HealthCondition } from './health-condition.ts';

/** `evidence`: the raw lines that raised an appeared or changed condition (ConditionFinding), at most 3. */
export type HealthChange =
  | { kind: 'appeared'; condition: HealthCondition; evidence?: string[] }
  | { kind: 'changed'; condition: HealthCondition; previous: HealthCondition; evidence?: string[] }
  | { kind: 'cleared'; condition: HealthCondition };

export interface HealthDiff {
  current: HealthCondition[];
  changes: HealthChange[];
}

export function diffHealth(previous: readonly HealthCondition[], found: readonly ConditionFinding[], now: Date): HealthDiff {
  const before = new Map(previous.map((c) => [conditionKey(c), c]));
  const seen = new Set<string>();
  const current: HealthCondition[] = [];
  const changes: HealthChange[] = [];

  for (const f of found) {
    const key = conditionKey(f);
    if (seen.has(key)) continue; // the first finding for a key wins; classifiers should not repeat one
    seen.add(key);
    const old = before.get(key);
    const { evidence, ...found } = f;
    const condition: HealthCondition = { ...found, since: old?.since ?? now };
    const lines = evidence && evidence.length > 0 ? { evidence } : {};
    current.push(condition);
    if (!old) changes.push({ kind: 'appeared', condition, ...lines });
    else if (old.severity !== f.severity || old.remediation !== f.remediation || old.message !== f.message) {
      changes.push({ kind: 'changed', condition, previous: old, ...lines });
    }
  }
  for (const [key, old] of before) {
    if (!seen.has(key)) changes.push({ kind: 'cleared', condition: old });
  }
  return { current, changes };
}
