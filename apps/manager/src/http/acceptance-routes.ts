// Acceptance testing over the API: a node's runs (each check with what was
// measured, the threshold and the verdict) and the SKU profiles: those in
// force, in the order nodes are matched, each with where it comes from; an
// admin makes, replaces and removes the API's own (kept in the store, so every
// replica judges by the same; the file's and the defaults are not removable).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AcceptanceRunList, ApiError, NodeIdParams, SkuProfile, SkuProfileList } from '@metalfleet/api';
import { defaultSkuProfiles, DomainError, skuProfilesInForce, type SkuProfile as Profile } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';

export interface AcceptanceRouteDeps {
  store: Pick<FleetStore, 'getNodeSummary' | 'acceptanceRuns' | 'listSkuProfiles' | 'putSkuProfile' | 'deleteSkuProfile'>;
  /** --sku-profiles-file's. */
  fileProfiles: readonly Profile[];
  now?: () => Date;
}

/** Runs a node's page shows: its latest, newest first. */
const runsShown = 20;
const NameParams = Type.Object({ name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }) });

export const acceptanceRoutes: FastifyPluginAsyncTypebox<AcceptanceRouteDeps> = async (app, { store, fileProfiles, now = () => new Date() }) => {
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
      ...needs('fleet:read'), summary: 'The SKU profiles in force, in the order nodes are matched: the API\'s, --sku-profiles-file\'s, then the defaults',
      response: { 200: SkuProfileList, 403: ApiError },
    },
  }, async () => {
    const made = await store.listSkuProfiles();
    const source = (name: string) => (made.some((p) => p.name === name) ? 'api' as const : fileProfiles.some((p) => p.name === name) ? 'file' as const : 'default' as const);
    return { items: skuProfilesInForce(made, fileProfiles).map((p) => ({ ...asListed(p), source: source(p.name) })) };
  });

  app.put('/api/v1/sku-profiles/:name', {
    schema: {
      ...needs('admin'), summary: 'Make or replace a SKU profile (it comes before the file\'s and the defaults; one of the same name replaces them)',
      params: NameParams, body: SkuProfile, response: { 200: SkuProfile, 400: ApiError, 403: ApiError },
    },
  }, async (request) => {
    if (request.body.name !== request.params.name) throw new DomainError('invalid-argument', `the profile is named ${request.body.name}, not ${request.params.name}`);
    await store.putSkuProfile(request.body, now());
    return request.body;
  });

  app.delete('/api/v1/sku-profiles/:name', {
    schema: { ...needs('admin'), summary: 'Remove a SKU profile made through the API', params: NameParams, response: { 204: Type.Null(), 403: ApiError, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    const { name } = request.params;
    if (await store.deleteSkuProfile(name)) return reply.status(204).send(null);
    const elsewhere = fileProfiles.some((p) => p.name === name) ? 'comes from --sku-profiles-file: edit the file' : defaultSkuProfiles.some((p) => p.name === name) ? 'is a default: replace it with one of the same name' : null;
    throw elsewhere ? new DomainError('conflict', `SKU profile ${name} ${elsewhere}`) : new DomainError('not-found', `no SKU profile ${name}`);
  });
};

/** A profile as the API lists it (its lists copied: the defaults' are read-only). */
function asListed(p: Profile) {
  const { allowedFirmware: firmware, ...rest } = p;
  const allowedFirmware: { bios?: string[]; bmc?: string[]; nic?: string[] } = {};
  for (const kind of ['bios', 'bmc', 'nic'] as const) {
    const list = firmware?.[kind];
    if (list) allowedFirmware[kind] = [...list];
  }
  return { ...rest, allowedDrivers: [...p.allowedDrivers], allowedVbios: [...p.allowedVbios], ...(firmware ? { allowedFirmware } : {}) };
}
