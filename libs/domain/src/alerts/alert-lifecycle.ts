// The alert lifecycle: pending → firing → resolved. An alert is identified by
// its labels (the fingerprint), so the same problem found again is the same
// alert, never a second one. A rule's condition must hold for its `for` before
// the alert fires; a pending alert that clears is dropped without a word; a
// firing one that clears is resolved and kept a while so it can be told.
import type { AlertRule } from './alert-rules.ts';
import type { AlertCandidate } from './evaluate-rules.ts';

export const alertStates = ['pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof alertStates)[number];

/** An alert as kept: what the rule found, plus its identity and lifecycle. */
export interface Alert extends AlertCandidate {
  fingerprint: string;
  state: AlertState;
  /** When the condition was first seen (this time round). */
  activeSince: Date;
  firingSince: Date | null;
  resolvedAt: Date | null;
  /** Per notifier, the last state it was told about: what tells it apart from a state still to send. */
  notified: Record<string, AlertState>;
}

export interface AlertTransition {
  fingerprint: string;
  from: AlertState | null;
  to: AlertState;
}

/** Labels in name order, joined: stable whatever order they were built in. */
export function fingerprintOf(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k] ?? ''}`).join(',');
}

/**
 * The alerts after one evaluation: `previous` moved along by what is active now.
 * Resolved alerts older than `keepResolvedMs` are forgotten.
 */
export function advanceAlerts(
  previous: readonly Alert[], candidates: readonly AlertCandidate[], rules: readonly AlertRule[], now: Date, keepResolvedMs: number,
): { alerts: Alert[]; transitions: AlertTransition[] } {
  const forMs = new Map(rules.map((r) => [r.name, r.forMs]));
  const before = new Map(previous.map((a) => [a.fingerprint, a]));
  const alerts: Alert[] = [];
  const transitions: AlertTransition[] = [];
  const seen = new Set<string>();

  for (const c of candidates) {
    const fingerprint = fingerprintOf(c.labels);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    const old = before.get(fingerprint);
    const details = { rule: c.rule, severity: c.severity, labels: c.labels, summary: c.summary, nodes: c.nodes, conditions: c.conditions, value: c.value };
    const fresh = !old || old.state === 'resolved';
    const activeSince = fresh ? now : old.activeSince;
    const due = now.getTime() - activeSince.getTime() >= (forMs.get(c.rule) ?? 0);
    const state: AlertState = old?.state === 'firing' || due ? 'firing' : 'pending';
    const from = fresh ? (old ? 'resolved' : null) : old.state;
    if (from !== state) transitions.push({ fingerprint, from, to: state });
    alerts.push({
      fingerprint, ...details, state, activeSince,
      firingSince: state === 'firing' ? (!fresh && old.firingSince ? old.firingSince : now) : null,
      resolvedAt: null,
      notified: old?.notified ?? {},
    });
  }

  for (const old of previous) {
    if (seen.has(old.fingerprint)) continue;
    if (old.state === 'firing') {
      alerts.push({ ...old, state: 'resolved', resolvedAt: now });
      transitions.push({ fingerprint: old.fingerprint, from: 'firing', to: 'resolved' });
    } else if (old.state === 'resolved' && old.resolvedAt && now.getTime() - old.resolvedAt.getTime() < keepResolvedMs) {
      alerts.push(old);
    }
    // A pending alert that cleared, or a resolved one past keeping: gone.
  }
  return { alerts, transitions };
}
