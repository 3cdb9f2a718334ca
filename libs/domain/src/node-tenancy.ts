// Since when a tenant may see a node's data. A node passes from tenant to
// tenant (released, wiped, allocated again); what it did for the one before
// (its telemetry, health events, commands, lifecycle steps) is not the next
// one's business, so a tenant-scoped token sees a node's data only from the
// start of the node's current allocation on. Operations are already judged by
// the tenant each node had when the operation was made (operation entries).
import type { Principal } from './access.ts';
import type { LifecycleEvent } from './node-lifecycle.ts';

/**
 * When the node's current allocation began: its latest `allocate`, from its history (oldest first); null when none
 * stands (never allocated, or released since: an allocation whose transition is not written yet).
 */
export function allocationStart(history: readonly { event: LifecycleEvent; at: Date }[]): Date | null {
  const last = history.findLast((t) => t.event === 'allocate' || t.event === 'release');
  return last?.event === 'allocate' ? last.at : null;
}

/**
 * The earliest moment of a node's data `principal` may see: null for an unscoped token (all of it); for a
 * tenant-scoped one (which may see the node at all: access.ts), the start of the node's current allocation, or
 * `now` when none stands (nothing from before).
 */
export function nodeDataSince(principal: Principal, history: readonly { event: LifecycleEvent; at: Date }[], now: Date): Date | null {
  if (principal.tenantId === null) return null;
  return allocationStart(history) ?? now;
}
