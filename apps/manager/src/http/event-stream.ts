// Server-sent events: every fleet change, as it happens, for the dashboard and
// the CLI. The stream reads the fleet's event journal (journal-feed.ts), which
// every replica writes: a client sees what any replica did, and each event's
// `id` is its place in the journal, so a client that reconnects (to any
// replica) with Last-Event-ID gets what it missed, as long as the journal keeps
// it (--event-retention-h). A client that cannot keep up is disconnected (it
// reconnects), so one slow browser never holds memory on the manager. A
// tenant-scoped stream gets each event as eventForTenant (libs/fleet) allows
// it; every stream ends with a last `stream-ended` event when its token is
// revoked or expires.
import type { FastifyPluginAsync } from 'fastify';
import type { StreamEnded, StreamEvent } from '@metalfleet/api';
import { DomainError, allocationStart } from '@metalfleet/domain';
import { eventForTenant, type ApiTokens, type EventLookups, type FleetEvent, type JournalFeed } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';
import { toStreamEvent } from './event-mapper.ts';

const maxBufferedBytes = 1024 * 1024;
/** Events a tenant-scoped stream may have waiting for their tenant lookup. */
const maxQueuedLookups = 5000;
/** setTimeout's longest delay; a later expiry is re-armed. */
const maxTimerMs = 2 ** 31 - 1;

export type StreamEndReason = StreamEnded['reason'];

/** An event is mapped to its API shape once, however many streams send it (the feed hands them all the same object). */
const apiShapes = new WeakMap<FleetEvent, StreamEvent>();
function apiShape(event: FleetEvent): StreamEvent {
  let shape = apiShapes.get(event);
  if (!shape) apiShapes.set(event, (shape = toStreamEvent(event)));
  return shape;
}

/** Last-Event-ID: the journal place of the last event the client got; absent: from now on. */
function lastEventId(header: string | string[] | undefined): number | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header[0] ?? '' : header;
  if (!/^\d{1,15}$/.test(text.trim())) throw new DomainError('invalid-argument', `Last-Event-ID must be the id of an event this stream sent (a whole number), not ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text.trim());
}

export interface EventStreamDeps {
  feed: JournalFeed;
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
  const { feed, store, apiTokens, now, heartbeatMs = 15_000, tokenRecheckMs = 10_000 } = deps;
  const lookups = lookupsOf(store);
  app.get('/api/v1/events', {
    schema: {
      ...needs('fleet:read', { tenantScoped: true }), produces: ['text/event-stream'],
      summary: 'Server-sent events stream of fleet changes (event: <type>, data: JSON); a tenant-scoped token gets only what is about its own nodes, '
        + 'tenant, operation entries and alerts. Each event\'s id is its place in the fleet\'s event journal, the same on every manager replica: '
        + 'reconnecting with a Last-Event-ID header replays what came after it (kept for --event-retention-h). '
        + 'Ends with `event: stream-ended` (data {reason: token-revoked | token-expired}) when the token stops being valid',
    },
  }, async (request, reply) => {
    const principal = request.principal;
    const scope = principal?.tenantId ?? null;
    const token = principal ? await apiTokens.state(principal.tokenId) : null;
    // An id from another database (or a journal that was reset) is never ahead of this one: from now on, then.
    const newest = await store.lastEventSeq();
    const after = Math.min(lastEventId(request.headers['last-event-id']) ?? newest, newest);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let ended = false;
    const send = (seq: number, event: StreamEvent) => {
      if (res.writableEnded) return;
      if (res.writableLength > maxBufferedBytes) {
        res.end();
        return;
      }
      res.write(`id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    // Filtered events are looked up one after another, so they keep their order. A tenant stream replaying a long
    // journal (Last-Event-ID) is handed a page at a time, once the page before is looked up; one that still falls
    // behind live events past maxQueuedLookups is ended (the client comes back from the last event it got). A closed
    // stream looks nothing more up.
    let queue = Promise.resolve();
    let queued = 0;
    let unsubscribe: (() => void) | null = null;
    const off = () => {
      unsubscribe?.();
      unsubscribe = null;
    };
    void feed.subscribe(after, (seq, event) => {
      if (scope === null) return send(seq, apiShape(event));
      if (ended || res.writableEnded) return;
      if (queued >= maxQueuedLookups) {
        stop();
        res.end();
        return;
      }
      queued += 1;
      queue = queue.then(async () => {
        if (ended || res.writableEnded) return;
        const visible = await eventForTenant(event, scope, lookups);
        if (visible && !ended) send(seq, visible === event ? apiShape(event) : toStreamEvent(visible));
      }).catch((error: unknown) => request.log.warn({ err: error }, 'event filter failed')).finally(() => (queued -= 1));
      // While catching up, the feed hands the next page once these are looked up.
      return queue;
    }).then((stopFeed) => {
      if (ended) stopFeed();
      else unsubscribe = stopFeed;
    }, (error: unknown) => {
      request.log.warn({ err: error }, 'event stream could not start reading the event journal');
      res.end();
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
        // No id: a client that reconnects goes on from the last event it got.
        res.write(`event: stream-ended\ndata: ${JSON.stringify(last)}\n\n`);
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
