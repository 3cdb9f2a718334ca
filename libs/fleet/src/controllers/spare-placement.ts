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

/** `operationId` null: the spare's reimage was made before (a placement finished after its placer died). */
export type Placement = { ok: true; spareId: string; sameRack: boolean; operationId: string | null } | { ok: false; reason: string };

/** The replacement reimage of a spare given to the tenant. */
const replacementReimage = (failed: { id: string; hostname: string }, tenantId: string, template: ClusterTemplate, spareId: string, actor: string, why: string) => ({
  kind: 'replace-node' as const, image: template.image, nodeIds: [spareId], priority: 100, urgent: true, actor,
  reason: `replaces ${failed.id} (${failed.hostname}) in tenant ${tenantId}: ${why}`,
});

/**
 * Places a spare. `onPicked` is told each spare before it is given to the tenant (the debt notes it: a placer that
 * dies before the spare's reimage leaves it for the next to finish, with finishPlacement).
 */
export async function placeSpare(
  deps: SparePlacementDeps, failed: { id: string; rack: string; hostname: string }, tenantId: string, template: ClusterTemplate, actor: string, why: string,
  onPicked: (spareId: string) => Promise<void> = async () => undefined,
): Promise<Placement> {
  // Failures on several replicas' shards at once (a rack losing power) may pick the same spare: the one that gets
  // it first keeps it, and the others pick again among the rest.
  const pickedByOthers = new Set<string>();
  // An image that cannot be installed (gone from the catalog) is found before a spare is taken: every spare would
  // fail the same way.
  const refused = await deps.reimages.imageRefusal(template.image);
  if (refused) return { ok: false, reason: `the template's image cannot be installed: ${refused.message}` };
  for (let attempt = 0; attempt < maxSparePicks; attempt += 1) {
    const pick = pickSpare({ id: failed.id, rack: failed.rack }, template.profile, (await spareCandidates(deps.store, deps.acceptanceRequired)).filter((c) => !pickedByOthers.has(c.id)));
    if (!pick.ok) return pick;
    await onPicked(pick.spareId);
    try {
      await deps.tenants.allocateNode(tenantId, pick.spareId, actor);
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'conflict') throw error;
      pickedByOthers.add(pick.spareId);
      continue;
    }
    const operation = await deps.reimages.create(replacementReimage(failed, tenantId, template, pick.spareId, actor, why)).catch(async (error: unknown) => {
      // Not to be left with the tenant without its image (counted as serving, it would settle the debt): released, it
      // is wiped before anyone gets it, and the replacement stays owed. (A deterministic refusal, the image, was
      // checked above: this is a fault, and does not repeat for every spare.)
      await deps.tenants.releaseNode(tenantId, pick.spareId, actor).catch(() => undefined);
      throw error;
    });
    return { ok: true, spareId: pick.spareId, sameRack: pick.sameRack, operationId: operation.id };
  }
  return { ok: false, reason: `${maxSparePicks} spares picked in turn were each taken by another replacement first` };
}

/**
 * Finishes the placement of a spare an earlier placer gave (or was about to give) the tenant: its reimage made if it
 * has none. Null when the spare is not the tenant's (never given, or taken back): a spare is to be picked again.
 */
export async function finishPlacement(
  deps: SparePlacementDeps, failed: { id: string; rack: string; hostname: string }, tenantId: string, template: ClusterTemplate, actor: string, why: string, spareId: string,
): Promise<Placement | null> {
  const spare = await deps.store.getNodeSummary(spareId);
  if (!spare || spare.tenant !== tenantId) return null;
  const sameRack = spare.rack === failed.rack;
  try {
    const operation = await deps.reimages.create(replacementReimage(failed, tenantId, template, spareId, actor, why));
    return { ok: true, spareId, sameRack, operationId: operation.id };
  } catch (error) {
    // Held by an operation already (the earlier placer's, its answer lost), or past allocated (being reimaged, or
    // failed and owed a replacement of its own): placed.
    if (error instanceof DomainError && error.code === 'conflict') return { ok: true, spareId, sameRack, operationId: null };
    throw error;
  }
}
