// What an operator may do to a node, by its state and tenancy: one list that
// the API gives with each node and enforces for the lifecycle actions
// (refusing with the ones allowed), and the dashboard shows (no button for an
// action the node's state refuses). Every state but `retired` has a way out:
//   failed → retry (inspect it again: back to the pool if healthy), repair, retire
//   accepting → repair (the operator knows it is bad, or its suite hangs)
//   repair → repaired (with a note: parts swapped, ticket) → inspecting …, retire
import type { LifecycleEvent } from './node-lifecycle.ts';
import type { NodeState } from './node.ts';

export const nodeActions = ['reimage', 'replace', 'drain', 'power-cycle', 'allocate', 'release', 'retry', 'repair', 'repaired', 'retire'] as const;
export type NodeAction = (typeof nodeActions)[number];

/** Lifecycle events that an operator's action makes only for a node in no tenant (the store's writers check it too). */
export const tenantlessEvents: ReadonlySet<LifecycleEvent> = new Set(['retry', 'repaired', 'retire']);

/** The actions that are one lifecycle event, and that event. */
export const actionEvents = { retry: 'retry', repair: 'repair', repaired: 'repaired', retire: 'retire' } as const satisfies Partial<Record<NodeAction, LifecycleEvent>>;
export type LifecycleAction = keyof typeof actionEvents;

const serving: readonly NodeState[] = ['allocated', 'provisioning', 'active'];

function allowed(action: NodeAction, state: NodeState, inTenant: boolean): boolean {
  switch (action) {
    case 'reimage':
      return inTenant && (state === 'allocated' || state === 'active');
    case 'replace':
      // A tenant's node being accepted after its reimage too (its suite hangs, or it is known bad).
      return inTenant && (serving.includes(state) || state === 'accepting');
    case 'drain':
      return serving.includes(state);
    case 'release':
      return inTenant && serving.includes(state);
    case 'allocate':
      return state === 'available';
    case 'power-cycle':
      return state !== 'retired';
    // A node still in a tenant has its replacement pending (its failure's effects take it out of the tenant first),
    // or serves it: it leaves by a replacement or a release, never by these, which would leave the tenant a node short.
    case 'retry':
      return state === 'failed' && !inTenant;
    case 'repair':
      return (state === 'failed' || state === 'accepting') && !inTenant;
    case 'repaired':
      return state === 'repair' && !inTenant;
    case 'retire':
      return state !== 'retired' && !inTenant;
  }
}

/** What each action needs, said when it is refused. */
const needs: Record<NodeAction, string> = {
  reimage: 'only nodes allocated to a tenant or active are reimaged',
  replace: 'only a tenant\'s allocated, provisioning, accepting or active node is replaced',
  drain: 'only nodes serving a tenant are drained',
  'power-cycle': 'a retired node is not powered',
  allocate: 'only available nodes are allocated',
  release: 'only a tenant\'s allocated, provisioning or active node is released',
  retry: 'only a failed node out of its tenant is retried (a tenant\'s node leaves it by a replacement or a release first)',
  repair: 'only a failed or accepting node out of its tenant is sent to repair (a tenant\'s node leaves it by a replacement or a release first)',
  repaired: 'only a node in repair, out of any tenant, is marked repaired',
  retire: 'only a node in no tenant is retired (replace or release a tenant\'s node first); retired is final',
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
