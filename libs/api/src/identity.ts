// Identity conflicts (and re-enrolments waiting for approval) and node
// admissions: what an operator reviews before a machine gets a node's
// credential or may serve.
import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';
import { NodeIdentity } from './nodes.ts';

export const IdentityConflict = Type.Object({
  id: Type.String(),
  kind: Type.Enum(['mismatch', 're-enrolment', 'shared-credential'], { description: 'mismatch: a partial match or disagreement with known nodes; re-enrolment: a known node registering without its credential (wiped disk); shared-credential: two agents hold one node\'s credential at once (a cloned disk, a second agent) and take its broker session from each other: stop one, then reject the conflict to close it.' }),
  status: Type.Enum(['open', 'approved', 'rejected', 'enrolled'], { description: 'approved: the next registration with this identity gets the approved node\'s id and a fresh credential (then: enrolled).' }),
  identity: NodeIdentity,
  nodeIds: Type.Array(Type.String(), { description: 'The known nodes it shares identifiers with.' }),
  reason: Type.String(),
  attempts: Type.Integer({ description: 'Registrations refused for this identity while open (shared-credential: times a session came back from another).' }),
  at: Timestamp,
  lastAt: Timestamp,
  resolvedNodeId: Type.Union([Type.String(), Type.Null()]),
  resolvedBy: Type.Union([Type.String(), Type.Null()]),
  resolvedAt: NullableTimestamp,
  lastPeer: Type.String({ description: 'The network address the latest refused registration came from.' }),
  enrolledPeer: Type.Union([Type.String(), Type.Null()], { description: 'The network address of the registration that used the approval.' }),
});
export type IdentityConflict = Static<typeof IdentityConflict>;

export const IdentityConflictList = Type.Object({ items: Type.Array(IdentityConflict) });
export type IdentityConflictList = Static<typeof IdentityConflictList>;

export const IdentityConflictQuery = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'approved', 'rejected', 'enrolled'])),
}, { additionalProperties: false });

export const IdentityConflictParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });

export const ApproveConflict = Type.Object({
  nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The node this machine is; may be left out when the conflict names one node.' })),
}, { additionalProperties: false });
export type ApproveConflict = Static<typeof ApproveConflict>;

export const Admission = Type.Object({
  nodeId: Type.String(),
  state: Type.Enum(['pending', 'admitted']),
  via: Type.String({ description: 'discovery (waiting), operator, bmc-enrollment.' }),
  actor: Type.String(),
  at: Timestamp,
});
export type Admission = Static<typeof Admission>;

export const AdmissionList = Type.Object({ items: Type.Array(Admission) });
export type AdmissionList = Static<typeof AdmissionList>;

export const AdmissionQuery = Type.Object({ state: Type.Optional(Type.Enum(['pending', 'admitted'])) }, { additionalProperties: false });
