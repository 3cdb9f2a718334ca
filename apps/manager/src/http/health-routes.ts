// /healthz: the process lives and serves HTTP (a supervisor restarts it when this fails).
// /readyz: it can do its work now; 503 names the dependency that is down and why (the store
// unreachable, its disk full, the broker not listening). A load balancer stops sending it work,
// nobody restarts it: it recovers by itself when the store can write again.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health, Readiness } from '@metalfleet/api';
import type { FleetStore } from '@metalfleet/store';
import { open } from './access.ts';

/**
 * A dependency's state, and since when it has been so: the embedded MQTT broker listens; this
 * replica renews its work leases (lease-keeper.ts).
 */
export type DependencyState = () => { ok: boolean; since: Date };

export const healthRoutes: FastifyPluginAsyncTypebox<{
  version: string; startedAt: Date; now: () => Date; store: Pick<FleetStore, 'availability'>; broker?: DependencyState | undefined; leases?: DependencyState | undefined;
}> = async (app, opts) => {
  app.get('/healthz', { schema: { ...open, summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
    version: opts.version,
    uptimeSeconds: (opts.now().getTime() - opts.startedAt.getTime()) / 1000,
  }));

  app.get('/readyz', {
    schema: { ...open, summary: 'Readiness: the fleet store answers and can write, the broker listens, the work leases are renewed', response: { 200: Readiness, 503: Readiness } },
  }, async (_request, reply) => {
    const store = await opts.store.availability();
    const storeCheck = {
      ready: store.available,
      since: new Date(store.since).toISOString(),
      message: store.available ? '' : store.message,
      ...(store.problem ? { problem: store.problem } : {}),
    };
    const broker = opts.broker?.();
    const brokerCheck = broker && { ready: broker.ok, since: broker.since.toISOString(), message: broker.ok ? '' : 'the MQTT broker is not listening: nodes cannot report' };
    const leases = opts.leases?.();
    const leasesCheck = leases && {
      ready: leases.ok, since: leases.since.toISOString(),
      message: leases.ok ? '' : 'this replica cannot renew its work leases: it acts on no node shard or loop until it can (other replicas take its work over)',
    };
    const ready = store.available && (broker?.ok ?? true) && (leases?.ok ?? true);
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' as const : 'not-ready' as const,
      checks: { store: storeCheck, ...(brokerCheck ? { broker: brokerCheck } : {}), ...(leasesCheck ? { leases: leasesCheck } : {}) },
    });
  });
};
