import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

export const CreateTenant = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 63, description: 'Lowercase letters, digits and dashes.' }),
}, { additionalProperties: false });
export type CreateTenant = Static<typeof CreateTenant>;

const PortState = Type.Object({
  switchName: Type.String(),
  port: Type.String(),
  nodeId: Type.String(),
  role: Type.Union([Type.Literal('tenant'), Type.Literal('provisioning')]),
  desiredVlan: Type.Integer(),
  actualVlan: Type.Union([Type.Integer(), Type.Null()]),
  drift: Type.Boolean({ description: 'The switch does not carry the desired VLAN (yet).' }),
  why: Type.String(),
});
export type PortState = Static<typeof PortState>;

export const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  vlan: Type.Integer(),
  vni: Type.Integer(),
  createdAt: Timestamp,
  nodes: Type.Array(Type.Object({ id: Type.String(), hostname: Type.String(), state: Type.String() })),
  ports: Type.Array(PortState, { description: 'Ports of this tenant\'s nodes, wherever they are now.' }),
});
export type Tenant = Static<typeof Tenant>;

export const TenantList = Type.Object({ items: Type.Array(Tenant) });
export type TenantList = Static<typeof TenantList>;

export const TenantParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const TenantNodeParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), nodeId: Type.String({ minLength: 1, maxLength: 64 }) });
export const AllocateNode = Type.Object({ nodeId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const FabricStatus = Type.Object({
  checkedAt: NullableTimestamp,
  provisioningVlan: Type.Integer(),
  switches: Type.Array(Type.Object({ name: Type.String(), kind: Type.String() })),
  ports: Type.Array(PortState),
  errors: Type.Array(Type.Object({ switchName: Type.String(), message: Type.String() })),
  cablingWarnings: Type.Array(Type.String()),
  driftRepairs: Type.Integer({ description: 'Ports put back after someone changed them, since the manager started.' }),
});
export type FabricStatus = Static<typeof FabricStatus>;

export const PlannedLinkBody = Type.Object({
  nodeId: Type.String({ minLength: 1, maxLength: 64 }),
  mac: Type.String({ pattern: '^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$', description: 'The node NIC cabled to this port.' }),
}, { additionalProperties: false });
export const PortParams = Type.Object({ switchName: Type.String({ minLength: 1, maxLength: 128 }), port: Type.String({ minLength: 1, maxLength: 128 }) });

// Provisioning steps an operator reports by hand until reimaging reports them
// itself; the state machine still decides whether each is allowed.
export const LifecycleReport = Type.Object({
  event: Type.Union([Type.Literal('provision'), Type.Literal('provisioned'), Type.Literal('released')]),
  reason: Type.String({ minLength: 1, maxLength: 500 }),
}, { additionalProperties: false });
