// The image catalog, cluster templates, reimage requests and the operations
// that carry them out.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiError, CreateTemplate, Image, ImageBody, ImageList, ImageParams, NodeIdParams, Operation, OperationList, OperationParams, ReimageBatch, ReimageNode, Template,
  TemplateApplyResult, TemplateList, TemplateParams, type ReimageFailure as ApiReimageFailure,
} from '@metalfleet/api';
import { DomainError, imageLabel, parseImageRef, type ClusterTemplate, type ImageRef, type ReimageEvidence, type ReimageFailure } from '@metalfleet/domain';
import type { ClusterTemplates, Reimages } from '@metalfleet/fleet';
import type { FleetStore, OperationNodeRecord, OperationRecord } from '@metalfleet/store';
import { actorOf, needs } from './access.ts';

export interface OperationRouteDeps {
  store: FleetStore;
  reimages: Reimages;
  templates: ClusterTemplates;
  now: () => Date;
}

const GiB = 1024 ** 3;

function imageRef(text: string): ImageRef {
  const ref = parseImageRef(text);
  if (!ref) throw new DomainError('invalid-argument', `image must be name@version, not ${text}`);
  return ref;
}

function templateToApi(t: ClusterTemplate) {
  return {
    id: t.id, name: t.name, image: imageLabel(t.image), tenantId: t.tenantId, nodeCount: t.nodeCount, gpuModel: t.profile.gpuModel, gpuCount: t.profile.gpuCount,
    minMemoryGiB: t.profile.minMemoryBytes / GiB, createdAt: t.createdAt.toISOString(),
  };
}

function summaryToApi(o: OperationRecord) {
  return {
    id: o.id, kind: o.kind, state: o.state, image: imageLabel(o.image), priority: o.priority, urgent: o.urgent, actor: o.actor, reason: o.reason,
    createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString(),
  };
}

function evidenceToApi(e: ReimageEvidence) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    rebootBy: e.rebootBy, rebootAckedAt: iso(e.rebootAckedAt), powerCycledAt: iso(e.powerCycledAt),
    installBoot: e.installBoot ? { at: e.installBoot.at.toISOString(), peer: e.installBoot.peer } : null, installRegisteredAt: iso(e.installRegisteredAt), missing: e.missing, proof: e.proof,
    refused: e.refused ? { ...e.refused, at: e.refused.at.toISOString() } : null,
  };
}

/** The domain's failure as the API shows it; a domain code the API does not list fails to compile here. */
function failureToApi(f: ReimageFailure | null): ApiReimageFailure | null {
  return f === null ? null : { code: f.code, phase: f.phase, details: f.details };
}

/** `hostnames`: node id → host name, for the people who read the operation (a node gone since: ''). */
export function operationToApi(o: OperationRecord, nodes: readonly OperationNodeRecord[], hostnames: ReadonlyMap<string, string> = new Map()) {
  const count = (test: (phase: string) => boolean) => nodes.filter((n) => test(n.progress.phase)).length;
  return {
    ...summaryToApi(o),
    progress: {
      total: nodes.length, done: count((p) => p === 'done'), failed: count((p) => p === 'failed'), queued: count((p) => p === 'queued'),
      inFlight: count((p) => !['done', 'failed', 'queued'].includes(p)),
      unverified: nodes.filter((n) => n.progress.evidence.proof === 'agent-only').length,
    },
    nodes: nodes.map((n) => ({
      nodeId: n.nodeId, hostname: hostnames.get(n.nodeId) ?? '', rack: n.rack, tenant: n.tenant, phase: n.progress.phase, message: n.progress.message, powerCycles: n.progress.powerCycles,
      deadlineAt: n.progress.deadlineAt?.toISOString() ?? null, commandId: n.commandId, updatedAt: n.updatedAt.toISOString(), evidence: evidenceToApi(n.progress.evidence),
      failure: failureToApi(n.progress.failure),
    })),
  };
}

