// What an operator decides about who joins the fleet: identity conflicts
// (approve as a node, or reject) and discovered machines waiting to be admitted.
import { DomainError } from '@metalfleet/domain';
import type { AdmissionRecord, ConflictStatus, FleetStore, IdentityConflictRecord } from '@metalfleet/store';

export function createIdentityReviews(deps: { store: FleetStore; now: () => Date }) {
  async function openConflict(id: string, from: readonly ConflictStatus[] = ['open']): Promise<IdentityConflictRecord> {
    const conflict = await deps.store.getConflict(id);
    if (!conflict) throw new DomainError('not-found', `no identity conflict ${id}`);
    if (!from.includes(conflict.status)) throw new DomainError('conflict', `identity conflict ${id} is ${conflict.status} already`);
    return conflict;
  }

  async function resolved(id: string): Promise<IdentityConflictRecord> {
    const conflict = await deps.store.getConflict(id);
    if (!conflict) throw new DomainError('not-found', `no identity conflict ${id}`);
    return conflict;
  }

  return {
    conflicts: (status?: ConflictStatus) => deps.store.listConflicts(status ? { status } : {}),

    /** The machine is `nodeId` (one the conflict names): its next registration gets that node's id and a fresh credential, once. A rejected conflict may still be approved. */
    async approve(id: string, nodeId: string | undefined, actor: string): Promise<IdentityConflictRecord> {
      const conflict = await openConflict(id, ['open', 'rejected']);
      if (conflict.kind === 'shared-credential') {
        throw new DomainError('invalid-argument', `identity conflict ${id} is two agents with node ${conflict.nodeIds.join(', ')}'s credential: there is no machine to approve; stop the second agent (or wipe the cloned disk's /var/lib/metalfleet), then reject the conflict to close it`);
      }
      const target = nodeId ?? (conflict.nodeIds.length === 1 ? conflict.nodeIds[0] : undefined);
      if (target === undefined) throw new DomainError('invalid-argument', `identity conflict ${id} names ${conflict.nodeIds.join(', ')}: say which node the machine is (nodeId)`);
      if (!conflict.nodeIds.includes(target)) throw new DomainError('invalid-argument', `identity conflict ${id} is about ${conflict.nodeIds.join(', ')}, not ${target}`);
      if (!(await deps.store.getNodeSummary(target))) throw new DomainError('not-found', `no node ${target}`);
      if (!(await deps.store.resolveConflict(id, { status: 'approved', nodeId: target, by: actor, at: deps.now() }))) throw new DomainError('conflict', `identity conflict ${id} was resolved meanwhile`);
      return resolved(id);
    },

    /** A registration conflict: the machine gets nothing and stays refused. A shared credential: closed (found again, it is a new one). */
    async reject(id: string, actor: string): Promise<IdentityConflictRecord> {
      await openConflict(id);
      if (!(await deps.store.resolveConflict(id, { status: 'rejected', nodeId: null, by: actor, at: deps.now() }))) throw new DomainError('conflict', `identity conflict ${id} was resolved meanwhile`);
      return resolved(id);
    },

    admissions: (state?: AdmissionRecord['state']) => deps.store.listAdmissions(state ? { state } : {}),

    /** A discovered node may serve (spare, tenant) from now on. */
    async admit(nodeId: string, actor: string): Promise<AdmissionRecord> {
      if (!(await deps.store.getNodeSummary(nodeId))) throw new DomainError('not-found', `no node ${nodeId}`);
      const admission = await deps.store.getAdmission(nodeId);
      if (admission?.state !== 'pending') throw new DomainError('conflict', `node ${nodeId} is not waiting for admission`);
      const record: AdmissionRecord = { nodeId, state: 'admitted', via: 'operator', actor, at: deps.now() };
      await deps.store.setAdmission(record);
      return record;
    },
  };
}

export type IdentityReviews = ReturnType<typeof createIdentityReviews>;
