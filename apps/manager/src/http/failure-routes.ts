// Failure rates per cohort over a sliding window, with MTBF: which rack, GPU
// batch or driver version stands out.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, FailureRateQuery, FailureRates, FailureTrend, FailureTrendQuery } from '@metalfleet/api';
import { parseDuration, type CohortDimension } from '@metalfleet/domain';
import type { Failures } from '@metalfleet/fleet';
import { needs } from './access.ts';

export interface FailureRouteDeps {
  failures: Pick<Failures, 'rates' | 'trend'>;
  now: () => Date;
}

export const failureRoutes: FastifyPluginAsyncTypebox<FailureRouteDeps> = async (app, { failures, now }) => {
  app.get('/api/v1/failure-rates', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Failure rate (distinct failed nodes / nodes) and MTBF per cohort over a window, highest rate first (a tenant-scoped token: its tenant\'s nodes only)', querystring: FailureRateQuery, response: { 200: FailureRates, 400: ApiError } },
  }, async (request) => {
    const { window, by } = request.query;
    return { window, by, items: await failures.rates(by as CohortDimension, parseDuration(window) ?? 86_400_000, now(), request.principal?.tenantId ?? null) };
  });

  app.get('/api/v1/failure-trend', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Failures and distinct failed nodes per day over the last days, oldest first', querystring: FailureTrendQuery, response: { 200: FailureTrend, 400: ApiError } },
  }, async (request) => {
    const items = await failures.trend(request.query.days, now(), request.principal?.tenantId ?? null);
    return { days: request.query.days, items: items.map((p) => ({ ...p, at: p.at.toISOString() })) };
  });
};
