// Silences: an operator mutes alerts whose labels match, for a time (a rack
// under maintenance, a known bad batch awaiting RMA). A silenced alert still
// shows in the API, marked, but no notifier hears of it.
import type { Alert } from './alert-lifecycle.ts';

export interface SilenceMatcher {
  label: string;
  /** Exact value the label must have. */
  value: string;
}

export interface Silence {
  id: string;
  /** All must match (an empty list is refused when the silence is made). */
  matchers: SilenceMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

export function silenceActive(silence: Silence, now: Date): boolean {
  return silence.startsAt.getTime() <= now.getTime() && now.getTime() < silence.endsAt.getTime();
}

export function silenceMatches(silence: Silence, labels: Record<string, string>): boolean {
  return silence.matchers.length > 0 && silence.matchers.every((m) => labels[m.label] === m.value);
}

/** Ids of the silences in effect now that mute this alert. */
export function silencedBy(alert: Pick<Alert, 'labels'>, silences: readonly Silence[], now: Date): string[] {
  return silences.filter((s) => silenceActive(s, now) && silenceMatches(s, alert.labels)).map((s) => s.id);
}

/** What is wrong with a silence about to be made, if anything. */
export function silenceProblems(silence: Pick<Silence, 'matchers' | 'startsAt' | 'endsAt'>): string[] {
  const problems: string[] = [];
  if (silence.matchers.length === 0) problems.push('a silence needs at least one matcher (e.g. alertname=pool-failure-rate or rack=r12)');
  if (silence.endsAt.getTime() <= silence.startsAt.getTime()) problems.push('a silence must end after it starts');
  return problems;
}
