// A spare in a failed tenant node's place: picked by the tenant's template
// (same rack first), allocated to the tenant and reimaged with its image.
// Used by a failure's effects (lifecycle-effects.ts) and, where no spare fit
// then, by the retry of the replacements owed (owed-replacements.ts).
import { DomainError, pickSpare, type ClusterTemplate } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { spareCandidates } from '../services/spares.ts';
import type { Tenants } from '../services/tenants.ts';
import type { Reimages } from './reimages.ts';

/** Spares tried in turn for one replacement when others take them first. */
const maxSparePicks = 5;

export interface SparePlacementDeps {
  store: FleetStore;
  tenants: Tenants;
  reimages: Reimages;
  /** Only nodes whose latest acceptance run passed replace a failed one (--acceptance on). */
  acceptanceRequired?: boolean | undefined;
}

export type Placement = { ok: true; spareId: string; sameRack: boolean; operationId: string } | { ok: false; reason: string };

export async function placeSpare(
  deps: SparePlacementDeps, failed: { id: string; rack: string; hostname: string }, tenantId: string, template: ClusterTemplate, actor: string, why: string,
): Promise<Placement> {
  // Failures on several replicas' shards at once (a rack losing power) may pick the same spare: the one that gets
  // it first keeps it, and the others pick again among the rest.
  const pickedByOthers = new Set<string>();
  for (let attempt = 0; attempt < maxSparePicks; attempt += 1) {
    const pick = pickSpare({ id: failed.id, rack: failed.rack }, template.profile, (await spareCandidates(deps.store, deps.acceptanceRequired)).filter((c) => !pickedByOthers.has(c.id)));
    if (!pick.ok) return pick;
    try {
      await deps.tenants.allocateNode(tenantId, pick.spareId, actor);
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'conflict') throw error;
      pickedByOthers.add(pick.spareId);
      continue;
    }
    const operation = await deps.reimages.create({
      kind: 'replace-node', image: template.image, nodeIds: [pick.spareId], priority: 100, urgent: true, actor,
      reason: `replaces ${failed.id} (${failed.hostname}) in tenant ${tenantId}: ${why}`,
    }).catch(async (error: unknown) => {
      // Not to be left with the tenant without its image (counted as serving, it would settle the debt): released, it
      // is wiped before anyone gets it, and the replacement stays owed.
      await deps.tenants.releaseNode(tenantId, pick.spareId, actor).catch(() => undefined);
      throw error;
    });
    return { ok: true, spareId: pick.spareId, sameRack: pick.sameRack, operationId: operation.id };
  }
  return { ok: false, reason: `${maxSparePicks} spares picked in turn were each taken by another replacement first` };
}
