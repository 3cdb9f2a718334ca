// Tenants, their nodes and the switch ports that follow from them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AllocateNode, ApiError, CreateTenant, FabricStatus, LifecycleReport, NodeIdParams, PlannedLinkBody, PortParams, Tenant, TenantList, TenantNodeParams, TenantParams,
  type PortState,
} from '@metalfleet/api';
import { DomainError, type LifecycleEvent, type NodeSummary } from '@metalfleet/domain';
import type { FabricDriver } from '@metalfleet/fabric';
import type { FabricReconciler, Lifecycle, PortStatus, Tenants } from '@metalfleet/fleet';
import type { FleetStore, TenantRecord } from '@metalfleet/store';
import { actorOf, needs } from './access.ts';

export interface FabricRouteDeps {
  store: FleetStore;
  tenants: Tenants;
  reconciler: FabricReconciler;
  lifecycle: Lifecycle;
  drivers: readonly FabricDriver[];
  provisioningVlan: number;
}

function portToApi(p: PortStatus): PortState {
  return { switchName: p.switchName, port: p.port, nodeId: p.nodeId, role: p.role, desiredVlan: p.vlan, actualVlan: p.actualVlan, drift: !p.inSync, why: p.why };
}

export const fabricRoutes: FastifyPluginAsyncTypebox<FabricRouteDeps> = async (app, deps) => {
  const { store, tenants, reconciler } = deps;

  /** `nodes`: the fleet's node list, read once for however many tenants are shown. */
  function tenantToApi(t: TenantRecord, nodes: readonly NodeSummary[]) {
    const mine = nodes.filter((n) => n.tenant === t.id);
    const ids = new Set(mine.map((n) => n.id));
    return {
      id: t.id, name: t.name, vlan: t.vlan, vni: t.vni, createdAt: t.createdAt.toISOString(),
      nodes: mine.map((n) => ({ id: n.id, hostname: n.hostname, state: n.state })),
      ports: reconciler.view().ports.filter((p) => ids.has(p.nodeId)).map(portToApi),
    };
  }

  async function showTenant(id: string) {
    return tenantToApi(await tenantOr404(id), await store.listNodes());
  }

  async function tenantOr404(id: string): Promise<TenantRecord> {
    const tenant = await store.getTenant(id);
    if (!tenant) throw new DomainError('not-found', `no tenant ${id}`);
    return tenant;
  }

  app.post('/api/v1/tenants', {
    schema: { ...needs('tenants:write'), summary: 'Create a tenant: it gets its own VLAN and VNI from the pools', body: CreateTenant, response: { 201: Tenant, 400: ApiError, 409: ApiError } },
  }, async (request, reply) => reply.status(201).send(tenantToApi(await tenants.create(request.body.name), [])));

  app.get('/api/v1/tenants', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Tenants with their VLAN/VNI, nodes and ports (a tenant-scoped token: its own)', response: { 200: TenantList } },
  }, async (request) => {
    const nodes = await store.listNodes();
    const scope = request.principal?.tenantId ?? null;
    return { items: (await store.listTenants()).filter((t) => scope === null || t.id === scope).map((t) => tenantToApi(t, nodes)) };
  });

  app.get('/api/v1/tenants/:id', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'One tenant with its VLAN/VNI, nodes and ports (desired vs actual)', params: TenantParams, response: { 200: Tenant, 404: ApiError } },
  }, async (request) => {
    // Another tenant does not exist for a tenant-scoped token.
    const scope = request.principal?.tenantId ?? null;
    if (scope !== null && scope !== request.params.id) throw new DomainError('not-found', `no tenant ${request.params.id}`);
    return showTenant(request.params.id);
  });

  app.delete('/api/v1/tenants/:id', {
    schema: { ...needs('tenants:write'), summary: 'Delete a tenant that has no nodes left', params: TenantParams, response: { 204: { type: 'null' }, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    await tenants.remove(request.params.id);
    return reply.status(204).send(null);
  });

  app.post('/api/v1/tenants/:id/nodes', {
    schema: { ...needs('tenants:write'), summary: 'Allocate an available node to the tenant', params: TenantParams, body: AllocateNode, response: { 200: Tenant, 400: ApiError, 404: ApiError, 409: ApiError } },
  }, async (request) => {
    await tenants.allocateNode(request.params.id, request.body.nodeId, actorOf(request));
    await reconciler.reconcile();
    return showTenant(request.params.id);
  });

  app.delete('/api/v1/tenants/:id/nodes/:nodeId', {
    schema: { ...needs('tenants:write'), summary: 'Release a node: it leaves the tenant\'s network at once', params: TenantNodeParams, response: { 200: Tenant, 404: ApiError, 409: ApiError } },
  }, async (request) => {
    await tenants.releaseNode(request.params.id, request.params.nodeId, actorOf(request));
    await reconciler.reconcile();
    return showTenant(request.params.id);
  });

  // Not for tenant-scoped tokens: `provisioned` makes a node active (its port
  // on the tenant's VLAN) without the wipe and reimage that attest it, so a
  // tenant could keep the previous tenant's disk, or its own OS, on its node.
  // Unscoped operators and admins may still report a step the manager cannot
  // see (a node without an agent yet); the audit log names who and what.
  app.post('/api/v1/nodes/:id/lifecycle', {
    schema: { ...needs('nodes:write'),
      summary: 'Report a provisioning step by hand (until reimaging reports it); not for tenant-scoped tokens', params: NodeIdParams, body: LifecycleReport,
      response: { 204: { type: 'null' }, 400: ApiError, 403: ApiError, 404: ApiError, 409: ApiError },
    },
  }, async (request, reply) => {
    request.auditDetail = `node ${request.params.id} lifecycle ${request.body.event}`;
    if (!(await store.getNodeSummary(request.params.id))) throw new DomainError('not-found', `no node ${request.params.id}`);
    const result = await deps.lifecycle.apply(request.params.id, request.body.event satisfies LifecycleEvent, actorOf(request), request.body.reason);
    if (!result.ok) throw new DomainError('conflict', result.reason);
    await reconciler.reconcile();
    return reply.status(204).send(null);
  });

  app.get('/api/v1/fabric', {
    schema: { ...needs('fleet:read'), summary: 'Every managed switch port: desired vs actual VLAN, drift, errors and cabling warnings', response: { 200: FabricStatus } },
  }, async () => {
    const view = reconciler.view();
    return {
      checkedAt: view.at?.toISOString() ?? null, provisioningVlan: deps.provisioningVlan,
      switches: deps.drivers.map((d) => ({ name: d.switchName, kind: d.kind })),
      ports: view.ports.map(portToApi), errors: view.errors, cablingWarnings: view.cablingWarnings, driftRepairs: view.driftRepairs,
    };
  });

  app.put('/api/v1/fabric/links/:switchName/:port', {
    schema: { ...needs('admin'), summary: 'Plan which node NIC is cabled to a switch port (wins over LLDP)', params: PortParams, body: PlannedLinkBody, response: { 204: { type: 'null' }, 400: ApiError, 404: ApiError } },
  }, async (request, reply) => {
    const { switchName, port } = request.params;
    if (!deps.drivers.some((d) => d.switchName === switchName)) throw new DomainError('not-found', `no managed switch ${switchName}`);
    if (!(await store.getNodeSummary(request.body.nodeId))) throw new DomainError('not-found', `no node ${request.body.nodeId}`);
    await store.setPlannedLink(switchName, port, { nodeId: request.body.nodeId, mac: request.body.mac });
    await reconciler.reconcile();
    return reply.status(204).send(null);
  });

  app.delete('/api/v1/fabric/links/:switchName/:port', {
    schema: { ...needs('admin'), summary: 'Unmap a port: remove its planned link and every learned claim on it (trusted ones stay until this)', params: PortParams, response: { 204: { type: 'null' } } },
  }, async (request, reply) => {
    request.auditDetail = `port ${request.params.switchName}/${request.params.port}`;
    await store.forgetPort(request.params.switchName, request.params.port);
    await reconciler.reconcile();
    return reply.status(204).send(null);
  });
};
