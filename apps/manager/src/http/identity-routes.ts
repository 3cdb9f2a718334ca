// Identity conflicts and admissions: an operator approves a re-enrolment (or a
// conflicting machine as the node it is), rejects it, and admits discovered
// machines before they may serve.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  Admission, AdmissionList, AdmissionQuery, ApiError, ApproveConflict, IdentityConflict, IdentityConflictList, IdentityConflictParams, IdentityConflictQuery,
} from '@metalfleet/api';
import type { IdentityReviews } from '@metalfleet/fleet';
import type { AdmissionRecord, IdentityConflictRecord } from '@metalfleet/store';
import { actorOf, needs } from './access.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function conflictToApi(c: IdentityConflictRecord) {
  return {
    id: c.id, kind: c.kind, status: c.status, identity: { ...c.identity, macs: [...c.identity.macs] }, nodeIds: [...c.nodeIds], reason: c.reason, attempts: c.attempts,
    at: c.at.toISOString(), lastAt: c.lastAt.toISOString(), resolvedNodeId: c.resolvedNodeId, resolvedBy: c.resolvedBy, resolvedAt: iso(c.resolvedAt),
    lastPeer: c.lastPeer, enrolledPeer: c.enrolledPeer,
  };
}

const admissionToApi = (a: AdmissionRecord) => ({ nodeId: a.nodeId, state: a.state, via: a.via, actor: a.actor, at: a.at.toISOString() });

export const identityRoutes: FastifyPluginAsyncTypebox<{ reviews: IdentityReviews }> = async (app, { reviews }) => {
  app.get('/api/v1/identity-conflicts', {
    schema: { ...needs('fleet:read'), summary: 'Identity conflicts and re-enrolments waiting for approval, oldest first', querystring: IdentityConflictQuery, response: { 200: IdentityConflictList } },
  }, async (request) => ({ items: (await reviews.conflicts(request.query.status)).map(conflictToApi) }));

  app.post('/api/v1/identity-conflicts/:id/approve', {
    schema: {
      ...needs('nodes:write'), summary: 'Approve: the machine is this node; its next registration gets the node\'s id and a fresh credential',
      params: IdentityConflictParams, body: ApproveConflict, response: { 200: IdentityConflict, 400: ApiError, 404: ApiError, 409: ApiError },
    },
  }, async (request) => conflictToApi(await reviews.approve(request.params.id, request.body.nodeId, actorOf(request))));

  app.post('/api/v1/identity-conflicts/:id/reject', {
    schema: { ...needs('nodes:write'), summary: 'Reject: the machine gets nothing; it stays refused', params: IdentityConflictParams, response: { 200: IdentityConflict, 404: ApiError, 409: ApiError } },
  }, async (request) => conflictToApi(await reviews.reject(request.params.id, actorOf(request))));

  app.get('/api/v1/admissions', {
    schema: { ...needs('fleet:read'), summary: 'Discovered nodes waiting to be admitted (state=pending), and those admitted', querystring: AdmissionQuery, response: { 200: AdmissionList } },
  }, async (request) => ({ items: (await reviews.admissions(request.query.state)).map(admissionToApi) }));

  app.post('/api/v1/nodes/:id/admit', {
    schema: {
      ...needs('nodes:write'), summary: 'Admit a discovered node: from now on it may be a spare or serve a tenant',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }), response: { 200: Admission, 404: ApiError, 409: ApiError },
    },
  }, async (request) => admissionToApi(await reviews.admit(request.params.id, actorOf(request))));
};
