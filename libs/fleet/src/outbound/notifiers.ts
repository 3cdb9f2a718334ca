// Where alerts go: Prometheus Alertmanager (its v2 API), a generic JSON
// webhook, and a Slack-compatible incoming webhook. A notifier gets one group
// (the alerts of one rule whose news it has not had) per call and throws when
// the receiver did not take it; the engine tries again later.
import { createHash } from 'node:crypto';
import type { Alert, AlertGroup } from '@metalfleet/domain';

export interface Notifier {
  /** Unique among the notifiers: what they were told is kept under it. */
  name: string;
  deliver(group: AlertGroup): Promise<void>;
  /** Sends every firing, unsilenced alert again, for receivers that forget alerts not refreshed (Alertmanager). */
  refresh?: (firing: readonly Alert[]) => Promise<void>;
  /** How often refresh wants to be called. */
  refreshMs?: number;
}

export interface NotifierOptions {
  /** Link back to the manager in every message (its dashboard). */
  publicUrl: () => string;
  now: () => Date;
  timeoutMs?: number;
}

async function post(url: string, body: unknown, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 200);
    throw new Error(`${url} answered ${response.status}${text ? `: ${text}` : ''}`);
  }
}

/**
 * A notifier's name: its kind, where the URL points without its path (Slack
 * keeps its secret there) and a short hash of the whole URL, so two hooks on
 * one host stay apart and a name stays the same across restarts.
 */
export function notifierName(kind: string, url: string): string {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 8);
  try {
    const u = new URL(url);
    return `${kind} ${u.protocol}//${u.host} #${hash}`;
  } catch {
    return `${kind} #${hash}`;
  }
}

const alertJson = (a: Alert) => ({
  fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, state: a.state, labels: a.labels, summary: a.summary, nodes: a.nodes, conditions: a.conditions, value: a.value,
  activeSince: a.activeSince.toISOString(), firingSince: a.firingSince?.toISOString() ?? null, resolvedAt: a.resolvedAt?.toISOString() ?? null,
});

/** POSTs `{ version, status, rule, alerts: [...], url }` to any URL: for scripts, chat bridges, ticketing. */
export function webhookNotifier(url: string, options: NotifierOptions): Notifier {
  return {
    name: notifierName('webhook', url),
    async deliver(group) {
      await post(url, {
        version: 1, source: 'metalfleet', rule: group.rule,
        status: group.alerts.some((a) => a.state === 'firing') ? 'firing' : 'resolved',
        alerts: group.alerts.map(alertJson), url: `${options.publicUrl()}/#/alerts`,
      }, options.timeoutMs ?? 10_000);
    },
  };
}

/** A Slack (or Mattermost, Rocket.Chat…) incoming webhook: one message per group. */
export function slackNotifier(url: string, options: NotifierOptions): Notifier {
  return {
    name: notifierName('slack', url),
    async deliver(group) {
      const lines = group.alerts.map((a) => `${a.state === 'firing' ? ':red_circle: FIRING' : ':large_green_circle: RESOLVED'} [${a.severity}] ${a.summary}`);
      await post(url, { text: `*${group.rule}* (metalfleet, <${options.publicUrl()}/#/alerts|open>)\n${lines.join('\n')}` }, options.timeoutMs ?? 10_000);
    },
  };
}

/**
 * Prometheus Alertmanager, v2 API: POST /api/v2/alerts. Firing alerts carry an
 * end a few refreshes ahead, so Alertmanager resolves them by itself should
 * the manager go away; resolved ones end when they resolved.
 */
export function alertmanagerNotifier(baseUrl: string, options: NotifierOptions & { refreshMs?: number }): Notifier {
  const refreshMs = options.refreshMs ?? 60_000;
  const endpoint = `${baseUrl.replace(/\/$/, '')}/api/v2/alerts`;
  const toAlertmanager = (a: Alert) => ({
    labels: { ...a.labels, source: 'metalfleet' },
    annotations: { summary: a.summary, nodes: a.nodes.join(', '), conditions: a.conditions.join(', '), value: String(a.value) },
    startsAt: (a.firingSince ?? a.activeSince).toISOString(),
    endsAt: (a.state === 'resolved' && a.resolvedAt ? a.resolvedAt : new Date(options.now().getTime() + 4 * refreshMs)).toISOString(),
    generatorURL: `${options.publicUrl()}/#/alerts`,
  });
  return {
    name: notifierName('alertmanager', baseUrl),
    refreshMs,
    deliver: (group) => post(endpoint, group.alerts.map(toAlertmanager), options.timeoutMs ?? 10_000),
    refresh: async (firing) => {
      if (firing.length > 0) await post(endpoint, firing.map(toAlertmanager), options.timeoutMs ?? 10_000);
    },
  };
}
