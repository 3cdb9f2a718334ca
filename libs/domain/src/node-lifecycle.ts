// The node lifecycle (ARCHITECTURE.md) as one pure function. Every state
// change goes through transition(); nothing else decides a node's state.
//
//   discovered → inspecting → (accepting) → available → allocated → provisioning → active
//                    │             │             ▲                        │            │
//                    │             ▼ failed      └────── releasing ◄──────┴────────────┤
//                    │           repair                                                 │
//                    ▼                                                                  │
//                 failed ◄──────────────────────────────────────────────────────────────┘
//                    │  └── retry → inspecting …
//                    ▼
//                 repair → repaired → inspecting …   any state → retired (final)
//
// `accepting` (acceptance testing, --acceptance on): a node that passed
// inspection runs the suite of its SKU before it joins the pool; a failed
// check sends it to repair with the checks as its evidence. With
// --acceptance-after-reimage a tenant's reimaged node runs it too, off the
// tenant's network: provisioning → accepting → active, or → failed (replaced).
import type { NodeState } from './node.ts';

export const lifecycleEvents = [
  'inspect', 'inspection-passed', 'inspection-failed', 'accept', 'acceptance-passed', 'acceptance-failed', 'allocate', 'provision', 'provisioned', 'provision-failed', 'provision-aborted',
  'release', 'released', 'fail', 'retry', 'repair', 'repaired', 'retire',
] as const;
export type LifecycleEvent = (typeof lifecycleEvents)[number];

/**
 * What the manager must do because of a transition. One executor in
 * libs/fleet (lifecycle-effects.ts) carries out every one, whatever caused the
 * transition. Work that is itself the cause of a transition is no effect of it:
 * inspection is the agent's next health digest, provisioning the reimage that
 * applied `provision`.
 */
export const lifecycleEffects = ['configure-tenant-network', 'isolate-from-tenant', 'request-replacement', 'open-repair-ticket', 'revoke-certificates', 'power-off'] as const;
export type LifecycleEffect = (typeof lifecycleEffects)[number];

const table: Record<LifecycleEvent, { from: readonly NodeState[]; to: NodeState }> = {
  inspect: { from: ['discovered'], to: 'inspecting' },
  'inspection-passed': { from: ['inspecting'], to: 'available' },
  'inspection-failed': { from: ['inspecting'], to: 'failed' },
  // Inspection passed where acceptance is required: the suite runs before the pool. A tenant's node reimaged where
  // acceptance runs after every reimage (--acceptance-after-reimage): the suite runs before it serves again, off the
  // tenant's network; where each goes next depends on where it came from (TransitionContext.acceptingFrom).
  accept: { from: ['inspecting', 'provisioning'], to: 'accepting' },
  'acceptance-passed': { from: ['accepting'], to: 'available' },
  'acceptance-failed': { from: ['accepting'], to: 'repair' },
  allocate: { from: ['available'], to: 'allocated' },
  provision: { from: ['allocated', 'active'], to: 'provisioning' },
  provisioned: { from: ['provisioning'], to: 'active' },
  'provision-failed': { from: ['provisioning'], to: 'failed' },
  // A reimage that ended before the node went down: it goes back to the state it was provisioned from (TransitionContext).
  'provision-aborted': { from: ['provisioning'], to: 'allocated' },
  release: { from: ['allocated', 'provisioning', 'active'], to: 'releasing' },
  released: { from: ['releasing'], to: 'available' },
  fail: { from: ['inspecting', 'accepting', 'available', 'allocated', 'provisioning', 'active', 'releasing'], to: 'failed' },
  // A failed node has left its tenant (its failure asked for a replacement): inspected again, it rejoins the pool.
  retry: { from: ['failed'], to: 'inspecting' },
  // An accepting node an operator knows is bad (or whose suite hangs) goes to repair without waiting for its verdict.
  repair: { from: ['failed', 'accepting'], to: 'repair' },
  repaired: { from: ['repair'], to: 'inspecting' },
  retire: { from: ['discovered', 'inspecting', 'accepting', 'available', 'allocated', 'provisioning', 'active', 'releasing', 'failed', 'repair'], to: 'retired' },
};

