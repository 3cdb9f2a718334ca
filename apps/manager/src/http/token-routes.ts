import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, BootstrapTokenList, BootstrapTokenParams, CreateBootstrapToken, CreatedBootstrapToken } from '@metalfleet/api';
import { bootstrapTokenState, type BootstrapTokenRecord } from '@metalfleet/domain';
import type { BootstrapTokens } from '@metalfleet/fleet';
import { needs } from './access.ts';

function toApi(r: BootstrapTokenRecord, now: Date) {
  return {
    id: r.id, description: r.description, state: bootstrapTokenState(r, now), createdAt: r.createdAt.toISOString(), expiresAt: r.expiresAt.toISOString(),
    revokedAt: r.revokedAt?.toISOString() ?? null, maxUses: r.maxUses, uses: r.uses, purpose: r.purpose,
  };
}

export const tokenRoutes: FastifyPluginAsyncTypebox<{ tokens: BootstrapTokens; now: () => Date }> = async (app, { tokens, now }) => {
  app.post('/api/v1/bootstrap-tokens', {
    schema: { ...needs('admin'), summary: 'Create a bootstrap token (the secret is shown once)', body: CreateBootstrapToken, response: { 201: CreatedBootstrapToken, 400: ApiError } },
  }, async (request, reply) => {
    const { description, ttlSeconds, maxUses } = request.body;
    const { record, token } = await tokens.create({ description, ttlSeconds, maxUses: maxUses ?? null });
    return reply.status(201).send({ ...toApi(record, now()), token });
  });

  app.get('/api/v1/bootstrap-tokens', {
    schema: { ...needs('admin'), summary: 'List bootstrap tokens (never their secrets)', response: { 200: BootstrapTokenList } },
  }, async () => ({ items: (await tokens.list()).map((r) => toApi(r, now())) }));

  app.delete('/api/v1/bootstrap-tokens/:id', {
    schema: { ...needs('admin'), summary: 'Revoke a bootstrap token', params: BootstrapTokenParams, response: { 204: { type: 'null' }, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    await tokens.revoke(request.params.id);
    return reply.status(204).send(null);
  });
};
