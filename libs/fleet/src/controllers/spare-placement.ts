// A spare in a failed tenant node's place: picked by the tenant's template
// (same rack first), allocated to the tenant and reimaged with its image.
// Used by a failure's effects (lifecycle-effects.ts) and, where no spare fit
// then, by the retry of the replacements owed (owed-replacements.ts).
import { DomainError, pickSpare, type ClusterTemplate, type NodeState } from '@metalfleet/domain';
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

/** Where a debt notes the spare its placer is giving the tenant (owed-replacements.ts). */
export interface SpareNotes {
  /** Notes the spare before it is given; false when another debt has noted it (it is that debt's to give). */
  note(spareId: string): Promise<boolean>;
  /** No spare given after all: the note is taken back. */
  clear(): Promise<void>;
}

const noNotes: SpareNotes = { note: async () => true, clear: async () => undefined };

/**
 * Places a spare: picked, noted (`notes`), given to the tenant, and its reimage made. A placer that dies or fails
 * after the note leaves the spare for the next to finish (finishPlacement), never a second spare.
 */
export async function placeSpare(
  deps: SparePlacementDeps, failed: { id: string; rack: string; hostname: string }, tenantId: string, template: ClusterTemplate, actor: string, why: string,
  notes: SpareNotes = noNotes,
): Promise<Placement> {
  // Failures on several replicas' shards at once (a rack losing power) may pick the same spare: the one that gets
  // it first keeps it, and the others pick again among the rest.
  const pickedByOthers = new Set<string>();
  // An image that cannot be installed (gone from the catalog) is found before a spare is taken: every spare would
  // fail the same way.
  const refused = await deps.reimages.imageRefusal(template.image);
  if (refused) {
    // A spare noted before (its placer died before giving it) is not held for a debt that cannot take it.
    await notes.clear();
    return { ok: false, reason: `the template's image cannot be installed: ${refused.message}` };
  }
  for (let attempt = 0; attempt < maxSparePicks; attempt += 1) {
    const pick = pickSpare({ id: failed.id, rack: failed.rack }, template.profile, (await spareCandidates(deps.store, deps.acceptanceRequired)).filter((c) => !pickedByOthers.has(c.id)));
    if (!pick.ok) {
      await notes.clear();
      return pick;
    }
    if (!(await notes.note(pick.spareId))) {
      pickedByOthers.add(pick.spareId);
      continue;
    }
    try {
      await deps.tenants.allocateNode(tenantId, pick.spareId, actor);
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'conflict') throw error;
      pickedByOthers.add(pick.spareId);
      continue;
    }
    // Should this fail (the store away), the spare stays noted and the tenant's: the next claimer makes its reimage.
    const operation = await deps.reimages.create(replacementReimage(failed, tenantId, template, pick.spareId, actor, why));
    return { ok: true, spareId: pick.spareId, sameRack: pick.sameRack, operationId: operation.id };
  }
  await notes.clear();
  return { ok: false, reason: `${maxSparePicks} spares picked in turn were each taken by another replacement first` };
}

/** States a spare given to a tenant goes on to: its reimage was made, or it failed (its own failure's effects replace it). */
const placedStates: ReadonlySet<NodeState> = new Set(['provisioning', 'accepting', 'active', 'failed', 'repair']);

/**
 * Finishes the placement of the spare a debt noted, while it is the tenant's: still allocated, its reimage is made
 * (unless an operation holds it already: the earlier placer's, its answer lost); gone on as the tenant's (placedStates),
 * it is placed. Null when it is not the tenant's (never given, or taken back, or half taken back: being released), or
 * was given only half (the tenant written, the allocation not: taken back here): the debt is as if nothing was noted.
 */
export async function finishPlacement(
  deps: SparePlacementDeps, failed: { id: string; rack: string; hostname: string }, tenantId: string, template: ClusterTemplate, actor: string, why: string, spareId: string,
): Promise<Placement | null> {
  const spare = await deps.store.getNodeSummary(spareId);
  if (!spare || spare.tenant !== tenantId) return null;
  const placed = { ok: true as const, spareId, sameRack: spare.rack === failed.rack };
  if (placedStates.has(spare.state)) return { ...placed, operationId: null };
  if (spare.state !== 'allocated') {
    // Still available: the tenant was written and the allocation never was (allocateNode cut off before taking it
    // back); the spare is nobody's again, to be picked like any other.
    if (spare.state === 'available') await deps.store.takeNodeFromTenant(spareId, tenantId);
    return null;
  }
  try {
    return { ...placed, operationId: (await deps.reimages.create(replacementReimage(failed, tenantId, template, spareId, actor, why))).id };
  } catch (error) {
    const held = error instanceof DomainError && error.code === 'conflict' && Array.isArray(error.details['nodeIds']) && error.details['nodeIds'].includes(spareId);
    if (held) return { ...placed, operationId: null };
    throw error;
  }
}
