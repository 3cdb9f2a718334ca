// What an operator does to one node by hand: drain it (the drain hook: the
// workload scheduler stops placing work and waits for the jobs), or replace it
// (drain, fail, to repair, and a matching spare reimaged into its tenant).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, NodeActionBody, NodeIdParams, ReplaceResult } from '@metalfleet/api';
import { Type } from 'typebox';
import { DomainError } from '@metalfleet/domain';
import type { ClientCertificates, Remediation } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { needs, principalOf } from './access.ts';

export interface NodeActionDeps {
  remediation: Pick<Remediation, 'replace' | 'drain'>;
  /** Nodes' client certificates (--node-certificates); null: none issued. */
  certificates?: Pick<ClientCertificates, 'revokeAll'> | null;
  store?: Pick<FleetStore, 'getNodeSummary'>;
}

const RevokedCertificates = Type.Object({ revoked: Type.Integer({ description: 'Certificates revoked now (listed in the CRL the brokers read).' }) });

export const nodeActionRoutes: FastifyPluginAsyncTypebox<NodeActionDeps> = async (app, { remediation, certificates = null, store }) => {
  app.post('/api/v1/nodes/:id/revoke-certificates', {
    schema: {
      ...needs('nodes:write'), summary: 'Revoke every client certificate of the node (a machine thought compromised); the CRL is written at once, a broker reads it when it restarts',
      params: NodeIdParams, response: { 200: RevokedCertificates, 404: ApiError, 409: ApiError },
    },
  }, async (request) => {
    if (!certificates) throw new DomainError('conflict', 'this manager issues no client certificates (--node-certificates is off)');
    if (store && !(await store.getNodeSummary(request.params.id))) throw new DomainError('not-found', `no node ${request.params.id}`);
    return { revoked: await certificates.revokeAll(request.params.id) };
  });

  app.post('/api/v1/nodes/:id/drain', {
    schema: { ...needs('nodes:write', { tenantScoped: true }), summary: 'Drain the node\'s workloads through the drain hook', params: NodeIdParams, body: NodeActionBody, response: { 204: { type: 'null' }, 404: ApiError, 503: ApiError } },
  }, async (request, reply) => {
    await remediation.drain(request.params.id, request.body.reason);
    return reply.status(204).send(null);
  });

  app.post('/api/v1/nodes/:id/replace', {
    schema: {
      ...needs('nodes:write', { tenantScoped: true }), summary: 'Replace a tenant\'s node: drain, fail and repair it, and reimage a matching spare into the tenant',
      params: NodeIdParams, body: NodeActionBody, response: { 200: ReplaceResult, 404: ApiError, 409: ApiError },
    },
  }, async (request) => remediation.replace(request.params.id, request.body.reason, `api ${principalOf(request).name}`));
};
