// Tenants and their nodes. A tenant gets a VLAN and a VNI from the configured
// pools; allocating a node moves it through the lifecycle (available →
// allocated) and records its tenant. The fabric reconciler turns that into
// port configuration: the node's port opens to the tenant only once the node
// is active, that is wiped and reimaged for it.
import { DomainError, allocateId, type IdPool } from '@metalfleet/domain';
import type { FleetStore, TenantRecord } from '@metalfleet/store';
import type { FleetEvent, FleetEvents } from '../events/fleet-events.ts';
import { encodeEvent } from '../events/event-journal.ts';
import type { Lifecycle } from '../controllers/lifecycle.ts';

export interface TenantPools {
  vlans: IdPool;
  vnis: IdPool;
  /** The provisioning network's VLAN: never a tenant's. */
  provisioningVlan: number;
}

export interface TenantDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  now: () => Date;
  newId: () => string;
  pools: TenantPools;
  /** VLANs some switch port still carries (from the reconciler's last look): a released VLAN is reused only once it is gone from every port. */
  vlansOnPorts: () => ReadonlySet<number>;
}

const tenantName = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function createTenants(deps: TenantDeps) {
  async function tenantOrFail(tenantId: string): Promise<TenantRecord> {
    const tenant = await deps.store.getTenant(tenantId);
    if (!tenant) throw new DomainError('not-found', `no tenant ${tenantId}`);
    return tenant;
  }

  return {
    async create(name: string): Promise<TenantRecord> {
      if (!tenantName.test(name)) throw new DomainError('invalid-argument', `tenant name "${name}" must be 1-63 lowercase letters, digits or dashes`);
      // Two creations racing for one id: the store's unique keys refuse the second; try the next free id.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const existing = await deps.store.listTenants();
        if (existing.some((t) => t.name === name)) throw new DomainError('conflict', `a tenant named ${name} already exists`);
        const vlan = allocateId(deps.pools.vlans, {
          allocated: new Set(existing.map((t) => t.vlan)), onPorts: deps.vlansOnPorts(), reserved: new Set([deps.pools.provisioningVlan]),
        });
        const vni = allocateId(deps.pools.vnis, { allocated: new Set(existing.map((t) => t.vni)), onPorts: new Set() });
        const tenant: TenantRecord = { id: deps.newId(), name, vlan, vni, createdAt: deps.now() };
        const created: FleetEvent = { type: 'tenant-created', tenantId: tenant.id, name, vlan, vni, at: tenant.createdAt };
        try {
          await deps.store.createTenant(tenant, [encodeEvent(created)]);
        } catch (error) {
          if (error instanceof DomainError && error.code === 'conflict') continue;
          throw error;
        }
        deps.events.emit(created, { journaled: true });
        return tenant;
      }
      throw new DomainError('conflict', `could not allocate a VLAN and VNI for ${name}: other tenants were created at the same time; try again`);
    },

    async remove(tenantId: string): Promise<void> {
      const deleted: FleetEvent = { type: 'tenant-deleted', tenantId, at: deps.now() };
      if (!(await deps.store.deleteTenant(tenantId, [encodeEvent(deleted)]))) throw new DomainError('not-found', `no tenant ${tenantId}`);
      deps.events.emit(deleted, { journaled: true });
    },

    /** available → allocated, for this tenant. */
    async allocateNode(tenantId: string, nodeId: string, actor: string): Promise<void> {
      await tenantOrFail(tenantId);
      const node = await deps.store.getNodeSummary(nodeId);
      if (!node) throw new DomainError('not-found', `no node ${nodeId}`);
      if (node.tenant !== null) throw new DomainError('conflict', `node ${nodeId} already belongs to tenant ${node.tenant}`);
      if (node.state !== 'available') throw new DomainError('conflict', `node ${nodeId} is ${node.state}; only an available node can be allocated`);
      if ((await deps.store.getAdmission(nodeId))?.state === 'pending') {
        throw new DomainError('conflict', `node ${nodeId} was discovered through the boot endpoint and waits for an operator to admit it (POST /api/v1/nodes/${nodeId}/admit)`);
      }
      // The tenant first: a node allocated without one would be nobody's. Given only if no other tenant was given it
      // meanwhile (two replacements racing for one spare), and taken back, from this tenant only, if the transition
      // loses a race.
      if (!(await deps.store.giveNodeToTenant(nodeId, tenantId))) throw new DomainError('conflict', `node ${nodeId} was just given to another tenant`);
      const given: FleetEvent = { type: 'node-tenant-changed', nodeId, tenantId, previous: null, at: deps.now() };
      const result = await deps.lifecycle.apply(nodeId, 'allocate', actor, `allocated to tenant ${tenantId}`, { alongside: [given] }).catch(async (error: unknown) => {
        // Not allocated (the store went away meanwhile): not left with a tenant either, or no one could allocate it again.
        await deps.store.takeNodeFromTenant(nodeId, tenantId).catch(() => undefined);
        throw error;
      });
      if (!result.ok) {
        await deps.store.takeNodeFromTenant(nodeId, tenantId);
        throw new DomainError('conflict', result.reason);
      }
    },

    /**
     * Takes a node away from its tenant: its port leaves the tenant's network at
     * once (releasing → provisioning network), and the node waits there to be
     * wiped before it can serve anyone else.
     */
    async releaseNode(tenantId: string, nodeId: string, actor: string): Promise<void> {
      const node = await deps.store.getNodeSummary(nodeId);
      if (!node || node.tenant !== tenantId) throw new DomainError('not-found', `tenant ${tenantId} has no node ${nodeId}`);
      const result = await deps.lifecycle.apply(nodeId, 'release', actor, `released from tenant ${tenantId}`);
      if (!result.ok) throw new DomainError('conflict', result.reason);
      const taken: FleetEvent = { type: 'node-tenant-changed', nodeId, tenantId: null, previous: tenantId, at: deps.now() };
      if (await deps.store.setNodeTenant(nodeId, null, [encodeEvent(taken)])) deps.events.emit(taken, { journaled: true });
    },
  };
}

export type Tenants = ReturnType<typeof createTenants>;
