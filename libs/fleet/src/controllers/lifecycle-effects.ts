// The one executor of lifecycle effects: every transition's effects (libs/domain
// node-lifecycle.ts) are carried out here, whatever caused the transition. A
// tenant node that fails — by a health fault, the offline sweep, a reimage
// that took it down and lost it — leaves its tenant's network and its tenant,
// and a matching spare (same rack first) is allocated to the tenant and
// reimaged with the tenant's template: the cluster returns to its size. With
// no spare to fit, the replacement is owed and made once one does.
import { transition, transitionContext, type LifecycleEffect } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { ClusterTemplates } from '../services/cluster-templates.ts';
import type { FleetEvent, FleetEvents } from '../events/fleet-events.ts';
import { encodeEvent } from '../events/event-journal.ts';
import type { EffectExecutor, EffectOutcome, StateChange } from './lifecycle.ts';
import type { Reimages } from './reimages.ts';
import { makeOwedReplacement, reimaging } from './owed-replacements.ts';
import type { Tenants } from '../services/tenants.ts';

export interface LifecycleEffectDeps {
  store: FleetStore;
  events: FleetEvents;
  tenants: Tenants;
  templates: ClusterTemplates;
  reimages: Reimages;
  /** Applies the port plan now and waits for it (nothing to do without switches). */
  settleFabric: () => Promise<void>;
  /** Powers the node off through its BMC; false when it has none. */
  powerOff: (nodeId: string) => Promise<boolean>;
  now: () => Date;
  onError: (error: unknown, context: Record<string, unknown>) => void;
  /** Only nodes whose latest acceptance run passed replace a failed one (--acceptance on). */
  acceptanceRequired?: boolean;
  /** Revokes every client certificate of the node, answering how many (--node-certificates); none: none are issued. */
  revokeCertificates?: (nodeId: string) => Promise<number>;
}

type Outcome = Omit<EffectOutcome, 'effect'>;

export function createLifecycleEffects(deps: LifecycleEffectDeps): EffectExecutor {
  const report = (change: StateChange, action: string, outcome: string, operationId: string | null = null): Outcome => {
    deps.events.emit({ type: 'remediation', nodeId: change.nodeId, action, reason: change.reason, outcome, at: deps.now() });
    return { outcome, operationId };
  };

  /** The failed node leaves its tenant, and a spare built from the tenant's template takes its place. */
  async function replace(change: StateChange): Promise<Outcome> {
    const tenantId = change.tenant;
    if (!tenantId) return report(change, 'replace', `no replacement: node ${change.nodeId} is in no tenant`);
    const node = await deps.store.getNodeSummary(change.nodeId);
    if (!node) return report(change, 'replace', `no replacement: node ${change.nodeId} no longer exists`);
    const template = await deps.templates.forTenant(tenantId);
    // Owed before the node leaves its tenant: a stop, a crash or an error from here on leaves the debt, which the
    // retry (owed-replacements.ts) makes good; the same failure owed twice is one debt.
    const owed = { failedNodeId: node.id, tenantId, reason: change.reason, actor: change.actor, at: deps.now(), spareNodeId: '' };
    if (template) await deps.store.oweReplacement(owed);
    // Whoever takes the node out of its tenant replaces it: the same failure's effects carried out again (a replica
    // resuming them while another still runs them) find it taken and ask for no second spare.
    const taken: FleetEvent = { type: 'node-tenant-changed', nodeId: node.id, tenantId: null, previous: tenantId, at: deps.now() };
    if (!(await deps.store.takeNodeFromTenant(node.id, tenantId, [encodeEvent(taken)]))) {
      return report(change, 'replace', `no replacement: node ${change.nodeId} is no longer in tenant ${tenantId} (replaced already, or moved)`);
    }
    deps.events.emit(taken, { journaled: true });
    if (!template) return report(change, 'replace', `no replacement: tenant ${tenantId} has no template to build one from`);
    const placed = await makeOwedReplacement(deps, owed, template, node);
    if (placed === null) return report(change, 'replace', `replacement owed to tenant ${tenantId}; another replica is making it`);
    if (placed.ok) {
      return report(change, 'replace', `replaced by ${placed.spareId}${placed.sameRack ? ' (same rack)' : ''}, ${reimaging(placed.operationId)}`, placed.operationId);
    }
    return report(change, 'replace', `no replacement yet: ${placed.reason}; owed to tenant ${tenantId}, made as soon as a spare fits`);
  }

  async function carryOut(effect: LifecycleEffect, change: StateChange): Promise<Outcome> {
    switch (effect) {
      case 'configure-tenant-network':
        await deps.settleFabric();
        return { outcome: 'port on the tenant network', operationId: null };
      case 'isolate-from-tenant':
        // Only an active node's port carries its tenant's network: the plan moves this one off it.
        await deps.settleFabric();
        return { outcome: 'port off the tenant network', operationId: null };
      case 'request-replacement':
        return replace(change);
      case 'open-repair-ticket':
        return report(change, 'repair-ticket', `in repair: ${change.reason}`);
      case 'revoke-certificates': {
        if (!deps.revokeCertificates) return { outcome: 'no client certificates are issued (--node-certificates off)', operationId: null };
        return { outcome: `${await deps.revokeCertificates(change.nodeId)} client certificates revoked`, operationId: null };
      }
      case 'power-off':
        return { outcome: (await deps.powerOff(change.nodeId)) ? 'powered off through its BMC' : 'not powered off: the node has no BMC', operationId: null };
      default:
        return unreachable(effect);
    }
  }

  return async (change) => {
    const outcomes: EffectOutcome[] = [];
    // In order: a failed node is off the tenant network before its replacement is sought.
    for (const effect of change.effects) {
      try {
        outcomes.push({ effect, ...(await carryOut(effect, change)) });
      } catch (error) {
        deps.onError(error, { nodeId: change.nodeId, effect });
        outcomes.push({ effect, outcome: `failed: ${error instanceof Error ? error.message : String(error)}`, operationId: null });
      }
    }
    return outcomes;
  };
}

