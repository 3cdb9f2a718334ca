// Replacements owed to tenants: a tenant node failed when no spare fit the
// tenant's template (lifecycle-effects.ts). Retried now and then by the
// replica doing the reimaging, oldest debt first, each made at most once (the
// debt is taken before its spare is allocated; one whose spare another
// replacement took first is owed again).
import { pickSpare } from '@metalfleet/domain';
import type { FleetStore, OwedReplacement } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { ClusterTemplates } from '../services/cluster-templates.ts';
import { servingStates } from '../services/cluster-templates.ts';
import { spareCandidates } from '../services/spares.ts';
import { placeSpare, type SparePlacementDeps } from './spare-placement.ts';

export interface OwedReplacementDeps extends SparePlacementDeps {
  store: FleetStore;
  events: FleetEvents;
  templates: ClusterTemplates;
  now: () => Date;
}

export function createOwedReplacements(deps: OwedReplacementDeps) {
  const report = (owed: OwedReplacement, outcome: string) =>
    deps.events.emit({ type: 'remediation', nodeId: owed.failedNodeId, action: 'replace', reason: owed.reason, outcome, at: deps.now() });

  return {
    /** Makes the replacements owed that a spare now fits; answers how many were made. */
    async retry(): Promise<number> {
      let made = 0;
      const owedNow = await deps.store.owedReplacements();
      if (owedNow.length === 0) return 0;
      // Looked at once a pass, before any debt is taken: with no spare to fit, nothing is written.
      const candidates = await spareCandidates(deps.store, deps.acceptanceRequired);
      // Each tenant's serving nodes now: a debt to a tenant back at its template's size (an operator added a node,
      // the failed one came back to it) is settled by that, not by a node more.
      const members = new Map<string, number>();
      for (const n of await deps.store.listNodes()) if (n.tenant !== null && servingStates.has(n.state)) members.set(n.tenant, (members.get(n.tenant) ?? 0) + 1);
      const drop = async (owed: OwedReplacement, why: string) => {
        if (await deps.store.takeOwedReplacement(owed.failedNodeId, owed.tenantId)) report(owed, `no replacement: ${why}; the replacement owed since ${owed.at.toISOString()} is dropped`);
      };
      for (const owed of owedNow) {
        const template = await deps.templates.forTenant(owed.tenantId);
        if (!template) {
          await drop(owed, `tenant ${owed.tenantId} has no template any more (or is gone)`);
          continue;
        }
        const serving = members.get(owed.tenantId) ?? 0;
        if (serving >= template.nodeCount) {
          await drop(owed, `tenant ${owed.tenantId} has its template's ${template.nodeCount} nodes again (${serving} serving)`);
          continue;
        }
        const failed = await deps.store.getNodeSummary(owed.failedNodeId);
        if (!pickSpare({ id: owed.failedNodeId, rack: failed?.rack ?? '' }, template.profile, candidates).ok) continue;
        if (!(await deps.store.takeOwedReplacement(owed.failedNodeId, owed.tenantId))) continue; // another replica took it
        const placed = await placeSpare(deps, { id: owed.failedNodeId, rack: failed?.rack ?? '', hostname: failed?.hostname ?? '' }, owed.tenantId, template, owed.actor, owed.reason)
          .catch(async (error: unknown) => {
            await deps.store.oweReplacement(owed);
            throw error;
          });
        if (!placed.ok) {
          await deps.store.oweReplacement(owed);
          continue;
        }
        made += 1;
        members.set(owed.tenantId, serving + 1);
        report(owed, `replaced by ${placed.spareId}${placed.sameRack ? ' (same rack)' : ''} (owed since ${owed.at.toISOString()}), reimaging in operation ${placed.operationId}`);
      }
      return made;
    },
  };
}

export type OwedReplacements = ReturnType<typeof createOwedReplacements>;
