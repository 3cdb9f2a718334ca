import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health } from '@metalfleet/api';
import { open } from './access.ts';

export const healthRoutes: FastifyPluginAsyncTypebox<{ version: string; startedAt: Date; now: () => Date }> = async (app, opts) => {
  app.get('/healthz', { schema: { ...open, summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
    version: opts.version,
    uptimeSeconds: (opts.now().getTime() - opts.startedAt.getTime()) / 1000,
  }));
};
