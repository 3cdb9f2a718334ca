// The one writer of node state: loads the state, asks the pure state machine,
// persists the transition with its cause (compare-and-set), announces it, and
// hands the transition's effects to the one executor (lifecycle-effects.ts),
// whatever caused it: an operator, the offline sweep, remediation, a reimage.
import { boundedReason, needsHistory, tenantlessEvents, transition, transitionContext, type LifecycleEffect, type LifecycleEvent, type NodeState, type TransitionResult } from '@metalfleet/domain';
import type { Fence, FleetStore } from '@metalfleet/store';
import type { FleetEvent, FleetEvents } from '../events/fleet-events.ts';
import { encodeEvent } from '../events/event-journal.ts';

export interface LifecycleDeps {
  store: FleetStore;
  events: FleetEvents;
  now: () => Date;
}

/** A transition that happened, as the effect executor needs it. */
export interface StateChange {
  nodeId: string;
  from: NodeState;
  to: NodeState;
  event: LifecycleEvent;
  actor: string;
  reason: string;
  effects: readonly LifecycleEffect[];
  /** The node's tenant when it changed state (an effect may take it away). */
  tenant: string | null;
  at: Date;
}

/** What carrying out one effect came to, for whoever caused the transition (an operator's replace answers with it). */
export interface EffectOutcome {
  effect: LifecycleEffect;
  outcome: string;
  /** The reimage an effect started (a replacement's), if any. */
  operationId: string | null;
}

export type EffectExecutor = (change: StateChange) => Promise<EffectOutcome[]>;

export interface ApplyOptions {
  /** Events of the caller's that belong to this transition: journaled with it, only if it is made. */
  alongside?: readonly FleetEvent[];
  /** Made only while this lease of the caller's holds (a replica's shard of the node, for its sweeps). */
  fence?: Fence;
}

export type ApplyResult = (Extract<TransitionResult, { ok: true }> & { outcomes: EffectOutcome[] }) | { ok: false; from: NodeState | null; reason: string };

export function createLifecycle(deps: LifecycleDeps) {
  // Bound once the services the effects need exist (they themselves apply transitions).
  let execute: EffectExecutor | null = null;
  return {
    async apply(nodeId: string, event: LifecycleEvent, actor: string, given: string, options: ApplyOptions = {}): Promise<ApplyResult> {
      const { alongside = [], fence } = options;
      const reason = boundedReason(given);
      // A concurrent writer may move the node between read and write; retry once from its new state.
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const node = await deps.store.getNodeSummary(nodeId);
        if (!node) return { ok: false, from: null, reason: `no node ${nodeId}` };
        // Whoever asks (a route checks it first): a node in a tenant leaves it by a replacement or a release.
        if (tenantlessEvents.has(event) && node.tenant) return { ok: false, from: node.state, reason: `${event} is not made for node ${nodeId} while it is in tenant ${node.tenant}` };
        const context = needsHistory(event) ? transitionContext(await deps.store.history(nodeId)) : {};
        const result = transition(node.state, event, context);
        if (!result.ok) return result;
        const at = deps.now();
        const changed: FleetEvent = { type: 'state-changed', nodeId, from: result.from, to: result.to, event, actor, reason, effects: result.effects, at };
        const announced = [changed, ...alongside];
        if (await deps.store.transitionNode(nodeId, result.from, result.to, event, { actor, reason, at }, { events: announced.map(encodeEvent), fence })) {
          for (const e of announced) deps.events.emit(e, { journaled: true });
          const change: StateChange = { nodeId, from: result.from, to: result.to, event, actor, reason, effects: result.effects, tenant: node.tenant, at };
          const outcomes = execute && result.effects.length > 0 ? await execute(change) : [];
          return { ...result, outcomes };
        }
      }
      return { ok: false, from: null, reason: fence ? `node ${nodeId} changed state concurrently, or this replica's lease on it lapsed` : `node ${nodeId} changed state concurrently` };
    },
    /** Every transition's effects go to `executor` from now on. */
    executeEffectsWith(executor: EffectExecutor): void {
      execute = executor;
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
