// Controllers react to fleet events and drive the lifecycle; they never write
// state themselves.
// - inspection: a registered node in `discovered` is inspected; its first
//   health digest decides: no critical condition → available (or, where
//   acceptance is required, accepting: acceptance.ts), else failed.
//   A node an operator retried or marked repaired is decided at once from its
//   stored conditions when it is online (its next digest otherwise).
//   A digest that finds the node still `discovered` (taken by another replica
//   than the registration) inspects it first.
//   One node's events are handled in the order they came, each after the one
//   before has committed: the digest an agent sends right after registering
//   must find the node `inspecting` (on PostgreSQL it used to be read before
//   the `inspect` transition committed, was dropped, and the node waited for
//   the next digest, minutes later).
// - health after inspection belongs to the remediation controller
//   (remediation.ts): it fails, replaces or repairs nodes by the policy.
// - presence: a node in service offline for longer than the failure grace fails;
//   the transition's effects (lifecycle-effects.ts) take a tenant node off the
//   tenant network and replace it with a spare, as for any other failure.
import type { NodeState } from '@metalfleet/domain';
import type { Fence, FleetStore } from '@metalfleet/store';
import type { FleetEvent, FleetEvents } from '../events/fleet-events.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface ControllerDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  now: () => Date;
  /** An in-service node offline this long is a failure for the remediation policy. */
  offlineFailureGraceMs: number;
  onError: (error: unknown) => void;
  /** The fence under which this replica fails a node that stayed offline (its shard's lease; null: another replica's node). None: every node. */
  fenceFor?: (nodeId: string) => Fence | null;
  /** A node that passes inspection is acceptance-tested before it joins the pool (--acceptance on). */
  acceptanceRequired?: boolean;
}

const inService: readonly NodeState[] = ['available', 'allocated', 'provisioning', 'active', 'releasing'];

export function startLifecycleControllers(deps: ControllerDeps): { sweep: () => Promise<void>; stop: () => void } {
  const { store, lifecycle } = deps;

  async function onEvent(event: FleetEvent): Promise<void> {
    if (event.type === 'node-registered') {
      const node = await store.getNodeSummary(event.nodeId);
      if (node?.state === 'discovered') await lifecycle.apply(event.nodeId, 'inspect', 'registration', 'registered in the discovery image');
      return;
    }
    if (event.type !== 'health-digest') return;
    let node = await store.getNodeSummary(event.nodeId);
    if (!node) return;
    // The digest came before its registration's `inspect` committed: registered through one replica, the digest
    // taken by another (the broker shares node messages out). Inspected here first: whichever is first moves it.
    if (node.state === 'discovered') {
      await lifecycle.apply(node.id, 'inspect', 'registration', 'registered in the discovery image');
      node = await store.getNodeSummary(event.nodeId);
      if (!node) return;
    }
    if (node.state === 'inspecting') await inspect(node.id);
  }

  /** No critical condition → available, else failed. */
  async function inspect(nodeId: string): Promise<void> {
    const conditions = await store.conditions(nodeId);
    const critical = conditions.filter((c) => c.severity === 'critical');
    const healthy = `healthy: ${conditions.length} non-critical conditions`;
    if (critical.length === 0) await lifecycle.apply(nodeId, deps.acceptanceRequired ? 'accept' : 'inspection-passed', 'inspection', deps.acceptanceRequired ? `${healthy}; acceptance testing` : healthy);
    else await lifecycle.apply(nodeId, 'inspection-failed', 'inspection', critical.map((c) => `${c.component} ${c.code}`).join(', '));
  }

  /**
   * An operator's retry or repaired, on a node that is online: its agent sent each change of its conditions as it
   * happened, so the stored ones decide now rather than at its next digest (minutes away). A node that is offline
   * (powered off for the repair) is inspected by the digest it sends when it is back.
   */
  async function onInspectAgain(event: Extract<FleetEvent, { type: 'state-changed' }>): Promise<void> {
    if (event.to !== 'inspecting' || (event.event !== 'retry' && event.event !== 'repaired')) return;
    const node = await store.getNodeSummary(event.nodeId);
    if (node?.state === 'inspecting' && node.presence === 'online') await inspect(node.id);
  }

  // The tail of each node's queue; a node's entry goes once its queue is empty.
  const queues = new Map<string, Promise<void>>();
  function inOrder(nodeId: string, work: () => Promise<void>): void {
    const tail = (queues.get(nodeId) ?? Promise.resolve()).then(work).catch(deps.onError);
    queues.set(nodeId, tail);
    void tail.then(() => {
      if (queues.get(nodeId) === tail) queues.delete(nodeId);
    });
  }

  const unsubscribe = deps.events.on((event) => {
    if (event.type === 'node-registered' || event.type === 'health-digest') inOrder(event.nodeId, () => onEvent(event));
    if (event.type === 'state-changed') inOrder(event.nodeId, () => onInspectAgain(event));
  });

  async function sweep(): Promise<void> {
    const before = new Date(deps.now().getTime() - deps.offlineFailureGraceMs);
    for (const state of inService) {
      for (const nodeId of await store.offlineSince(state, before)) {
        const fence = deps.fenceFor?.(nodeId);
        if (fence === null) continue;
        await lifecycle.apply(nodeId, 'fail', 'presence', `offline for more than ${deps.offlineFailureGraceMs / 1000} s`, { fence });
      }
    }
  }

  return { sweep, stop: unsubscribe };
}
