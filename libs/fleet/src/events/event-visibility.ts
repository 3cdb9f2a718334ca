// What a tenant-scoped client may see of each fleet event. Every event type is
// decided here, in one exhaustive switch: a new event type does not compile
// until someone decides who may see it, and anything not decided is denied.
// An event is judged on its own subjects (the nodes, tenants and operation
// entries it names), never on an operation it belongs to as a whole: one
// operation may touch several tenants' nodes. A node's event from before its
// current allocation is not its tenant's (docs/security.md).
import type { FleetEvent } from './fleet-events.ts';

/** What the filter needs to know of the fleet now. */
export interface EventLookups {
  /** The node's tenant; undefined when there is no such node. */
  nodeTenant(nodeId: string): Promise<string | null | undefined>;
  /** When the node's current allocation began (allocationStart); null when none stands. */
  allocatedSince(nodeId: string): Promise<Date | null>;
  /** The operation's entries: one per node, with the tenant it had when the operation was made, and its phase. */
  operationEntries(operationId: string): Promise<ReadonlyArray<{ nodeId: string; tenant: string | null; phase: string }>>;
}

/** The event as the tenant `tenantId` may see it (parts about others taken out), or null when it may not see it at all. */
export async function eventForTenant(event: FleetEvent, tenantId: string, lookups: EventLookups): Promise<FleetEvent | null> {
  /**
   * Every node named must be the tenant's, and have been when the event happened: one foreign node hides the event,
   * and so does one whose current allocation to the tenant began after it (the previous tenant's business).
   */
  const ownNodes = async (nodeIds: readonly string[]) => {
    if (nodeIds.length === 0) return false;
    for (const nodeId of nodeIds) {
      if ((await lookups.nodeTenant(nodeId)) !== tenantId) return false;
      const since = await lookups.allocatedSince(nodeId);
      if (since === null || event.at < since) return false;
    }
    return true;
  };
  const ifOwnNodes = async (...nodeIds: string[]) => ((await ownNodes(nodeIds)) ? event : null);
  /** The tenant's own entries of an operation. */
  const ownEntries = async (operationId: string) => (await lookups.operationEntries(operationId)).filter((e) => e.tenant === tenantId);

  switch (event.type) {
    // About one node (or several, all of which must be the tenant's).
    case 'node-registered':
    case 'presence-changed':
    case 'bad-message':
    case 'health-changed':
    case 'health-duplicate':
    case 'health-digest':
    case 'state-changed':
    case 'port-configured':
    case 'port-drift-repaired':
    case 'command-sent':
    case 'command-expired':
    case 'install-registered':
    case 'install-conflict':
    case 'enrollment-claimed':
    case 'remediation':
    case 'failure-recorded':
      return ifOwnNodes(event.nodeId);
    case 'identity-conflict':
      return ifOwnNodes(...event.nodeIds);
    case 'boot-script-served':
      return event.nodeId === null ? null : ifOwnNodes(event.nodeId);
    // An operation's entry is the tenant's when its node was the tenant's in that operation.
    case 'command-progress':
      if (event.operationId === null) return ifOwnNodes(event.nodeId);
      return (await ownEntries(event.operationId)).some((e) => e.nodeId === event.nodeId) ? event : null;
    case 'operation-progress':
      return (await ownEntries(event.operationId)).some((e) => e.nodeId === event.nodeId) ? event : null;
    // A whole operation: seen through the tenant's entries alone, as GET /api/v1/operations/:id shows it.
    case 'operation-created': {
      const own = await ownEntries(event.operationId);
      return own.length === 0 ? null : { ...event, nodes: own.length };
    }
    case 'operation-finished': {
      const own = await ownEntries(event.operationId);
      if (own.length === 0) return null;
      const failed = own.filter((e) => e.phase === 'failed').length;
      return { ...event, state: failed === 0 ? 'succeeded' : 'failed', done: own.length - failed, failed };
    }
    // About tenants.
    case 'tenant-created':
    case 'tenant-deleted':
      return event.tenantId === tenantId ? event : null;
    case 'node-tenant-changed':
      // Its node came or went: the other side of the move is not its business.
      if (event.tenantId === tenantId) return { ...event, previous: event.previous === tenantId ? tenantId : null };
      if (event.previous === tenantId) return { ...event, tenantId: null };
      return null;
    case 'alert-changed':
      return event.tenantId === tenantId ? event : null;
    // The operators' business: who was refused, cabling (it names other nodes' ports), switches, notifiers.
    case 'registration-refused':
    case 'install-refused':
    case 'cabling-warning':
    case 'fabric-error':
    case 'notification-failed':
      return null;
    default:
      return unreachable(event);
  }
}

/** A type error when an event type is not decided above; at run time such an event is denied. */
function unreachable(event: never): null {
  void event;
  return null;
}
