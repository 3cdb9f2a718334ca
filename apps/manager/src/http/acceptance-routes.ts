// Acceptance testing over the API: a node's runs (each check with what was
// measured, the threshold and the verdict) and the SKU profiles in force.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AcceptanceRunList, ApiError, NodeIdParams, SkuProfileList } from '@metalfleet/api';
import { DomainError, type SkuProfile } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';

export interface AcceptanceRouteDeps {
  store: Pick<FleetStore, 'getNodeSummary' | 'acceptanceRuns'>;
  profiles: () => readonly SkuProfile[];
}

/** Runs a node's page shows: its latest, newest first. */
const runsShown = 20;

export const acceptanceRoutes: FastifyPluginAsyncTypebox<AcceptanceRouteDeps> = async (app, { store, profiles }) => {
  app.get('/api/v1/nodes/:id/acceptance', {
    schema: {
      ...needs('fleet:read'), summary: 'A node\'s acceptance runs, newest first: each check with what was measured, the threshold and the verdict',
      params: NodeIdParams, response: { 200: AcceptanceRunList, 400: ApiError, 403: ApiError, 404: ApiError },
    },
  }, async (request) => {
    if (!(await store.getNodeSummary(request.params.id))) throw new DomainError('not-found', `no node ${request.params.id}`);
    const runs = await store.acceptanceRuns(request.params.id, runsShown);
    return { items: runs.map((r) => ({ commandId: r.commandId, profile: r.profile, passed: r.passed, at: r.at.toISOString(), checks: r.checks })) };
  });

  app.get('/api/v1/sku-profiles', {
    schema: {
      ...needs('fleet:read'), summary: 'The SKU profiles in force, in the order nodes are matched: the operator\'s (--sku-profiles-file), then the defaults',
      response: { 200: SkuProfileList, 403: ApiError },
    },
  }, async () => ({ items: profiles().map((p) => ({ ...p, allowedDrivers: [...p.allowedDrivers], allowedVbios: [...p.allowedVbios] })) }));
};
