// The one place an internal fleet event becomes what the event stream sends
// (StreamEvent in libs/api). Each case names the fields it sends, so a field
// added to an internal event (the lifecycle's effects, say) stays inside the
// manager; a new event type does not compile until it is mapped here.
import type { StreamEvent } from '@metalfleet/api';
import type { FleetEvent } from '@metalfleet/fleet';

export function toStreamEvent(e: FleetEvent): StreamEvent {
  const at = e.at.toISOString();
  switch (e.type) {
    case 'node-registered':
      return { type: e.type, nodeId: e.nodeId, returning: e.returning, via: e.via, at };
    case 'identity-conflict':
      return { type: e.type, conflictId: e.conflictId, kind: e.kind, nodeIds: [...e.nodeIds], reason: e.reason, at };
    case 'registration-refused':
      return { type: e.type, reason: e.reason, peer: e.peer, at };
    case 'install-conflict':
      return { type: e.type, nodeId: e.nodeId, commandId: e.commandId, conflictId: e.conflictId, at };
    case 'install-refused':
      return { type: e.type, nodeId: e.nodeId, commandId: e.commandId, step: e.step, peer: e.peer, reason: e.reason, at };
    case 'presence-changed':
      return { type: e.type, nodeId: e.nodeId, presence: e.presence, reason: e.reason, at };
    case 'bad-message':
      return { type: e.type, nodeId: e.nodeId, topic: e.topic, error: e.error, at };
    case 'health-changed':
      return { type: e.type, nodeId: e.nodeId, eventId: e.eventId, changes: [...e.changes], at };
    case 'health-duplicate':
      return { type: e.type, nodeId: e.nodeId, eventId: e.eventId, at };
    case 'health-digest':
      return { type: e.type, nodeId: e.nodeId, conditions: e.conditions, at };
    case 'state-changed':
      // Not the effects: they are the manager's work list for the transition.
      return { type: e.type, nodeId: e.nodeId, from: e.from, to: e.to, event: e.event, actor: e.actor, reason: e.reason, at };
    case 'tenant-created':
      return { type: e.type, tenantId: e.tenantId, name: e.name, vlan: e.vlan, vni: e.vni, at };
    case 'tenant-deleted':
      return { type: e.type, tenantId: e.tenantId, at };
    case 'node-tenant-changed':
      return { type: e.type, nodeId: e.nodeId, tenantId: e.tenantId, previous: e.previous, at };
    case 'port-configured':
      return { type: e.type, switchName: e.switchName, port: e.port, nodeId: e.nodeId, vlan: e.vlan, previousVlan: e.previousVlan, why: e.why, at };
    case 'port-drift-repaired':
      return { type: e.type, switchName: e.switchName, port: e.port, nodeId: e.nodeId, vlan: e.vlan, foundVlan: e.foundVlan, at };
    case 'cabling-warning':
      return { type: e.type, nodeId: e.nodeId, mac: e.mac, message: e.message, at };
    case 'fabric-error':
      return { type: e.type, switchName: e.switchName, message: e.message, at };
    case 'command-sent':
      return { type: e.type, commandId: e.commandId, nodeId: e.nodeId, kind: e.kind, attempt: e.attempt, at };
    case 'command-progress':
      return { type: e.type, commandId: e.commandId, nodeId: e.nodeId, operationId: e.operationId, phase: e.phase, message: e.message, verifiedSha256: e.verifiedSha256, at };
    case 'command-expired':
      return { type: e.type, commandId: e.commandId, nodeId: e.nodeId, operationId: e.operationId, attempts: e.attempts, at };
    case 'operation-created':
      return { type: e.type, operationId: e.operationId, kind: e.kind, nodes: e.nodes, reason: e.reason, at };
    case 'operation-progress':
      return { type: e.type, operationId: e.operationId, nodeId: e.nodeId, phase: e.phase, message: e.message, at };
    case 'operation-finished':
      return { type: e.type, operationId: e.operationId, state: e.state, done: e.done, failed: e.failed, at };
    case 'boot-script-served':
      return { type: e.type, nodeId: e.nodeId, mac: e.mac, commandId: e.commandId, purpose: e.purpose, peer: e.peer, at };
    case 'install-registered':
      return { type: e.type, nodeId: e.nodeId, commandId: e.commandId, at };
    case 'enrollment-claimed':
      return { type: e.type, nodeId: e.nodeId, mac: e.mac, bmcAddress: e.bmcAddress, at };
    case 'remediation':
      return { type: e.type, nodeId: e.nodeId, action: e.action, reason: e.reason, outcome: e.outcome, at };
    case 'failure-recorded':
      return { type: e.type, nodeId: e.nodeId, kind: e.kind, code: e.code, at };
    case 'alert-changed':
      return { type: e.type, fingerprint: e.fingerprint, rule: e.rule, severity: e.severity, from: e.from, to: e.to, summary: e.summary, tenantId: e.tenantId, at };
    case 'notification-failed':
      return { type: e.type, notifier: e.notifier, rule: e.rule, error: e.error, at };
    default:
      return unmapped(e);
  }
}

/** A type error when an internal event type has no case above. */
function unmapped(event: never): never {
  throw new Error(`fleet event ${(event as { type?: string }).type ?? '?'} has no stream mapping`);
}
