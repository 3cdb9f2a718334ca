// The one writer of node state: loads the state, asks the pure state machine,
// persists the transition with its cause (compare-and-set), announces it.
import { transition, type LifecycleEvent, type NodeState, type TransitionResult } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from './fleet-events.ts';

export interface LifecycleDeps {
  store: FleetStore;
  events: FleetEvents;
  now: () => Date;
}

export type ApplyResult = TransitionResult | { ok: false; from: NodeState | null; reason: string };

export function createLifecycle(deps: LifecycleDeps) {
  return {
    async apply(nodeId: string, event: LifecycleEvent, actor: string, reason: string): Promise<ApplyResult> {
      // A concurrent writer may move the node between read and write; retry once from its new state.
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const node = await deps.store.getNodeSummary(nodeId);
        if (!node) return { ok: false, from: null, reason: `no node ${nodeId}` };
        const result = transition(node.state, event);
        if (!result.ok) return result;
        const at = deps.now();
        if (await deps.store.transitionNode(nodeId, result.from, result.to, event, { actor, reason, at })) {
          deps.events.emit({ type: 'state-changed', nodeId, from: result.from, to: result.to, event, actor, reason, effects: result.effects, at });
          return result;
        }
      }
      return { ok: false, from: null, reason: `node ${nodeId} changed state concurrently` };
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
