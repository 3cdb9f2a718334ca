// What GET /api/v1/events sends: one server-sent event per fleet change, its
// SSE `event:` the `type` below and its `data:` the JSON object. These are the
// API's own shapes, not the manager's internal events: the manager maps each
// internal event to one of them at the edge, so a field added inside the
// manager reaches no client until it is added here. Objects refuse properties
// they do not list, so a test that validates a payload catches a leak.
import { Type, type Static, type TProperties } from 'typebox';
import { AlertStateName } from './alerts.ts';
import { NodeState, Presence } from './nodes.ts';
import { Timestamp } from './common.ts';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

function event<T extends string, P extends TProperties>(type: T, properties: P, description: string) {
  return Type.Object({ type: Type.Literal(type), ...properties, at: Timestamp }, { additionalProperties: false, description });
}

export const NodeRegisteredEvent = event('node-registered', { nodeId: Type.String(), returning: Type.Boolean(), via: Type.String() }, 'A node registered (returning: the manager knew it already).');
export const IdentityConflictEvent = event('identity-conflict', {
  conflictId: Type.String(), kind: Type.Union([Type.Literal('mismatch'), Type.Literal('re-enrolment'), Type.Literal('shared-credential')]), nodeIds: Type.Array(Type.String()), reason: Type.String(),
}, 'A registration disagreed with known identities; recorded for an operator.');
export const RegistrationRefusedEvent = event('registration-refused', { reason: Type.String(), peer: Type.String() }, 'A registration was refused.');
export const InstallConflictEvent = event('install-conflict', { nodeId: Type.String(), commandId: Type.String(), conflictId: Type.String() }, 'A second registration with one reimage\'s install token.');
export const InstallRefusedEvent = event('install-refused', {
  nodeId: Type.String(), commandId: Type.String(), step: Type.Union([Type.Literal('boot-script'), Type.Literal('registration')]), peer: Type.String(), reason: Type.String(),
}, 'Refused for a reimage under way, which goes on: a second fetch of its install script, or a registration with its install token from another address than the fetch.');
export const PresenceChangedEvent = event('presence-changed', { nodeId: Type.String(), presence: Presence, reason: Type.String() }, 'A node\'s agent connected or went silent.');
export const BadMessageEvent = event('bad-message', { nodeId: Type.String(), topic: Type.String(), error: Type.String() }, 'A node sent a message the manager refused.');
export const HealthChangedEvent = event('health-changed', { nodeId: Type.String(), eventId: Type.String(), changes: Type.Array(Type.String()) }, 'A node\'s health conditions changed.');
export const HealthDuplicateEvent = event('health-duplicate', { nodeId: Type.String(), eventId: Type.String() }, 'A health event arrived again and was applied once.');
export const HealthDigestEvent = event('health-digest', { nodeId: Type.String(), conditions: Type.Integer() }, 'A node sent its full set of conditions.');
export const StateChangedEvent = event('state-changed', {
  nodeId: Type.String(), from: NodeState, to: NodeState, event: Type.String({ description: 'The lifecycle event that moved it.' }), actor: Type.String(), reason: Type.String(),
}, 'A node moved along its lifecycle.');
export const TenantCreatedEvent = event('tenant-created', { tenantId: Type.String(), name: Type.String(), vlan: Type.Integer(), vni: Type.Integer() }, 'A tenant was created.');
export const TenantDeletedEvent = event('tenant-deleted', { tenantId: Type.String() }, 'A tenant was deleted.');
export const NodeTenantChangedEvent = event('node-tenant-changed', { nodeId: Type.String(), tenantId: NullableString, previous: NullableString }, 'A node moved to another tenant (or none).');
export const PortConfiguredEvent = event('port-configured', {
  switchName: Type.String(), port: Type.String(), nodeId: Type.String(), vlan: Type.Integer(), previousVlan: NullableInteger, why: Type.String(),
}, 'The manager moved a port to the VLAN its node\'s state calls for.');
export const PortDriftRepairedEvent = event('port-drift-repaired', {
  switchName: Type.String(), port: Type.String(), nodeId: Type.String(), vlan: Type.Integer(), foundVlan: NullableInteger,
}, 'A port changed behind the manager\'s back was put back.');
export const CablingWarningEvent = event('cabling-warning', { nodeId: Type.String(), mac: Type.String(), message: Type.String() }, 'Cabling disagrees with what is planned.');
export const FabricErrorEvent = event('fabric-error', { switchName: Type.String(), message: Type.String() }, 'A switch could not be configured.');
export const CommandSentEvent = event('command-sent', { commandId: Type.String(), nodeId: Type.String(), kind: Type.String(), attempt: Type.Integer() }, 'A command went to a node.');
export const CommandProgressEvent = event('command-progress', {
  commandId: Type.String(), nodeId: Type.String(), operationId: NullableString,
  phase: Type.Union([Type.Literal('acked'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]), message: Type.String(), verifiedSha256: Type.String(),
}, 'A node reported on a command.');
export const CommandExpiredEvent = event('command-expired', { commandId: Type.String(), nodeId: Type.String(), operationId: NullableString, attempts: Type.Integer() }, 'A command was never acknowledged.');
export const OperationCreatedEvent = event('operation-created', { operationId: Type.String(), kind: Type.String(), nodes: Type.Integer(), reason: Type.String() }, 'An operation started.');
export const OperationProgressEvent = event('operation-progress', { operationId: Type.String(), nodeId: Type.String(), phase: Type.String(), message: Type.String() }, 'One node of an operation moved on.');
export const OperationFinishedEvent = event('operation-finished', {
  operationId: Type.String(), state: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]), done: Type.Integer(), failed: Type.Integer(),
}, 'An operation finished.');
export const BootScriptServedEvent = event('boot-script-served', {
  nodeId: NullableString, mac: Type.String(), commandId: NullableString, purpose: Type.Union([Type.Literal('discovery'), Type.Literal('install'), Type.Literal('local')]), peer: Type.String(),
}, 'The boot endpoint answered a machine.');
export const InstallRegisteredEvent = event('install-registered', { nodeId: Type.String(), commandId: Type.String() }, 'A node registered from the install image.');
export const EnrollmentClaimedEvent = event('enrollment-claimed', { nodeId: Type.String(), mac: Type.String(), bmcAddress: Type.String() }, 'A node claimed a BMC enrollment.');
export const RemediationEvent = event('remediation', { nodeId: Type.String(), action: Type.String(), reason: Type.String(), outcome: Type.String() }, 'The manager acted on a node\'s health.');
export const FailureRecordedEvent = event('failure-recorded', { nodeId: Type.String(), kind: Type.String(), code: Type.String() }, 'A failure counted in the failure rates.');
export const AlertChangedEvent = event('alert-changed', {
  fingerprint: Type.String(), rule: Type.String(), severity: Type.String(), from: Type.Union([AlertStateName, Type.Null()]), to: AlertStateName, summary: Type.String(), tenantId: NullableString,
}, 'An alert moved along its lifecycle.');
export const NotificationFailedEvent = event('notification-failed', { notifier: Type.String(), rule: Type.String(), error: Type.String() }, 'A notifier could not deliver.');

