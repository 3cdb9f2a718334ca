// /metrics in the Prometheus text format: node counts by state and presence and
// conditions by severity (computed at scrape time), plus counters fed by fleet
// events (registrations, messages ingested, transitions).
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { nodeStates } from '@metalfleet/domain';
import type { FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';

export interface ManagerMetrics {
  registry: Registry;
  ingested: Counter<'kind'>;
}

export function createManagerMetrics(store: FleetStore, events: FleetEvents): ManagerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'metalfleet_manager_' });
  new Gauge({
    name: 'metalfleet_nodes', help: 'Nodes by lifecycle state and presence', labelNames: ['state', 'presence'], registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const n of await store.listNodes()) counts.set(`${n.state}|${n.presence}`, (counts.get(`${n.state}|${n.presence}`) ?? 0) + 1);
      for (const state of nodeStates) for (const presence of ['online', 'offline', 'unknown']) this.set({ state, presence }, counts.get(`${state}|${presence}`) ?? 0);
    },
  });
  new Gauge({
    name: 'metalfleet_nodes_by_health', help: 'Nodes by their worst health condition', labelNames: ['severity'], registers: [registry],
    async collect() {
      const counts = { ok: 0, warning: 0, critical: 0 };
      for (const n of await store.listNodes()) counts[n.health.severity] += 1;
      for (const [severity, value] of Object.entries(counts)) this.set({ severity }, value);
    },
  });
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
  return { registry, ingested };
}

export const metricsRoutes: FastifyPluginAsync<{ metrics: ManagerMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
