// Server-sent events: every fleet change, as it happens, for the dashboard and
// the CLI. A client that cannot keep up is disconnected (it reconnects), so
// one slow browser never holds memory on the manager.
import type { FastifyPluginAsync } from 'fastify';
import type { FleetEvents } from '@metalfleet/fleet';
import { needs } from './access.ts';

const maxBufferedBytes = 1024 * 1024;

export const eventStreamRoutes: FastifyPluginAsync<{ events: FleetEvents; heartbeatMs?: number }> = async (app, { events, heartbeatMs = 15_000 }) => {
  app.get('/api/v1/events', {
    schema: { ...needs('fleet:read'), summary: 'Server-sent events stream of fleet changes (event: <type>, data: JSON)', produces: ['text/event-stream'] },
  }, (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let id = 0;
    const off = events.on((event) => {
      if (res.writableLength > maxBufferedBytes) {
        res.end();
        return;
      }
      id += 1;
      res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
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
