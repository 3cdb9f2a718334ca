// The alert engine: gathers what the rules look at, evaluates them (libs/domain),
// moves alerts along their lifecycle, keeps them in the store and tells the
// notifiers. It runs every few seconds and soon after anything a rule counts
// (a failure recorded, XIDs reported, a node going offline, a switch port
// changed), so an XID line reaches a webhook in seconds.
import {
  advanceAlerts, dueNotifications, evaluateRules, isInFlight, longestWindowMs, markNotified, silencedBy,
  type Alert, type AlertInputs, type AlertNode, type AlertRule, type Silence,
} from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { coalesced } from '../controllers/coalesced.ts';
import type { FabricView } from '../controllers/fabric-reconciler.ts';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { AlertRules } from './alert-rules.ts';
import type { Notifier } from '../outbound/notifiers.ts';

export interface AlertEngineDeps {
  store: FleetStore;
  events: FleetEvents;
  rules: AlertRules;
  /** Every node not retired, with cohorts, state and presence. */
  population: () => Promise<AlertNode[]>;
  /** The switch ports as the last reconcile saw them; null without managed switches. */
  fabric: () => FabricView | null;
  notifiers: readonly Notifier[];
  now: () => Date;
  /** Evaluation period (default 5 s); events that matter bring the next one forward. */
  intervalMs?: number;
  /** How long resolved alerts stay listed (default 24 h). */
  keepResolvedMs?: number;
  /**
   * Whether this replica evaluates and notifies now (it holds the alerting lease; default: always).
   * The others read the alerts from the store each period, so that every replica lists them.
   */
  runsHere?: () => boolean;
  onError: (error: unknown, context: Record<string, unknown>) => void;
}

/** Events after which rules may see something new, so evaluation comes soon instead of at the next period. */
const prompting = new Set(['failure-recorded', 'health-changed', 'presence-changed', 'port-drift-repaired', 'fabric-error', 'operation-progress', 'cabling-warning']);
const soonMs = 100;
/** Prompted evaluations are at least this far apart: a storm of events (5,000 nodes powering on) is not a storm of evaluations. */
const minGapMs = 1000;