function unreachable(effect: never): never {
  throw new Error(`no such lifecycle effect: ${String(effect)}`);
}

/**
 * After a restart: the effects of a failure that a stop (or a crash, or a kill)
 * cut off. Effects run after their transition is written, so a manager that
 * dies in between (while the fabric settles, say) leaves a failed node that
 * still holds its tenant: nothing else would ever replace it. Replacing takes
 * the tenant away first, so a node failed (or sent on to repair) that still
 * holds one has had no replacement asked for; its latest failure's effects, as
 * the domain computes them for that transition, are carried out now. Answers
 * how many nodes that was.
 *
 * Also run now and then by the replica doing the reimaging: a replica killed
 * between a failure and its effects (any replica, since failures are made by
 * the node's shard owner) leaves the same, and may never start again. Then
 * only failures made before `madeBefore` are taken: a newer one's effects may
 * still be under way where it was made (and if both run, the tenant is taken
 * from the node once, so one replacement is asked for).
 */
export async function resumeInterruptedEffects(store: FleetStore, execute: EffectExecutor, madeBefore?: Date): Promise<number> {
  let resumed = 0;
  for (const node of await store.listNodes()) {
    if (node.tenant === null || (node.state !== 'failed' && node.state !== 'repair')) continue;
    const history = await store.history(node.id);
    const at = history.findLastIndex((h) => h.to === 'failed');
    const failure = history[at];
    if (!failure || (madeBefore && failure.at >= madeBefore)) continue;
    // As it was computed then: from the history before it (a tenant's node that failed its acceptance after a reimage).
    const computed = transition(failure.from, failure.event, transitionContext(history.slice(0, at)));
    if (!computed.ok || !computed.effects.includes('request-replacement')) continue;
    await execute({
      nodeId: node.id, from: failure.from, to: failure.to, event: failure.event, actor: failure.actor, reason: failure.reason,
      effects: computed.effects, tenant: node.tenant, at: failure.at,
    });
    resumed += 1;
  }
  return resumed;
}