function effectsOf(from: NodeState, to: NodeState, event: LifecycleEvent, context: TransitionContext): LifecycleEffect[] {
  // A tenant's node being accepted after its reimage is the tenant's still: it fails as a serving node does.
  const forTenant = from === 'accepting' && context.acceptingFrom === 'provisioning';
  switch (event) {
    case 'acceptance-passed':
      return to === 'active' ? ['configure-tenant-network'] : [];
    case 'acceptance-failed':
      return forTenant ? ['isolate-from-tenant', 'request-replacement'] : ['open-repair-ticket'];
    case 'provision-aborted':
      // Back to active: its port carries the tenant's network again (isolation may have moved it already).
      return to === 'active' ? ['configure-tenant-network'] : [];
    case 'provisioned':
      // Active: the one state whose port carries the tenant's network.
      return ['configure-tenant-network'];
    case 'provision':
    case 'release':
      return ['isolate-from-tenant'];
    case 'fail':
    case 'provision-failed':
      // A tenant loses a node it was using: isolate it and find a replacement.
      return ['active', 'allocated', 'provisioning'].includes(from) || forTenant ? ['isolate-from-tenant', 'request-replacement'] : [];
    case 'repair':
      return ['open-repair-ticket'];
    case 'retire':
      // Retired for good, whoever retired it: its client certificates (what an external broker knows it by) go too.
      return ['isolate-from-tenant', 'revoke-certificates', 'power-off'];
    default:
      return [];
  }
}

/** The longest reason a transition keeps: the history, the events and the webhooks carry it. */
export const maxReasonChars = 2048;

/**
 * A transition's reason within `maxReasonChars`: a node's own words (a tool's test names, an agent's message) can be
 * any length, and every read of the node's history would carry them. `whole`: where the rest is kept.
 */
export function boundedReason(reason: string, whole = ''): string {
  if (reason.length <= maxReasonChars) return reason;
  const tail = (left: number) => `… [${left} characters left out${whole ? `; ${whole}` : ''}]`;
  const keep = maxReasonChars - tail(reason.length).length;
  return `${reason.slice(0, keep)}${tail(reason.length - keep)}`;
}

export type TransitionResult =
  | { ok: true; from: NodeState; to: NodeState; effects: LifecycleEffect[] }
  | { ok: false; from: NodeState; reason: string };

/** What some transitions need beyond the current state: read from the node's history (`needsHistory`). */
export interface TransitionContext {
  /** The state the node's latest `provision` started from: where `provision-aborted` returns it. */
  provisionedFrom?: NodeState | null;
  /** The state the node's latest `accept` started from: `provisioning` for a tenant's node accepted after its reimage. */
  acceptingFrom?: NodeState | null;
}

/** Whether `event` needs the node's history (TransitionContext) to decide where it goes, or what it does. */
export function needsHistory(event: LifecycleEvent): boolean {
  return event === 'provision-aborted' || event === 'acceptance-passed' || event === 'acceptance-failed' || event === 'fail';
}

/** The context for a transition, from the node's history in order (oldest first). */
export function transitionContext(history: readonly { event: LifecycleEvent; from: NodeState }[]): TransitionContext {
  const provision = history.findLast((h) => h.event === 'provision');
  const accept = history.findLast((h) => h.event === 'accept');
  return { provisionedFrom: provision?.from ?? null, acceptingFrom: accept?.from ?? null };
}

function targetOf(event: LifecycleEvent, context: TransitionContext): NodeState {
  // A node provisioned from active had its tenant's workload: it goes back to serving it. Anything else
  // (allocated, or no record) goes back to allocated, which never carries the tenant's network.
  if (event === 'provision-aborted') return context.provisionedFrom === 'active' ? 'active' : 'allocated';
  // A tenant's node accepted after its reimage serves its tenant again; failing, it is a tenant's failed node (replaced).
  if (event === 'acceptance-passed' && context.acceptingFrom === 'provisioning') return 'active';
  if (event === 'acceptance-failed' && context.acceptingFrom === 'provisioning') return 'failed';
  return table[event].to;
}

export function transition(state: NodeState, event: LifecycleEvent, context: TransitionContext = {}): TransitionResult {
  const rule = table[event];
  if (!rule.from.includes(state)) {
    return { ok: false, from: state, reason: `${event} is not allowed in state ${state} (allowed in: ${rule.from.join(', ')})` };
  }
  const to = targetOf(event, context);
  return { ok: true, from: state, to, effects: effectsOf(state, to, event, context) };
}

/** Who or what caused a transition: persisted with it as the node's history. */
export interface TransitionCause {
  actor: string;
  reason: string;
  at: Date;
}
