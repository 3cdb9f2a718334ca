// What each notifier still has to be told, grouped by rule: one message per
// rule per round rather than one per alert, and nothing told twice.
import type { Alert } from './alert-lifecycle.ts';
import { silencedBy, type Silence } from './silences.ts';

export interface AlertGroup {
  rule: string;
  /** Alerts of the rule whose news this notifier has not had, firing first. */
  alerts: Alert[];
}

/**
 * Firing alerts the notifier has not been told fire (unless silenced), and
 * resolved alerts it was told fired. Pending alerts are nobody's business yet.
 */
export function dueNotifications(alerts: readonly Alert[], notifier: string, silences: readonly Silence[], now: Date): AlertGroup[] {
  const due = alerts.filter((a) => {
    const told = a.notified[notifier];
    if (a.state === 'firing') return told !== 'firing' && silencedBy(a, silences, now).length === 0;
    if (a.state === 'resolved') return told === 'firing';
    return false;
  });
  const groups = new Map<string, Alert[]>();
  for (const a of due) groups.set(a.rule, [...(groups.get(a.rule) ?? []), a]);
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([rule, list]) => ({
    rule,
    alerts: list.sort((a, b) => (a.state === b.state ? a.fingerprint.localeCompare(b.fingerprint) : a.state === 'firing' ? -1 : 1)),
  }));
}

/** The alerts after a notifier took a group: each marked with the state it was told. */
export function markNotified(alerts: readonly Alert[], notifier: string, delivered: readonly Alert[]): Alert[] {
  const told = new Map(delivered.map((a) => [a.fingerprint, a.state]));
  return alerts.map((a) => {
    const state = told.get(a.fingerprint);
    return state ? { ...a, notified: { ...a.notified, [notifier]: state } } : a;
  });
}
