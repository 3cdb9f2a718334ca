// Server-sent events: every fleet change, as it happens, for the dashboard and
// the CLI. A client that cannot keep up is disconnected (it reconnects), so
// one slow browser never holds memory on the manager.
import type { FastifyPluginAsync } from 'fastify';
import type { FleetEvent, FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';

/** Whether a tenant-scoped client may see an event: one about its tenant, its nodes, or an operation on its nodes. */
function tenantFilter(store: FleetStore, tenantId: string): (event: FleetEvent) => Promise<boolean> {
  const nodeTenant = async (nodeId: string) => (await store.getNodeSummary(nodeId))?.tenant ?? null;
  const operationTouches = async (operationId: string) => (await store.operationNodes(operationId)).some((n) => n.tenant === tenantId);
  return async (event) => {
    const e = event as Partial<Record<'tenantId' | 'previous' | 'nodeId' | 'operationId', string | null>>;
    if (e.tenantId === tenantId || e.previous === tenantId) return true;
    if (typeof e.operationId === 'string') return operationTouches(e.operationId);
    if (typeof e.nodeId === 'string') return (await nodeTenant(e.nodeId)) === tenantId;
    return false;
  };
}

const maxBufferedBytes = 1024 * 1024;

export const eventStreamRoutes: FastifyPluginAsync<{ events: FleetEvents; store: FleetStore; heartbeatMs?: number }> = async (app, { events, store, heartbeatMs = 15_000 }) => {
  app.get('/api/v1/events', {
    schema: {
      ...needs('fleet:read', { tenantScoped: true }), produces: ['text/event-stream'],
      summary: 'Server-sent events stream of fleet changes (event: <type>, data: JSON); a tenant-scoped token gets those about its tenant, nodes and operations',
    },
  }, (request, reply) => {
    const scope = request.principal?.tenantId ?? null;
    const visible = scope === null ? null : tenantFilter(store, scope);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let id = 0;
    const send = (event: FleetEvent) => {
      if (res.writableLength > maxBufferedBytes) {
        res.end();
        return;
      }
      id += 1;
      res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    // Filtered events are looked up one after another, so they keep their order.
    let queue = Promise.resolve();
    const off = events.on((event) => {
      if (!visible) return send(event);
      queue = queue.then(async () => {
        if (await visible(event)) send(event);
      }).catch((error: unknown) => request.log.warn({ err: error }, 'event filter failed'));
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    const stop = () => {
      off();
      clearInterval(heartbeat);
    };
    request.raw.on('close', stop);
    res.on('close', stop);
  });
};