export function createAlertEngine(deps: AlertEngineDeps) {
  const keepResolvedMs = deps.keepResolvedMs ?? 86_400_000;
  let alerts: Alert[] = [];
  let silences: Silence[] = [];
  const repairs: Array<{ at: Date; switchName: string; port: string }> = [];
  const backoff = new Map<string, { failures: number; nextAt: number }>();
  const lastRefresh = new Map<string, number>();

  async function inputs(rules: readonly AlertRule[], now: Date): Promise<AlertInputs> {
    const since = new Date(now.getTime() - longestWindowMs(rules));
    const xidWindow = Math.max(0, ...rules.map((r) => (r.kind === 'xid-storm' ? r.windowMs : 0)));
    const view = deps.fabric();
    const dayAgo = now.getTime() - 86_400_000;
    while (repairs[0] && repairs[0].at.getTime() < dayAgo) repairs.shift();
    return {
      now,
      nodes: await deps.population(),
      failures: await deps.store.failuresSince(since),
      xidReports: xidWindow > 0 ? await deps.store.xidReportsSince(new Date(now.getTime() - xidWindow)) : [],
      inPhase: (await deps.store.openOperationNodes()).filter((n) => isInFlight(n.progress.phase))
        .map((n) => ({ nodeId: n.nodeId, operationId: n.operationId, phase: n.progress.phase, since: n.updatedAt })),
      fabric: {
        outOfPlan: view === null ? [] : [
          ...view.ports.filter((p) => !p.inSync).map((p) => ({ switchName: p.switchName, port: p.port, nodeId: p.nodeId, reason: `carries VLAN ${p.actualVlan ?? 'none'}, planned ${p.vlan}` })),
          ...view.errors.map((e) => ({ switchName: e.switchName, port: '*', nodeId: null, reason: e.message })),
        ],
        repairs,
        cablingConflicts: view === null ? [] : view.cabling.flatMap((w) => (w.kind === 'port-conflict' && w.holder
          ? [{ switchName: w.heard.switchName, port: w.heard.port, nodeId: w.nodeId, holderNodeId: w.holder.nodeId, message: w.message }]
          : [])),
      },
      identityConflicts: rules.some((r) => r.kind === 'identity-conflicts') ? await deps.store.listConflicts({ status: 'open' }) : [],
    };
  }

  async function notify(now: Date): Promise<Alert[]> {
    let current = alerts;
    for (const notifier of deps.notifiers) {
      const wait = backoff.get(notifier.name);
      if (wait && wait.nextAt > now.getTime()) continue;
      try {
        for (const group of dueNotifications(current, notifier.name, silences, now)) {
          await notifier.deliver(group).catch((error: unknown) => {
            deps.events.emit({ type: 'notification-failed', notifier: notifier.name, rule: group.rule, error: error instanceof Error ? error.message : String(error), at: now });
            throw error;
          });
          current = markNotified(current, notifier.name, group.alerts);
        }
        if (notifier.refresh && now.getTime() - (lastRefresh.get(notifier.name) ?? 0) >= (notifier.refreshMs ?? 60_000)) {
          await notifier.refresh(current.filter((a) => a.state === 'firing' && silencedBy(a, silences, now).length === 0));
          lastRefresh.set(notifier.name, now.getTime());
        }
        backoff.delete(notifier.name);
      } catch (error) {
        const failures = (wait?.failures ?? 0) + 1;
        backoff.set(notifier.name, { failures, nextAt: now.getTime() + Math.min(300_000, 1000 * 2 ** (failures - 1)) });
        deps.onError(error, { step: 'notify', notifier: notifier.name, retryInS: Math.min(300, 2 ** (failures - 1)) });
      }
    }
    return current;
  }

  async function persist(next: readonly Alert[]): Promise<void> {
    const before = new Map(alerts.map((a) => [a.fingerprint, JSON.stringify(a)]));
    const changed = next.filter((a) => before.get(a.fingerprint) !== JSON.stringify(a));
    const kept = new Set(next.map((a) => a.fingerprint));
    const forgotten = alerts.filter((a) => !kept.has(a.fingerprint)).map((a) => a.fingerprint);
    if (changed.length > 0 || forgotten.length > 0) await deps.store.saveAlerts(changed, forgotten);
    alerts = [...next];
  }

  let lastRoundAt = 0;
  // Whether the last round evaluated here: one that takes over reloads what the replica before it stored.
  let evaluatedHere = true;
  async function round(): Promise<void> {
    lastRoundAt = performance.now();
    if (deps.runsHere && !deps.runsHere()) {
      evaluatedHere = false;
      alerts = await deps.store.loadAlerts();
      silences = await deps.store.listSilences();
      return;
    }
    if (!evaluatedHere) alerts = await deps.store.loadAlerts();
    evaluatedHere = true;
    const now = deps.now();
    const rules = await deps.rules.active();
    silences = await deps.store.listSilences();
    const candidates = evaluateRules(rules, await inputs(rules, now));
    const { alerts: next, transitions } = advanceAlerts(alerts, candidates, rules, now, keepResolvedMs);
    await persist(next);
    const byFingerprint = new Map(next.map((a) => [a.fingerprint, a]));
    for (const t of transitions) {
      const a = byFingerprint.get(t.fingerprint);
      if (a) deps.events.emit({ type: 'alert-changed', fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, from: t.from, to: t.to, summary: a.summary, tenantId: a.labels['tenant'] ?? null, at: now });
    }
    await persist(await notify(now));
  }

  /** One evaluation now; a request during one runs one more after it (never two at once). */
  const runs = coalesced(round);
  const evaluate = (): Promise<void> => runs.run();

  const evaluateLogged = () => {
    evaluate().catch((error: unknown) => deps.onError(error, { step: 'evaluate alerts' }));
  };

  return {
    evaluate,
    /** Loads the alerts kept before a restart, then evaluates every period and soon after events that matter. */
    async start(): Promise<() => Promise<void>> {
      alerts = await deps.store.loadAlerts();
      silences = await deps.store.listSilences();
      let soon: NodeJS.Timeout | null = null;
      const off = deps.events.on((event) => {
        if (event.type === 'port-drift-repaired') repairs.push({ at: event.at, switchName: event.switchName, port: event.port });
        if (!prompting.has(event.type) || soon) return;
        soon = setTimeout(() => {
          soon = null;
          evaluateLogged();
        }, Math.max(soonMs, lastRoundAt + minGapMs - performance.now()));
      });
      const timer = setInterval(evaluateLogged, deps.intervalMs ?? 5000);
      evaluateLogged();
      return async () => {
        off();
        clearInterval(timer);
        if (soon) clearTimeout(soon);
        await runs.settled();
      };
    },
    /** Current alerts, firing first, each with the silences that mute it. */
    list(now: Date): Array<Alert & { silencedBy: string[] }> {
      const order = { firing: 0, pending: 1, resolved: 2 };
      return alerts.map((a) => ({ ...a, silencedBy: silencedBy(a, silences, now) }))
        .sort((a, b) => order[a.state] - order[b.state] || a.rule.localeCompare(b.rule) || a.fingerprint.localeCompare(b.fingerprint));
    },
    notifierNames: (): string[] => deps.notifiers.map((n) => n.name),
  };
}

export type AlertEngine = ReturnType<typeof createAlertEngine>;
