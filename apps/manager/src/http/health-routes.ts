// /healthz: the process lives and serves HTTP (a supervisor restarts it when this fails).
// /readyz: it can do its work now; 503 names the dependency that is down (a load balancer
// stops sending it work, nobody restarts it: it recovers by itself when the store answers again).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health, Readiness } from '@metalfleet/api';
import type { FleetStore } from '@metalfleet/store';
import { open } from './access.ts';

export const healthRoutes: FastifyPluginAsyncTypebox<{ version: string; startedAt: Date; now: () => Date; store: Pick<FleetStore, 'availability'> }> = async (app, opts) => {
  app.get('/healthz', { schema: { ...open, summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
    version: opts.version,
    uptimeSeconds: (opts.now().getTime() - opts.startedAt.getTime()) / 1000,
  }));

  app.get('/readyz', { schema: { ...open, summary: 'Readiness: the fleet store answers', response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const store = await opts.store.availability();
    const ready = store.available;
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' as const : 'not-ready' as const,
      checks: { store: { ready, since: new Date(store.since).toISOString(), message: ready ? '' : 'the fleet store (PostgreSQL) is unreachable' } },
    });
  });
};
