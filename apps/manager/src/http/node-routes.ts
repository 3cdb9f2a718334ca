import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, FleetSummary, GpuHealthMap, NodeCommandList, NodeDetail, NodeHealth, NodeHealthQuery, NodeHistory, NodeIdParams, NodeList, NodeListQuery, TelemetryQuery, TelemetrySeries } from '@metalfleet/api';
import type { TelemetryReader } from '@metalfleet/telemetry';
import { DomainError, gpuHealthCells, nodeStates, queryNodes, summarizeNodes } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { nodeDetailToApi, nodeHealthToApi, nodeSummaryToApi } from './node-mapper.ts';
import { needs } from './access.ts';

const rangeMs = { '1h': 3600_000, '6h': 6 * 3600_000, '24h': 24 * 3600_000 } as const;

/** What a tenant-scoped caller may see of a node's data: from the start of its current allocation on (access.ts). */
const from = (since: Date | null) => <T>(items: readonly T[], at: (item: T) => Date): T[] => (since === null ? [...items] : items.filter((i) => at(i) >= since));

export const nodeRoutes: FastifyPluginAsyncTypebox<{ store: FleetStore; telemetry: TelemetryReader; now: () => Date }> = async (app, { store, telemetry, now }) => {
  app.get('/api/v1/nodes', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'List nodes: filters, free-text search and paging', querystring: NodeListQuery, response: { 200: NodeList, 400: ApiError } },
  }, async (request) => {
    const { offset, limit, ...filter } = request.query;
    // A tenant-scoped token lists its tenant's nodes, whatever tenant it asks for.
    const tenant = request.principal?.tenantId;
    // A search finds a tenant's nodes by its name too (a tenant-scoped token searches its own nodes only).
    const tenantNames = filter.q ? new Map((await store.listTenants()).map((t) => [t.id, t.name])) : new Map<string, string>();
    const page = queryNodes(await store.listNodes(), tenant ? { ...filter, tenant } : filter, offset, limit, tenantNames);
    return { ...page, items: page.items.map(nodeSummaryToApi) };
  });

  app.get('/api/v1/summary', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Nodes by state, presence and worst health (a tenant-scoped token: its tenant\'s)', response: { 200: FleetSummary } },
  }, async (request) => {
    const tenant = request.principal?.tenantId;
    const nodes = await store.listNodes();
    return summarizeNodes(tenant ? nodes.filter((n) => n.tenant === tenant) : nodes, nodeStates);
  });

  app.get('/api/v1/nodes/:id', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'One node with its inventory, health conditions and lifecycle history', params: NodeIdParams, response: { 200: NodeDetail, 400: ApiError, 404: ApiError } },
  }, async (request) => {
    const node = await store.getNode(request.params.id);
    if (!node) throw new DomainError('not-found', `no node ${request.params.id}`);
    return nodeDetailToApi(node, await store.conditions(node.id), from(request.nodeDataSince)(await store.history(node.id), (t) => t.at));
  });

  app.get('/api/v1/nodes/:id/health', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'A node\'s health conditions and its latest health events', params: NodeIdParams, querystring: NodeHealthQuery, response: { 200: NodeHealth, 400: ApiError, 404: ApiError } },
  }, async (request) => {
    const { id } = request.params;
    if (!(await store.getNodeSummary(id))) throw new DomainError('not-found', `no node ${id}`);
    // Its conditions are the machine's as it is now; its events, by when the manager received them.
    return nodeHealthToApi(await store.conditions(id), from(request.nodeDataSince)(await store.healthEvents(id, request.query.events ?? 100), (e) => e.receivedAt));
  });

  app.get('/api/v1/nodes/:id/history', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'A node\'s lifecycle transitions with their causes, oldest first', params: NodeIdParams, response: { 200: NodeHistory, 400: ApiError, 404: ApiError } },
  }, async (request) => {
    const { id } = request.params;
    if (!(await store.getNodeSummary(id))) throw new DomainError('not-found', `no node ${id}`);
    return { items: from(request.nodeDataSince)(await store.history(id), (t) => t.at).map((t) => ({ ...t, at: t.at.toISOString() })) };
  });

  app.get('/api/v1/nodes/:id/commands', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'A node\'s last 50 commands (reimage, reboot, GPU reset) and their results, newest first', params: NodeIdParams, response: { 200: NodeCommandList, 400: ApiError, 404: ApiError } },
  }, async (request) => {
    const { id } = request.params;
    if (!(await store.getNodeSummary(id))) throw new DomainError('not-found', `no node ${id}`);
    return { items: from(request.nodeDataSince)(await store.commandsOf(id, 50), (c) => c.createdAt).map((c) => ({ ...c, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() })) };
  });

  app.get('/api/v1/gpu-health', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Every node\'s GPUs by worst condition, by rack (the heatmap); healthy nodes cost no lookup', response: { 200: GpuHealthMap } },
  }, async (request) => {
    const tenant = request.principal?.tenantId;
    const nodes = (await store.listNodes()).filter((n) => n.state !== 'retired' && (!tenant || n.tenant === tenant));
    const items = [];
    for (const n of nodes) {
      const healthy = n.health.severity === 'ok';
      const inventory = healthy ? null : (await store.getNode(n.id))?.inventory ?? null;
      const cells = gpuHealthCells(inventory?.gpus ?? [], n.gpuCount, healthy ? [] : await store.conditions(n.id));
      items.push({ nodeId: n.id, hostname: n.hostname, rack: n.rack, tenant: n.tenant, state: n.state, ...cells });
    }
    return { items: items.sort((a, b) => a.rack.localeCompare(b.rack) || a.hostname.localeCompare(b.hostname)) };
  });

  app.get('/api/v1/nodes/:id/telemetry', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'A telemetry series of a node or one of its GPUs (1-minute buckets for the last hour, 15-minute for the day)', params: NodeIdParams, querystring: TelemetryQuery, response: { 200: TelemetrySeries, 400: ApiError, 404: ApiError } },
  }, async (request) => {
    const { id } = request.params;
    if (!(await store.getNodeSummary(id))) throw new DomainError('not-found', `no node ${id}`);
    const { metric, gpu, range } = request.query;
    const to = now();
    const since = request.nodeDataSince;
    const start = Math.max(to.getTime() - rangeMs[range], since?.getTime() ?? 0);
    // A bucket that began before the allocation holds the previous tenant's samples too: only whole buckets of this one.
    const points = from(since)(await telemetry.series({ nodeId: id, metric, gpu: gpu ?? null, from: new Date(start), to }), (p) => p.at);
    return { metric, gpu: gpu ?? null, points: points.map((p) => ({ ...p, at: p.at.toISOString() })) };
  });
};
