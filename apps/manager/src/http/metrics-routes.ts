// /metrics in the Prometheus text format: node counts by state and presence and
// conditions by severity (computed at scrape time), plus counters fed by fleet
// events (registrations, messages ingested, transitions).
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { nodeStates, type Alert, type CohortDimension, type CohortRate } from '@metalfleet/domain';
import type { Failures, FleetEvents } from '@metalfleet/fleet';
import { storeProblems, type FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';

export interface ManagerMetrics {
  registry: Registry;
  ingested: Counter<'kind'>;
  /** Seconds from the agent's timestamp to ingest, over the last minute. */
  ingestLag: Summary;
}

/** Failure analytics and alerts, read at scrape time. */
export interface AlertingView {
  failures: Pick<Failures, 'ratesBy'>;
  alerts: () => readonly Alert[];
  now: () => Date;
}

/** Cohorts whose failure rates are exported, over the last 24 h (the API has every dimension and window). */
const exportedCohorts: readonly CohortDimension[] = ['fleet', 'pool', 'rack', 'gpuModel', 'driver'];

/** Admission control in a connect storm, read at each scrape. */
export interface AdmissionView {
  mqtt: () => { connecting: number; waiting: number; shed: number };
  /** gRPC TLS handshakes (none without TLS). */
  grpc: () => { connecting: number; waiting: number; shed: number };
  registrationsRefused: () => number;
  /** Registrations allowed at once now (it follows the measured throughput). */
  registrationsLimit: () => number;
}

/** The admission gate of one port: connections being set up or waiting (`<port>_connections_setting_up{stage}`), and those it shed. */
function connectionGauges(registry: Registry, port: 'mqtt' | 'grpc', help: string, read: AdmissionView['mqtt']): void {
  new Gauge({
    name: `metalfleet_${port}_connections_setting_up`, help, labelNames: ['stage'], registers: [registry],
    collect() {
      const now = read();
      this.set({ stage: 'admitted' }, now.connecting);
      this.set({ stage: 'waiting' }, now.waiting);
    },
  });
  new Gauge({
    name: `metalfleet_${port}_connections_refused_total`, help: `${port === 'mqtt' ? 'MQTT' : 'gRPC'} connections closed unread by admission control (waited too long for their turn to be set up)`, registers: [registry],
    collect() {
      this.set(read().shed);
    },
  });
}

/** `clock`: the manager's clock (docs/time.md), for how far the host clock is from it. */
export function createManagerMetrics(
  store: FleetStore, events: FleetEvents, mqttClients: () => number, alerting: AlertingView, clock?: { offsetMs(): number; anchorAgeMs?(): number }, admission?: AdmissionView,
): ManagerMetrics {
  const registry = new Registry();
  if (clock) {
    new Gauge({
      name: 'metalfleet_clock_offset_seconds', help: 'Host clock minus the manager\'s time: non-zero after the host clock stepped, until the manager caught up', registers: [registry],
      collect() {
        this.set(clock.offsetMs() / 1000);
      },
    });
  }
  const anchorAgeMs = clock?.anchorAgeMs?.bind(clock);
  if (anchorAgeMs) {
    new Gauge({
      name: 'metalfleet_clock_anchor_age_seconds', registers: [registry],
      help: 'How old clock.json is (the manager\'s time carried across a restart): a sweep interval at most while its writes go through, growing while they fail (a full disk)',
      collect() {
        this.set(anchorAgeMs() / 1000);
      },
    });
  }
  // The three cohort gauges come from one computation per scrape (prom-client collects them concurrently).
  let scrape: { at: number; rates: ReturnType<Failures['ratesBy']> } | null = null;
  const cohortRates = () => {
    if (!scrape || performance.now() - scrape.at > 1000) scrape = { at: performance.now(), rates: alerting.failures.ratesBy(exportedCohorts, 86_400_000, alerting.now()) };
    return scrape.rates;
  };
  const cohortGauge = (name: string, help: string, value: (r: CohortRate) => number) => new Gauge({
    name, help, labelNames: ['by', 'cohort'], registers: [registry],
    async collect() {
      this.reset();
      for (const { by, rates } of await cohortRates()) for (const r of rates) this.set({ by, cohort: r.cohort }, value(r));
    },
  });
  cohortGauge('metalfleet_failure_rate', 'Failed nodes / nodes of the cohort over the last 24 h (0..1)', (r) => r.rate);
  cohortGauge('metalfleet_cohort_failed_nodes', 'Distinct nodes of the cohort that failed in the last 24 h', (r) => r.failedNodes);
  cohortGauge('metalfleet_cohort_nodes', 'Nodes in the cohort (not retired)', (r) => r.nodes);
  new Gauge({
    name: 'metalfleet_alerts', help: 'Alerts by rule, severity and state (pending, firing, resolved in the last 24 h)', labelNames: ['alertname', 'severity', 'state'], registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const a of alerting.alerts()) counts.set(`${a.rule}|${a.severity}|${a.state}`, (counts.get(`${a.rule}|${a.severity}|${a.state}`) ?? 0) + 1);
      for (const [key, value] of counts) {
        const [alertname = '', severity = '', state = ''] = key.split('|');
        this.set({ alertname, severity, state }, value);
      }
    },
  });
  const notificationFailures = new Counter({ name: 'metalfleet_alert_notifications_failed_total', help: 'Alert deliveries a notifier did not take', labelNames: ['notifier'], registers: [registry] });
  events.on((e) => {
    if (e.type === 'notification-failed') notificationFailures.inc({ notifier: e.notifier });
  });
  collectDefaultMetrics({ register: registry, prefix: 'metalfleet_manager_' });
  // The store's state as /readyz sees it: a full disk or an unreachable database shows here, not only as failing writes.
  new Gauge({
    name: 'metalfleet_store_writable', help: '1 while the fleet store answers and can write; 0 while it is unreachable, its disk is full or it cannot write', registers: [registry],
    async collect() {
      this.set((await store.availability()).available ? 1 : 0);
    },
  });
  new Counter({
    name: 'metalfleet_store_errors_total', help: 'Store calls that failed because of the store (reason: unreachable, disk-full, not-writable)', labelNames: ['reason'], registers: [registry],
    async collect() {
      const { errors } = await store.availability();
      this.reset();
      for (const reason of storeProblems) this.inc({ reason }, errors[reason]);
    },
  });
  new Gauge({
    name: 'metalfleet_nodes', help: 'Nodes by lifecycle state and presence', labelNames: ['state', 'presence'], registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map((await store.nodeCounts()).byStateAndPresence.map((c) => [`${c.state}|${c.presence}`, c.count]));
      for (const state of nodeStates) for (const presence of ['online', 'offline', 'unknown']) this.set({ state, presence }, counts.get(`${state}|${presence}`) ?? 0);
    },
  });
  new Gauge({
    name: 'metalfleet_nodes_by_health', help: 'Nodes by their worst health condition', labelNames: ['severity'], registers: [registry],
    async collect() {
      for (const [severity, value] of Object.entries((await store.nodeCounts()).bySeverity)) this.set({ severity }, value);
    },
  });
  new Gauge({
    name: 'metalfleet_health_conditions', help: 'Health conditions across the fleet by severity', labelNames: ['severity'], registers: [registry],
    async collect() {
      for (const [severity, value] of Object.entries((await store.nodeCounts()).conditionsBySeverity)) this.set({ severity }, value);
    },
  });
  new Gauge({
    name: 'metalfleet_mqtt_clients', help: 'Nodes connected to the embedded MQTT broker', registers: [registry],
    collect() {
      this.set(mqttClients());
    },
  });
  if (admission) {
    connectionGauges(registry, 'mqtt', 'MQTT connections in TLS handshake or CONNECT now (admitted), or waiting for their turn', admission.mqtt);
    connectionGauges(registry, 'grpc', 'gRPC connections in TLS handshake now (admitted), or waiting for their turn', admission.grpc);
    new Gauge({
      name: 'metalfleet_registrations_refused_total', help: 'Registrations refused as busy (too many at once), the agent told to retry later', registers: [registry],
      collect() {
        this.set(admission.registrationsRefused());
      },
    });
    new Gauge({
      name: 'metalfleet_registrations_concurrent_limit', help: 'Registrations allowed at once now: the measured throughput times the target time (3 s), within --max-concurrent-registrations', registers: [registry],
      collect() {
        this.set(admission.registrationsLimit());
      },
    });
  }
  const registrations = new Counter({ name: 'metalfleet_registrations_total', help: 'Registrations by result', labelNames: ['result'], registers: [registry] });
  const ingested = new Counter({ name: 'metalfleet_messages_ingested_total', help: 'Agent messages ingested by kind', labelNames: ['kind'], registers: [registry] });
  const bad = new Counter({ name: 'metalfleet_bad_messages_total', help: 'Messages refused as malformed', registers: [registry] });
  const transitions = new Counter({ name: 'metalfleet_state_transitions_total', help: 'Lifecycle transitions by target state', labelNames: ['to'], registers: [registry] });
  events.on((e) => {
    if (e.type === 'node-registered') registrations.inc({ result: e.returning ? 'returning' : 'new' });
    else if (e.type === 'registration-refused') registrations.inc({ result: 'refused' });
    else if (e.type === 'identity-conflict') registrations.inc({ result: 'conflict' });
    else if (e.type === 'bad-message') bad.inc();
    else if (e.type === 'health-changed') ingested.inc({ kind: 'health' });
    else if (e.type === 'state-changed') transitions.inc({ to: e.to });
  });
  const portChanges = new Counter({
    name: 'metalfleet_fabric_port_changes_total', help: 'Switch ports reprogrammed: "planned" for node moves, "drift" for ports someone else changed', labelNames: ['reason'], registers: [registry],
  });
  const fabricErrors = new Counter({ name: 'metalfleet_fabric_errors_total', help: 'Switch reads or writes that failed', registers: [registry] });
  events.on((e) => {
    if (e.type === 'port-configured') portChanges.inc({ reason: 'planned' });
    else if (e.type === 'port-drift-repaired') portChanges.inc({ reason: 'drift' });
    else if (e.type === 'fabric-error') fabricErrors.inc();
  });
  const ingestLag = new Summary({
    name: 'metalfleet_telemetry_ingest_lag_seconds', help: 'From the telemetry timestamp the agent set to its ingest by the manager', percentiles: [0.5, 0.99],
    maxAgeSeconds: 60, ageBuckets: 6, registers: [registry],
  });
  return { registry, ingested, ingestLag };
}

