// API tokens (admins create, list and revoke them) and the audit log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, ApiTokenList, ApiTokenParams, AuditList, AuditQuery, CreateApiToken, CreatedApiToken } from '@metalfleet/api';
import { DomainError, apiTokenState, type ApiTokenRecord } from '@metalfleet/domain';
import type { ApiTokens } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { needs } from './access.ts';

function toApi(t: ApiTokenRecord, now: Date) {
  return {
    id: t.id, name: t.name, role: t.role, tenantId: t.tenantId, state: apiTokenState(t, now), createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null, revokedAt: t.revokedAt?.toISOString() ?? null, lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  };
}

export const accessRoutes: FastifyPluginAsyncTypebox<{ tokens: ApiTokens; store: FleetStore; now: () => Date }> = async (app, { tokens, store, now }) => {
  app.post('/api/v1/tokens', {
    schema: { ...needs('admin'), summary: 'Create an API token (the secret is shown once)', body: CreateApiToken, response: { 201: CreatedApiToken, 400: ApiError, 404: ApiError } },
    // Before validation: its type coercion would turn "" into null, an unscoped token out of a scoped request.
    preValidation: async (request) => {
      const tenantId = (request.body as { tenantId?: unknown } | null)?.tenantId;
      if (typeof tenantId === 'string' && tenantId.trim() === '') throw new DomainError('invalid-argument', 'tenantId must name a tenant; leave it out (or null) for a token that is not scoped to one');
    },
  }, async (request, reply) => {
    const { name, role, tenantId, ttlSeconds } = request.body;
    const { record, token } = await tokens.create({ name, role: role as ApiTokenRecord['role'], tenantId: tenantId ?? null, ttlSeconds: ttlSeconds ?? null });
    return reply.status(201).send({ ...toApi(record, now()), token });
  });

  app.get('/api/v1/tokens', {
    schema: { ...needs('admin'), summary: 'API tokens (never their secrets)', response: { 200: ApiTokenList } },
  }, async () => ({ items: (await tokens.list()).map((t) => toApi(t, now())) }));

  app.delete('/api/v1/tokens/:id', {
    schema: { ...needs('admin'), summary: 'Revoke an API token', params: ApiTokenParams, response: { 204: { type: 'null' }, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    await tokens.revoke(request.params.id);
    return reply.status(204).send(null);
  });

  app.get('/api/v1/audit', {
    schema: { ...needs('admin'), summary: 'Every mutating API call, newest first: who, what, target, result, when', querystring: AuditQuery, response: { 200: AuditList } },
  }, async (request) => ({
    items: (await store.listAudit({ limit: request.query.limit, ...(request.query.before ? { before: request.query.before } : {}) })).map((e) => ({ ...e, at: e.at.toISOString(), detail: e.detail ?? '' })),
  }));
};
