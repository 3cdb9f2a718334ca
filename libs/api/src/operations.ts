// Images, cluster templates, reimage operations and BMC power control.
import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const ImageRefText = Type.String({ minLength: 3, maxLength: 129, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'name@version of a catalog image.' });
const Url = Type.String({
  minLength: 1, maxLength: 2048, pattern: '^(https?://|/)\\S+$',
  description: 'http(s) URL, or a path on the manager (/images/…) that is completed with the address nodes reach it at.',
});

export const ImageBody = Type.Object({
  kernelUrl: Url,
  initrdUrl: Url,
  rootUrl: Type.String({ maxLength: 2048, pattern: '^((https?://|/)\\S+)?$', default: '', description: 'The root image the agent writes to the node\'s disk; empty for a discovery image.' }),
  sha256: Type.String({ pattern: '^([0-9a-fA-F]{64})?$', default: '', description: 'sha256 of the root image; empty with an empty rootUrl.' }),
  cmdline: Type.String({ maxLength: 1024, default: '', description: 'Extra kernel command line.' }),
}, { additionalProperties: false });
export type ImageBody = Static<typeof ImageBody>;

export const Image = Type.Object({ name: Type.String(), version: Type.String(), kernelUrl: Type.String(), initrdUrl: Type.String(), rootUrl: Type.String(), sha256: Type.String(), cmdline: Type.String() });
export type Image = Static<typeof Image>;
export const ImageList = Type.Object({ items: Type.Array(Image) });
export const ImageParams = Type.Object({ name: Name, version: Name });

export const CreateTemplate = Type.Object({
  name: Name,
  image: ImageRefText,
  tenantId: Type.String({ minLength: 1, maxLength: 64 }),
  nodeCount: Type.Integer({ minimum: 1, maximum: 100000 }),
  gpuModel: Type.String({ maxLength: 128, default: '', description: 'Exact GPU model; empty: any.' }),
  gpuCount: Type.Integer({ minimum: 0, maximum: 64, default: 0, description: 'At least this many GPUs.' }),
  minMemoryGiB: Type.Number({ minimum: 0, default: 0, description: 'At least this much memory.' }),
}, { additionalProperties: false });
export type CreateTemplate = Static<typeof CreateTemplate>;

export const Template = Type.Object({
  id: Type.String(), name: Type.String(), image: Type.String(), tenantId: Type.String(), nodeCount: Type.Integer(),
  gpuModel: Type.String(), gpuCount: Type.Integer(), minMemoryGiB: Type.Number(), createdAt: Timestamp,
});
export type Template = Static<typeof Template>;
export const TemplateList = Type.Object({ items: Type.Array(Template) });

/** What the manager itself saw of the node going down and booting the install image; a reported install needs it. */
export const ReimageEvidence = Type.Object({
  rebootBy: Type.Union([Type.Literal('bmc'), Type.Literal('agent'), Type.Null()], { description: 'How the node was to go down once it acked: through its BMC, or rebooted by its agent.' }),
  rebootAckedAt: NullableTimestamp,
  powerCycledAt: Type.Union([Timestamp, Type.Null()], { description: 'The manager\'s last power cycle of the node through its BMC.' }),
  installBoot: Type.Union([Type.Object({ at: Timestamp, peer: Type.String() }), Type.Null()], { description: 'The last time the boot endpoint served this reimage\'s install script.' }),
  installRegisteredAt: NullableTimestamp,
  missing: Type.Union([Type.Literal('reboot'), Type.Literal('power-cycle'), Type.Literal('install-boot'), Type.Null()], { description: 'Why a reported install was refused.' }),
  proof: Type.Union([Type.Literal('manager'), Type.Literal('agent-only'), Type.Null()], {
    description: 'What a believed install rests on. manager: the manager\'s own power cycle through the BMC, then the install boot. agent-only: the node has no BMC and every sign '
      + 'came from the node itself, whose root may be its tenant\'s: not verified that the disk was rewritten. null: not believed (yet).',
  }),
  refused: Type.Union([
    Type.Object({ at: Timestamp, step: Type.Union([Type.Literal('boot-script'), Type.Literal('registration')]), peer: Type.String(), reason: Type.String() }),
    Type.Null(),
  ], { description: 'The latest request for this reimage\'s install the manager refused (a second fetch of its install script, a registration with its token from another address); the reimage went on.' }),
});

