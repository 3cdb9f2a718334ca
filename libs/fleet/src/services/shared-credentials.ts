// Two agents holding one node's credential take the node's broker session from
// each other in turn (agent-sessions.ts): found from the session ids of the
// node's status messages, recorded as an identity conflict of kind
// shared-credential (a session coming back counted at most once a minute per
// node: a tenant can make its own agents fight at will), announced, and left
// to an operator, who knows which machine is the node.
//
// The ids seen are kept in this process's memory: after a restart, or on a
// replica that gets only some of a node's status messages (shared
// subscriptions), the fight is found a little later, not missed: it goes on.
import { sessionSeen } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';

export interface SharedCredentialDeps {
  store: Pick<FleetStore, 'getNode' | 'recordConflict'>;
  events: FleetEvents;
  now: () => Date;
}

/** Longer session ids are cut: an agent makes 36-character UUIDs, and the manager keeps a few per node. */
export const maxSessionIdLength = 64;
/** One node's fight is written at most this often (each flip would be a write: a tenant can flip at will). */
export const conflictWriteIntervalMs = 60_000;
/**
 * A fight is two comebacks within this long: one alone may be an old status delivered late (a replica that took
 * over a dead one's broker session gets what that one had not acknowledged), never two in turn.
 */
export const comebackWindowMs = 600_000;

export function createSharedCredentialWatch(deps: SharedCredentialDeps) {
  // Node id → its latest session ids, newest last: a few short strings a node, bounded by the fleet.
  const sessions = new Map<string, readonly string[]>();
  // Node id → when its fight was last written; when its sessions came back lately.
  const written = new Map<string, number>();
  const comebacks = new Map<string, number[]>();
  return {
    /** A node's agent said it is online in session `sessionId` ('' from agents that send none). */
    async online(nodeId: string, sessionId: string): Promise<void> {
      const seen = sessionSeen(sessions.get(nodeId) ?? [], sessionId.slice(0, maxSessionIdLength));
      sessions.set(nodeId, seen.sessions);
      if (!seen.shared) return;
      const at = deps.now();
      const recent = [...(comebacks.get(nodeId) ?? []), at.getTime()].filter((t) => at.getTime() - t < comebackWindowMs).slice(-2);
      comebacks.set(nodeId, recent);
      if (recent.length < 2) return;
      const last = written.get(nodeId);
      if (last !== undefined && at.getTime() - last < conflictWriteIntervalMs) return;
      const node = await deps.store.getNode(nodeId);
      if (!node) return;
      written.set(nodeId, at.getTime());
      // No host name in it: the tenant chose that, and the reason goes into alerts and webhooks.
      const reason = `two agents hold node ${nodeId}'s credential and take its broker session from each other: `
        + `session ${seen.sessionId.slice(0, 8)} came back after ${seen.replacedBy.slice(0, 8)} replaced it (a disk cloned with its state directory, or a second agent started on it)`;
      const conflict = await deps.store.recordConflict({ at, identity: node.identity, nodeIds: [nodeId], reason, kind: 'shared-credential' });
      if (conflict.attempts === 1) {
        deps.events.emit({ type: 'identity-conflict', conflictId: conflict.id, kind: 'shared-credential', nodeIds: [nodeId], reason: `two agents share one credential (conflict ${conflict.id})`, at });
      }
    },
  };
}

export type SharedCredentialWatch = ReturnType<typeof createSharedCredentialWatch>;
