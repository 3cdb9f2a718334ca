// Server-sent events: every fleet change, as it happens, for the dashboard and
// the CLI. A client that cannot keep up is disconnected (it reconnects), so
// one slow browser never holds memory on the manager. A tenant-scoped stream
// gets each event as eventForTenant (libs/fleet) allows it; every stream ends
// with a last `stream-ended` event when its token is revoked or expires.
// Every stream is fed from one subscription to the fleet's events, taken while
// any stream is open: a thousand open dashboards are one listener on the bus,
// and an event is mapped to its API shape (toStreamEvent) once for them all.
import type { FastifyPluginAsync } from 'fastify';
import type { StreamEnded, StreamEvent } from '@metalfleet/api';
import { allocationStart } from '@metalfleet/domain';
import { eventForTenant, type ApiTokens, type EventLookups, type FleetEvent, type FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';
import { toStreamEvent } from './event-mapper.ts';

const maxBufferedBytes = 1024 * 1024;
/** setTimeout's longest delay; a later expiry is re-armed. */
const maxTimerMs = 2 ** 31 - 1;

export type StreamEndReason = StreamEnded['reason'];

/** One open stream, as the shared subscription sees it. */
interface StreamClient {
  /** An event every stream may see, already in its API shape. */
  all(event: StreamEvent): void;
  /** An event the stream judges itself (tenant-scoped streams). */
  scoped(event: FleetEvent): void;
  readonly tenantScoped: boolean;
}

/** The one subscription that feeds every open stream; held only while a stream is open. */
function streamFanOut(events: FleetEvents, onError: (error: unknown) => void) {
  const clients = new Set<StreamClient>();
  let off: (() => void) | null = null;
  const deliver = (event: FleetEvent) => {
    let mapped: StreamEvent | undefined;
    for (const client of [...clients]) {
      try {
        if (client.tenantScoped) client.scoped(event);
        else client.all((mapped ??= toStreamEvent(event)));
      } catch (error) {
        onError(error); // one broken stream does not keep the event from the others
      }
    }
  };
  return {
    add(client: StreamClient): () => void {
      clients.add(client);
      off ??= events.on(deliver);
      return () => {
        clients.delete(client);
        if (clients.size === 0 && off) {
          off();
          off = null;
        }
      };
    },
  };
}

export interface EventStreamDeps {
  events: FleetEvents;
  store: FleetStore;
  apiTokens: ApiTokens;
  now: () => Date;
  heartbeatMs?: number;
  /** How often a stream's token is looked up again (a revocation on another replica, a clock that jumped). */
  tokenRecheckMs?: number;
}

function lookupsOf(store: FleetStore): EventLookups {
  return {
    nodeTenant: async (nodeId) => {
      const node = await store.getNodeSummary(nodeId);
      return node ? node.tenant : undefined;
    },
    allocatedSince: async (nodeId) => allocationStart(await store.history(nodeId)),
    operationEntries: async (operationId) => (await store.operationNodes(operationId)).map((e) => ({ nodeId: e.nodeId, tenant: e.tenant, phase: e.progress.phase })),
  };
}

export const eventStreamRoutes: FastifyPluginAsync<EventStreamDeps> = async (app, deps) => {
  const { events, store, apiTokens, now, heartbeatMs = 15_000, tokenRecheckMs = 10_000 } = deps;
  const lookups = lookupsOf(store);
  const fanOut = streamFanOut(events, (error) => app.log.warn({ err: error }, 'event stream delivery failed'));
  app.get('/api/v1/events', {
    schema: {
      ...needs('fleet:read', { tenantScoped: true }), produces: ['text/event-stream'],
      summary: 'Server-sent events stream of fleet changes (event: <type>, data: JSON); a tenant-scoped token gets only what is about its own nodes, '
        + 'tenant, operation entries and alerts. Ends with `event: stream-ended` (data {reason: token-revoked | token-expired}) when the token stops being valid',
    },
  }, async (request, reply) => {
    const principal = request.principal;
    const scope = principal?.tenantId ?? null;
    const token = principal ? await apiTokens.state(principal.tokenId) : null;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let id = 0;
    let ended = false;
    const write = (type: string, data: unknown) => {
      id += 1;
      res.write(`id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const send = (event: StreamEvent) => {
      if (res.writableEnded) return;
      if (res.writableLength > maxBufferedBytes) {
        res.end();
        return;
      }
      write(event.type, event);
    };
    // Filtered events are looked up one after another, so they keep their order.
    let queue = Promise.resolve();
    const off = fanOut.add({
      tenantScoped: scope !== null,
      all: send,
      scoped: (event) => {
        if (scope === null) return;
        queue = queue.then(async () => {
          const visible = await eventForTenant(event, scope, lookups);
          if (visible) send(toStreamEvent(visible));
        }).catch((error: unknown) => request.log.warn({ err: error }, 'event filter failed'));
      },
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    let expiry: NodeJS.Timeout | undefined;
    const stop = () => {
      ended = true;
      off();
      offRevoked();
      clearInterval(heartbeat);
      clearInterval(recheck);
      clearTimeout(expiry);
    };
    const end = (reason: StreamEndReason) => {
      if (ended) return;
      ended = true;
      off();
      // What was already let through goes out first, then the reason, then nothing.
      void queue.finally(() => {
        stop();
        if (res.writableEnded) return;
        const last: StreamEnded = { reason };
        write('stream-ended', last);
        res.end();
      });
    };
    const offRevoked = principal ? apiTokens.onRevoked((tokenId) => tokenId === principal.tokenId && end('token-revoked')) : () => undefined;
    const check = async () => {
      if (!principal) return;
      const { state } = await apiTokens.state(principal.tokenId);
      if (state === 'revoked' || state === 'unknown') end('token-revoked');
      else if (state === 'expired') end('token-expired');
    };
    const recheck = setInterval(() => void check().catch((error: unknown) => request.log.warn({ err: error }, 'token re-check failed')), tokenRecheckMs);
    const armExpiry = (expiresAt: Date) => {
      const ms = expiresAt.getTime() - now().getTime();
      expiry = ms > maxTimerMs ? setTimeout(() => armExpiry(expiresAt), maxTimerMs) : setTimeout(() => end('token-expired'), Math.max(0, ms));
    };
    if (token?.expiresAt) armExpiry(token.expiresAt);
    // Revoked between authentication and here.
    if (token && token.state !== 'active') end(token.state === 'expired' ? 'token-expired' : 'token-revoked');
    request.raw.on('close', stop);
    res.on('close', stop);
  });
};