export const metricsRoutes: FastifyPluginAsync<{ metrics: ManagerMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', { schema: { ...needs('fleet:read'), summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};

/** Served image files still to be hashed: until then they are served without a strong ETag (a cut download starts over). */
export function registerImageDigestMetrics(registry: Registry, status: () => { pending: number; hashedFiles: number }): void {
  new Gauge({
    name: 'metalfleet_image_files_unhashed', help: 'Files under the image directory whose sha256 (download validator) is not known yet', registers: [registry],
    collect() {
      this.set(status().pending);
    },
  });
  new Gauge({
    name: 'metalfleet_image_files_hashed', help: 'Files under the image directory hashed since the manager started (others were known from the digest ledger)', registers: [registry],
    collect() {
      this.set(status().hashedFiles);
    },
  });
}

/** This replica's share of the work (lease-keeper.ts): leases held by kind, and the live replicas it counts. */
export function registerLeaseMetrics(registry: Registry, leases: { held: () => string[]; replicas: () => number }): void {
  new Gauge({
    name: 'metalfleet_leases_held', help: 'Work leases this replica holds and may act on now: node shards (of 256) and singleton loops', labelNames: ['kind'], registers: [registry],
    collect() {
      const held = leases.held();
      this.set({ kind: 'shard' }, held.filter((name) => name.startsWith('shard/')).length);
      this.set({ kind: 'singleton' }, held.filter((name) => name.startsWith('singleton/')).length);
    },
  });
  new Gauge({
    name: 'metalfleet_replicas_live', help: 'Manager replicas alive on this store, as this replica counted them at its last lease round', registers: [registry],
    collect() {
      this.set(leases.replicas());
    },
  });
}