/** Why a node's reimage failed: match on `code` (stable), show `details`. The manager's mapper checks these against the domain's codes. */
export const reimageFailureCodes = [
  'node-missing', 'image-missing', 'transition-refused', 'drain-failed', 'isolate-failed', 'command-failed', 'power-cycle-failed', 'no-bmc',
  'health-check-failed', 'unhealthy', 'restore-failed', 'agent-failed', 'identity-conflict', 'timeout', 'image-mismatch', 'missing-evidence', 'node-busy', 'acceptance-failed',
] as const;
export const ReimageFailure = Type.Object({
  code: Type.Enum(reimageFailureCodes),
  phase: Type.String({ description: 'The phase the node was in when its reimage failed.' }),
  details: Type.String(),
});
export type ReimageFailure = Static<typeof ReimageFailure>;

export const OperationNode = Type.Object({
  nodeId: Type.String(), hostname: Type.String({ description: 'The node\'s host name now (\'\' for a node deleted since).' }), rack: Type.String(), tenant: Type.Union([Type.String(), Type.Null()]), phase: Type.String(), message: Type.String(),
  powerCycles: Type.Integer(), deadlineAt: NullableTimestamp, commandId: Type.Union([Type.String(), Type.Null()]), updatedAt: Timestamp,
  evidence: ReimageEvidence,
  failure: Type.Union([ReimageFailure, Type.Null()], { description: 'Set when phase is failed.' }),
});

const operationSummaryFields = {
  id: Type.String(),
  kind: Type.String(),
  state: Type.String({ description: 'running, succeeded or failed.' }),
  image: Type.String(),
  priority: Type.Integer(),
  urgent: Type.Boolean(),
  actor: Type.String(),
  reason: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};
export const OperationSummary = Type.Object(operationSummaryFields);
export const Operation = Type.Object({
  ...operationSummaryFields,
  progress: Type.Object({
    total: Type.Integer(), done: Type.Integer(), failed: Type.Integer(), inFlight: Type.Integer(), queued: Type.Integer(),
    unverified: Type.Integer({ description: 'Nodes whose install was believed on their agent\'s word alone (evidence.proof agent-only: no BMC); not proven wiped.' }),
  }),
  nodes: Type.Array(OperationNode),
});
export type Operation = Static<typeof Operation>;
export const OperationList = Type.Object({ items: Type.Array(OperationSummary) });
export const OperationParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const TemplateParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const ReimageNode = Type.Object({
  image: ImageRefText,
  priority: Type.Integer({ minimum: -1000, maximum: 1000, default: 0 }),
}, { additionalProperties: false });

export const ReimageBatch = Type.Object({
  image: ImageRefText,
  priority: Type.Integer({ minimum: -1000, maximum: 1000, default: 0 }),
  nodeIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100000 })),
  selector: Type.Optional(Type.Object({
    tenant: Type.Optional(Type.String({ maxLength: 64 })),
    rack: Type.Optional(Type.String({ maxLength: 128 })),
    gpuModel: Type.Optional(Type.String({ maxLength: 128 })),
    state: Type.Optional(Type.Union([Type.Literal('allocated'), Type.Literal('active')])),
  }, { additionalProperties: false, description: 'Every node matching all given fields.' })),
  reason: Type.String({ maxLength: 512, default: 'operator request' }),
}, { additionalProperties: false });
export type ReimageBatch = Static<typeof ReimageBatch>;

export const TemplateApplyResult = Type.Object({
  operation: Type.Union([Operation, Type.Null()]),
  allocated: Type.Array(Type.String()),
  already: Type.Integer({ description: 'Nodes the tenant already had towards the template\'s size.' }),
});

