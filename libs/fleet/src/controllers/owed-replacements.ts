// Replacements owed to tenants. A failure's effects (lifecycle-effects.ts) owe
// the replacement before they take the node from its tenant, and settle the
// debt once a spare is placed; where no spare fits, or the manager died on the
// way, the debt stays, and the replica doing the reimaging retries it every few
// seconds, oldest first. Whoever places a spare holds a claim on the debt (a
// dead claimer's claim goes stale) and notes the spare on it before giving it
// to the tenant: the next claimer finishes that spare (its reimage) rather than
// pick a second. A tenant back at its template's size with no spare noted (an
// operator added a node), or without a template, has its debt dropped.
import { pickSpare, type ClusterTemplate } from '@metalfleet/domain';
import type { FleetStore, OwedReplacement } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';
import { servingStates, type ClusterTemplates } from '../services/cluster-templates.ts';
import { spareCandidates } from '../services/spares.ts';
import { finishPlacement, placeSpare, type Placement, type SparePlacementDeps } from './spare-placement.ts';

/** A claim older than this is a dead claimer's: anyone may take the debt again. */
export const owedClaimStaleMs = 120_000;

export interface OwedReplacementDeps extends SparePlacementDeps {
  store: FleetStore;
  events: FleetEvents;
  templates: ClusterTemplates;
  now: () => Date;
  /** A debt that could not be worked on (it stays owed); the others go on. */
  onError?: (error: unknown, context: Record<string, unknown>) => void;
}

/**
 * Places a spare for a debt held under a claim: settled when placed, released (owed again) when none fits or the
 * placing failed. Null: another holds the claim.
 */
export async function makeOwedReplacement(deps: OwedReplacementDeps, owed: OwedReplacement, template: ClusterTemplate, failed: { rack: string; hostname: string }): Promise<Placement | null> {
  const at = deps.now();
  if (!(await deps.store.claimOwedReplacement(owed.failedNodeId, owed.tenantId, at, new Date(at.getTime() - owedClaimStaleMs)))) return null;
  let placed: Placement;
  const where = { id: owed.failedNodeId, ...failed };
  try {
    // A spare noted by an earlier placer is finished first: given to the tenant and not yet reimaged, it is this debt's.
    placed = (owed.spareNodeId === '' ? null : await finishPlacement(deps, where, owed.tenantId, template, owed.actor, owed.reason, owed.spareNodeId))
      ?? await placeSpare(deps, where, owed.tenantId, template, owed.actor, owed.reason, {
        // Under this claim only: a placer that stalled past it (another claimed the debt since, or settled it) gives nothing.
        note: (spareId) => deps.store.noteOwedSpare(owed.failedNodeId, owed.tenantId, spareId, at),
        clear: async () => void await deps.store.noteOwedSpare(owed.failedNodeId, owed.tenantId, '', at),
      });
  } catch (error) {
    await deps.store.releaseOwedReplacement(owed.failedNodeId, owed.tenantId, at);
    throw error;
  }
  if (placed.ok) await deps.store.settleOwedReplacement(owed.failedNodeId, owed.tenantId);
  else await deps.store.releaseOwedReplacement(owed.failedNodeId, owed.tenantId, at);
  return placed;
}

/** Where a placed spare's reimage is said. */
export const reimaging = (operationId: string | null) => (operationId === null ? 'its reimage made before' : `reimaging in operation ${operationId}`);

export function createOwedReplacements(deps: OwedReplacementDeps) {
  const report = (owed: OwedReplacement, outcome: string) =>
    deps.events.emit({ type: 'remediation', nodeId: owed.failedNodeId, action: 'replace', reason: owed.reason, outcome, at: deps.now() });
  const drop = async (owed: OwedReplacement, why: string) => {
    await deps.store.settleOwedReplacement(owed.failedNodeId, owed.tenantId);
    report(owed, `no replacement: ${why}; the replacement owed since ${owed.at.toISOString()} is dropped`);
  };

  return {
    /** Makes the replacements owed that a spare now fits; answers how many were made. */
    async retry(): Promise<number> {
      let made = 0;
      const owedNow = await deps.store.owedReplacements();
      if (owedNow.length === 0) return 0;
      // Looked at once a pass, before any debt is claimed: with no spare to fit, nothing is written.
      const candidates = await spareCandidates(deps.store, deps.acceptanceRequired);
      // Each tenant's serving nodes now: a debt to a tenant back at its template's size (an operator added a node,
      // a spare placed by one who died before settling) is settled by that, not by a node more.
      const members = new Map<string, number>();
      for (const n of await deps.store.listNodes()) if (n.tenant !== null && servingStates.has(n.state)) members.set(n.tenant, (members.get(n.tenant) ?? 0) + 1);
      for (const owed of owedNow) {
        // One debt that cannot be worked on (a store error, a tenant gone under it) never holds up the others.
        try {
          const template = await deps.templates.forTenant(owed.tenantId);
          if (!template || !(await deps.store.getTenant(owed.tenantId))) {
            await drop(owed, `tenant ${owed.tenantId} is gone or has no template any more`);
            continue;
          }
          const serving = members.get(owed.tenantId) ?? 0;
          // A spare noted on the debt and still the tenant's counts among those serving, but may not have the tenant's
          // image yet: it is finished below. Otherwise (none noted, or taken back) the tenant's size decides.
          const finishing = owed.spareNodeId !== '' && (await deps.store.getNodeSummary(owed.spareNodeId))?.tenant === owed.tenantId;
          if (!finishing && serving >= template.nodeCount) {
            await drop(owed, `tenant ${owed.tenantId} has its template's ${template.nodeCount} nodes again (${serving} serving)`);
            continue;
          }
          const failed = await deps.store.getNodeSummary(owed.failedNodeId);
          const where = { rack: failed?.rack ?? '', hostname: failed?.hostname ?? '' };
          if (!finishing && !pickSpare({ id: owed.failedNodeId, rack: where.rack }, template.profile, candidates).ok) continue;
          const placed = await makeOwedReplacement(deps, owed, template, where);
          if (!placed?.ok) continue;
          made += 1;
          if (!finishing) members.set(owed.tenantId, serving + 1);
          report(owed, `replaced by ${placed.spareId}${placed.sameRack ? ' (same rack)' : ''} (owed since ${owed.at.toISOString()}), ${reimaging(placed.operationId)}`);
        } catch (error) {
          deps.onError?.(error, { step: 'replacement owed', failedNodeId: owed.failedNodeId, tenantId: owed.tenantId });
        }
      }
      return made;
    },
  };
}

export type OwedReplacements = ReturnType<typeof createOwedReplacements>;