/** Every fleet event a stream may carry. */
export const StreamEvent = Type.Union([
  NodeRegisteredEvent, IdentityConflictEvent, RegistrationRefusedEvent, InstallConflictEvent, InstallRefusedEvent, PresenceChangedEvent, BadMessageEvent,
  HealthChangedEvent, HealthDuplicateEvent, HealthDigestEvent, StateChangedEvent, TenantCreatedEvent, TenantDeletedEvent, NodeTenantChangedEvent,
  PortConfiguredEvent, PortDriftRepairedEvent, CablingWarningEvent, FabricErrorEvent, CommandSentEvent, CommandProgressEvent, CommandExpiredEvent,
  OperationCreatedEvent, OperationProgressEvent, OperationFinishedEvent, BootScriptServedEvent, InstallRegisteredEvent, EnrollmentClaimedEvent,
  RemediationEvent, FailureRecordedEvent, AlertChangedEvent, NotificationFailedEvent,
]);
export type StreamEvent = Static<typeof StreamEvent>;

/** The last event of a stream whose token stopped being valid (SSE `event: stream-ended`). */
export const StreamEnded = Type.Object({
  reason: Type.Union([Type.Literal('token-revoked'), Type.Literal('token-expired')]),
}, { additionalProperties: false });
export type StreamEnded = Static<typeof StreamEnded>;