export const BmcBody = Type.Object({
  driver: Type.Union([Type.Literal('ipmi'), Type.Literal('redfish')]),
  address: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$' }),
  port: Type.Integer({ minimum: 1, maximum: 65535, description: 'IPMI: usually 623; Redfish: 443.' }),
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  cipherSuite: Type.Integer({ minimum: 0, maximum: 17, default: 3, description: 'IPMI lanplus cipher suite.' }),
  insecureTls: Type.Boolean({ default: false, description: 'Redfish: accept the BMC\'s self-signed certificate.' }),
  https: Type.Boolean({ default: true, description: 'Redfish: https (false only for a lab).' }),
}, { additionalProperties: false });
export type BmcBody = Static<typeof BmcBody>;

export const BmcView = Type.Object({ driver: Type.String(), address: Type.String(), port: Type.Integer(), username: Type.String(), cipherSuite: Type.Integer(), insecureTls: Type.Boolean() });

export const EnrollBody = Type.Object({
  mac: Type.String({ pattern: '^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$', description: 'MAC of the NIC the machine network-boots from.' }),
  bmc: BmcBody,
  powerOn: Type.Boolean({ default: true, description: 'Set the next boot to PXE and power on (a machine already on is power-cycled).' }),
}, { additionalProperties: false });
export type EnrollBody = Static<typeof EnrollBody>;
export const Enrollment = Type.Object({
  mac: Type.String(), bmc: BmcView, createdAt: Timestamp, nodeId: Type.Union([Type.String(), Type.Null()]), claimedAt: NullableTimestamp,
});
export const EnrollResult = Type.Object({ ...Enrollment.properties, power: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('unchanged')]) });
export const EnrollmentList = Type.Object({ items: Type.Array(Enrollment) });

export const PowerAction = Type.Object({
  action: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('cycle'), Type.Literal('pxe')], { description: 'pxe: next boot from the network (once).' }),
}, { additionalProperties: false });
export const PowerStatus = Type.Object({ power: Type.Union([Type.Literal('on'), Type.Literal('off')]) });

export const NodeActionBody = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why: kept in the node\'s history and the audit log.' }),
}, { additionalProperties: false });
export const ReplaceResult = Type.Object({
  outcome: Type.String(),
  operationId: Type.Union([Type.String(), Type.Null()], { description: 'The reimage of the replacement, when one was found.' }),
});

export const FailureRateQuery = Type.Object({
  window: Type.Enum(['1h', '6h', '24h', '7d', '30d'], { default: '24h', description: 'Sliding window ending now.' }),
  by: Type.Enum(['fleet', 'pool', 'rack', 'tenant', 'vendor', 'model', 'gpuModel', 'bios', 'vbios', 'driver', 'firmware'], { default: 'fleet', description: 'Cohort dimension.' }),
}, { additionalProperties: false });
export const FailureRates = Type.Object({
  window: Type.String(), by: Type.String(),
  items: Type.Array(Type.Object({
    cohort: Type.String(), nodes: Type.Integer(), failedNodes: Type.Integer(), failures: Type.Integer(),
    rate: Type.Number({ description: 'Distinct failed nodes / nodes in the cohort, 0..1.' }),
    mtbfHours: Type.Union([Type.Number(), Type.Null()], { description: 'Node-hours in the window per failure.' }),
    acceptanceFailures: Type.Integer({ description: 'Of the failures, acceptance runs that failed.' }),
    repairs: Type.Integer({ description: 'Repairs done in the window (nodes marked repaired): not failures.' }),
  })),
});

export const FailureTrendQuery = Type.Object({
  days: Type.Integer({ minimum: 1, maximum: 90, default: 30 }),
}, { additionalProperties: false });
export const FailureTrend = Type.Object({
  days: Type.Integer(),
  items: Type.Array(Type.Object({
    at: Timestamp, failures: Type.Integer(), failedNodes: Type.Integer(),
    rate: Type.Number({ description: 'Failed nodes that day / nodes now.' }),
  })),
});
