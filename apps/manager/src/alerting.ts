// Composing alerting: the rules file (or the default rules), the notifiers
// from config, and the engine that evaluates the rules and tells them.
import type { Logger } from 'pino';
import {
  alertmanagerNotifier, createAlertEngine, createAlertRules, slackNotifier, webhookNotifier,
  type FabricReconciler, type Failures, type FleetEvents, type Notifier,
} from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import type { ManagerConfig } from './config.ts';

export interface AlertingDeps {
  store: FleetStore;
  events: FleetEvents;
  failures: Failures;
  reconciler: FabricReconciler | null;
  now: () => Date;
  publicUrl: () => string;
  logger: Logger;
  /** Whether this replica holds the alerting lease now. */
  runsHere: () => boolean;
}

export async function startAlerting(config: ManagerConfig, deps: AlertingDeps) {
  const fileRules = config.alertRulesFile?.rules ?? null;
  const rules = createAlertRules({ store: deps.store, fileRules });
  const options = { publicUrl: deps.publicUrl, now: deps.now };
  const notifiers: Notifier[] = [
    ...config.alertmanagerUrls.map((url) => alertmanagerNotifier(url, { ...options, refreshMs: config.alertmanagerRefreshS * 1000 })),
    ...config.alertWebhookUrls.map((url) => webhookNotifier(url, options)),
    ...config.slackWebhookUrls.map((url) => slackNotifier(url, options)),
  ];
  const engine = createAlertEngine({
    store: deps.store, events: deps.events, rules, population: deps.failures.population, fabric: () => deps.reconciler?.view() ?? null, notifiers, now: deps.now,
    intervalMs: config.alertIntervalS * 1000, runsHere: deps.runsHere, onError: (error, context) => deps.logger.warn({ err: error, ...context }, 'alerting step failed'),
  });
  const stop = await engine.start();
  deps.logger.info({ rules: config.alertRulesFile?.path ?? 'default rules', notifiers: notifiers.map((n) => n.name) }, 'alerting started');
  return { engine, rules, stop };
}