export const operationRoutes: FastifyPluginAsyncTypebox<OperationRouteDeps> = async (app, deps) => {
  const { store, reimages, templates } = deps;
  /**
   * The host names of an operation's nodes: one lookup each for a few, one listing for many. For a tenant-scoped
   * token, only of the nodes its tenant holds now: a node it had then may be another tenant's now, under a name
   * that tenant gave it (hostile review).
   */
  const hostnamesOf = async (nodes: readonly OperationNodeRecord[], scope: string | null = null): Promise<Map<string, string>> => {
    const summaries = nodes.length > 200 ? await store.listNodes() : (await Promise.all(nodes.map((n) => store.getNodeSummary(n.nodeId)))).flatMap((n) => (n ? [n] : []));
    return new Map(summaries.filter((n) => scope === null || n.tenant === scope).map((n) => [n.id, n.hostname] as const));
  };
  const operationView = async (o: OperationRecord) => {
    const nodes = await store.operationNodes(o.id);
    return operationToApi(o, nodes, await hostnamesOf(nodes));
  };
  /** A tenant-scoped token sees an operation only through its tenant's nodes in it (progress counts those alone). */
  const scopedView = async (o: OperationRecord, scope: string | null) => {
    const nodes = await store.operationNodes(o.id);
    const visible = scope === null ? nodes : nodes.filter((n) => n.tenant === scope);
    return visible.length > 0 || scope === null ? operationToApi(o, visible, await hostnamesOf(visible, scope)) : null;
  };

  app.get('/api/v1/images', { schema: { ...needs('fleet:read'), summary: 'The image catalog', response: { 200: ImageList } } }, async () => ({ items: await store.listImages() }));

  app.put('/api/v1/images/:name/:version', {
    schema: { ...needs('admin'), summary: 'Add or replace an image', params: ImageParams, body: ImageBody, response: { 200: Image, 400: ApiError } },
  }, async (request) => {
    const image = { ...request.params, ...request.body, sha256: request.body.sha256.toLowerCase() };
    if ((image.rootUrl === '') !== (image.sha256 === '')) {
      throw new DomainError('invalid-argument', 'rootUrl and sha256 go together: both for an install image, neither for a discovery image');
    }
    await store.putImage(image, deps.now());
    return image;
  });

  app.delete('/api/v1/images/:name/:version', {
    schema: { ...needs('admin'), summary: 'Remove an image from the catalog', params: ImageParams, response: { 204: { type: 'null' }, 404: ApiError } },
  }, async (request, reply) => {
    if (!(await store.deleteImage(request.params))) throw new DomainError('not-found', `no image ${imageLabel(request.params)}`);
    return reply.status(204).send(null);
  });

  app.post('/api/v1/templates', {
    schema: { ...needs('tenants:write'), summary: 'Create a cluster template', body: CreateTemplate, response: { 201: Template, 400: ApiError, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    const b = request.body;
    const template = await templates.create({
      name: b.name, image: imageRef(b.image), tenantId: b.tenantId, nodeCount: b.nodeCount,
      profile: { gpuModel: b.gpuModel, gpuCount: b.gpuCount, minMemoryBytes: Math.round(b.minMemoryGiB * GiB) },
    });
    return reply.status(201).send(templateToApi(template));
  });

  app.get('/api/v1/templates', { schema: { ...needs('fleet:read'), summary: 'Cluster templates', response: { 200: TemplateList } } }, async () => ({ items: (await store.listTemplates()).map(templateToApi) }));

  app.delete('/api/v1/templates/:id', {
    schema: { ...needs('tenants:write'), summary: 'Delete a cluster template (its nodes stay)', params: TemplateParams, response: { 204: { type: 'null' }, 404: ApiError } },
  }, async (request, reply) => {
    if (!(await store.deleteTemplate(request.params.id))) throw new DomainError('not-found', `no template ${request.params.id}`);
    return reply.status(204).send(null);
  });

  app.post('/api/v1/templates/:id/apply', {
    schema: { ...needs('tenants:write'),
      summary: 'Bring the template\'s tenant up to its size: allocate matching spares and reimage them all',
      params: TemplateParams, response: { 200: TemplateApplyResult, 404: ApiError, 409: ApiError },
    },
  }, async (request) => {
    const result = await templates.apply(request.params.id, actorOf(request));
    return { ...result, operation: result.operation ? await operationView(result.operation) : null };
  });

  app.post('/api/v1/nodes/:id/reimage', {
    schema: { ...needs('nodes:write', { tenantScoped: true }), summary: 'Reimage one node', params: NodeIdParams, body: ReimageNode, response: { 202: Operation, 400: ApiError, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    const operation = await reimages.create({
      kind: 'reimage', image: imageRef(request.body.image), nodeIds: [request.params.id], priority: request.body.priority, urgent: false, actor: actorOf(request), reason: 'operator request',
    });
    return reply.status(202).send(await operationView(operation));
  });

  app.post('/api/v1/reimage', {
    schema: { ...needs('nodes:write'), summary: 'Reimage many nodes (ids and/or a selector), within the concurrency limits', body: ReimageBatch, response: { 202: Operation, 400: ApiError, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    const { nodeIds = [], selector, image, priority, reason } = request.body;
    const selected = selector
      ? (await store.listNodes()).filter((n) => (n.state === 'allocated' || n.state === 'active')
        && (selector.state === undefined || n.state === selector.state) && (selector.tenant === undefined || n.tenant === selector.tenant)
        && (selector.rack === undefined || n.rack === selector.rack) && (selector.gpuModel === undefined || n.gpuModel === selector.gpuModel)).map((n) => n.id)
      : [];
    const ids = [...new Set([...nodeIds, ...selected])];
    if (ids.length === 0) throw new DomainError('invalid-argument', 'no node matches: give nodeIds or a selector that matches allocated or active nodes');
    const operation = await reimages.create({ kind: 'reimage', image: imageRef(image), nodeIds: ids, priority, urgent: false, actor: actorOf(request), reason });
    return reply.status(202).send(await operationView(operation));
  });

  app.get('/api/v1/operations', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Operations, newest first (a tenant-scoped token: those on its nodes)', response: { 200: OperationList } },
  }, async (request) => {
    const scope = request.principal?.tenantId ?? null;
    const operations = await store.listOperations(200);
    const visible = scope === null ? operations : (await Promise.all(operations.map(async (o) => ((await scopedView(o, scope)) ? o : null)))).filter((o) => o !== null);
    return { items: visible.map(summaryToApi) };
  });

  app.get('/api/v1/operations/:id', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'An operation with each node\'s phase', params: OperationParams, response: { 200: Operation, 404: ApiError } },
  }, async (request) => {
    const operation = await store.getOperation(request.params.id);
    const view = operation ? await scopedView(operation, request.principal?.tenantId ?? null) : null;
    if (!view) throw new DomainError('not-found', `no operation ${request.params.id}`);
    return view;
  });
};
