// What an operator may do to a node, by its state and tenancy: one list that
// the API gives with each node and enforces for the lifecycle actions
// (refusing with the ones allowed), and the dashboard shows (no button for an
// action the node's state refuses). Every state but `retired` has a way out:
//   failed → retry (inspect it again: back to the pool if healthy), repair, retire
//   repair → repaired (with a note: parts swapped, ticket) → inspecting …, retire
import type { LifecycleEvent } from './node-lifecycle.ts';
import type { NodeState } from './node.ts';

export const nodeActions = ['reimage', 'replace', 'drain', 'power-cycle', 'allocate', 'release', 'retry', 'repair', 'repaired', 'retire'] as const;
export type NodeAction = (typeof nodeActions)[number];

/** The actions that are one lifecycle event, and that event. */
export const actionEvents = { retry: 'retry', repair: 'repair', repaired: 'repaired', retire: 'retire' } as const satisfies Partial<Record<NodeAction, LifecycleEvent>>;
export type LifecycleAction = keyof typeof actionEvents;

const serving: readonly NodeState[] = ['allocated', 'provisioning', 'active'];

function allowed(action: NodeAction, state: NodeState, inTenant: boolean): boolean {
  switch (action) {
    case 'reimage':
      return inTenant && (state === 'allocated' || state === 'active');
    case 'replace':
      return inTenant && serving.includes(state);
    case 'drain':
      return serving.includes(state);
    case 'release':
      return inTenant && serving.includes(state);
    case 'allocate':
      return state === 'available';
    case 'power-cycle':
      return state !== 'retired';
    case 'retry':
      // Its failure took it out of its tenant (and asked for a replacement) before it may rejoin the pool.
      return state === 'failed' && !inTenant;
    case 'repair':
      return state === 'failed';
    case 'repaired':
      return state === 'repair';
    case 'retire':
      return state !== 'retired';
  }
}

/** What each action needs, said when it is refused. */
const needs: Record<NodeAction, string> = {
  reimage: 'only nodes allocated to a tenant or active are reimaged',
  replace: 'only a tenant\'s allocated, provisioning or active node is replaced',
  drain: 'only nodes serving a tenant are drained',
  'power-cycle': 'a retired node is not powered',
  allocate: 'only available nodes are allocated',
  release: 'only a tenant\'s allocated, provisioning or active node is released',
  retry: 'only a failed node out of its tenant is retried',
  repair: 'only failed nodes are sent to repair',
  repaired: 'only nodes in repair are marked repaired',
  retire: 'retired is final',
};

/** What an operator may do to a node in `state`, allocated to a tenant or not. */
export function actionsFor(node: { state: NodeState; tenant: string | null }): NodeAction[] {
  return nodeActions.filter((action) => allowed(action, node.state, node.tenant !== null));
}

/** Why `action` is refused for the node, naming what its state allows; null when it is allowed. */
export function refusal(action: NodeAction, node: { id: string; state: NodeState; tenant: string | null }): string | null {
  const actions = actionsFor(node);
  if (actions.includes(action)) return null;
  return `${action} is not allowed for node ${node.id} (${node.state}${node.tenant ? `, in tenant ${node.tenant}` : ''}): ${needs[action]}; allowed: ${actions.length > 0 ? actions.join(', ') : 'nothing (retired is final)'}`;
}
