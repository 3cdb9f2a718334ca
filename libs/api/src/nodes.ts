import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

export const NodeState = Type.Enum([
  'discovered', 'inspecting', 'accepting', 'available', 'allocated', 'provisioning', 'active', 'releasing', 'failed', 'repair', 'retired',
], { description: 'Lifecycle state' });

export const Presence = Type.Enum(['online', 'offline', 'unknown'], { description: 'Whether the agent is connected' });

export const NodeIdentity = Type.Object({
  systemUuid: Type.String(),
  systemSerial: Type.String(),
  chassisSerial: Type.String(),
  boardSerial: Type.String(),
  macs: Type.Array(Type.String()),
  bmcAddress: Type.String(),
});

export const Severity = Type.Enum(['ok', 'warning', 'critical']);
export const Remediation = Type.Enum(['none', 'reset-gpu', 'reboot', 'reimage', 'replace']);

export const NodeHealthSummary = Type.Object({
  severity: Severity,
  remediation: Remediation,
  conditionCount: Type.Integer(),
});

export const NodeSummary = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  state: NodeState,
  presence: Presence,
  presenceChangedAt: NullableTimestamp,
  lastSeenAt: NullableTimestamp,
  registeredAt: Timestamp,
  agentVersion: Type.String(),
  identity: NodeIdentity,
  health: NodeHealthSummary,
  tenant: Type.Union([Type.String(), Type.Null()]),
  rack: Type.String(),
  gpuModel: Type.String(),
  gpuCount: Type.Integer(),
});
export type NodeSummary = Static<typeof NodeSummary>;

export const NodeList = Type.Object({
  items: Type.Array(NodeSummary),
  /** All nodes matching the filters, not only this page. */
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
});
export type NodeList = Static<typeof NodeList>;

const Count = Type.Integer({ minimum: 0 });
export const FleetSummary = Type.Object({
  total: Count,
  byState: Type.Object({
    discovered: Count, inspecting: Count, available: Count, allocated: Count, provisioning: Count, active: Count, releasing: Count, failed: Count, repair: Count, retired: Count,
  }),
  byPresence: Type.Object({ online: Count, offline: Count, unknown: Count }),
  byHealth: Type.Object({ ok: Count, warning: Count, critical: Count }, { description: 'Nodes by their worst condition.' }),
});
export type FleetSummary = Static<typeof FleetSummary>;

const Cpu = Type.Object({ vendor: Type.String(), model: Type.String(), cores: Type.Integer(), threads: Type.Integer(), baseGhz: Type.Number() });
const Dimm = Type.Object({
  locator: Type.String(), sizeBytes: Type.Number(), type: Type.String(), speedMts: Type.Integer(), serial: Type.String(),
  ecc: Type.Union([Type.Boolean(), Type.Null()], { description: 'Error correction as the firmware reports it; null: not read.' }),
});
const Disk = Type.Object({ name: Type.String(), model: Type.String(), serial: Type.String(), sizeBytes: Type.Number(), nvme: Type.Boolean(), firmware: Type.String() });
const LldpNeighbor = Type.Object({ switchName: Type.String(), switchId: Type.String(), portId: Type.String(), portDescription: Type.String() });
const Nic = Type.Object({
  name: Type.String(), mac: Type.String(), speedMbps: Type.Integer(), linkUp: Type.Boolean(), driver: Type.String(), firmware: Type.String(),
  physical: Type.Boolean(), neighbor: Type.Union([LldpNeighbor, Type.Null()]),
});
const Gpu = Type.Object({
  index: Type.Integer(), model: Type.String(), uuid: Type.String(), serial: Type.String(), vbiosVersion: Type.String(),
  driverVersion: Type.String(), cudaVersion: Type.String(), pciBusId: Type.String(), memoryBytes: Type.Number(),
  pcieMaxGen: Type.Integer(), pcieMaxWidth: Type.Integer(), pcieLinkMaxGen: Type.Integer(), pcieCurrentWidth: Type.Integer(), migMode: Type.String(), powerLimitW: Type.Number(), defaultPowerLimitW: Type.Number(),
  eccMode: Type.String({ description: 'ECC mode now: Enabled, Disabled, or empty when not read.' }),
});

export const Inventory = Type.Object({
  system: Type.Object({
    vendor: Type.String(), model: Type.String(), biosVendor: Type.String(), biosVersion: Type.String(),
    bmcFirmwareVersion: Type.String(), virtual: Type.Boolean(), hostname: Type.String(),
  }),
  cpus: Type.Array(Cpu),
  memory: Type.Object({ totalBytes: Type.Number(), dimms: Type.Array(Dimm) }),
  disks: Type.Array(Disk),
  nics: Type.Array(Nic),
  gpus: Type.Array(Gpu),
  os: Type.Object({ distro: Type.String(), release: Type.String(), kernel: Type.String(), arch: Type.String(), machineId: Type.String() }),
  failures: Type.Array(Type.Object({ collector: Type.String(), message: Type.String() })),
  collectedAt: NullableTimestamp,
});


export const NodeIdParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'Node id' }),
});

export const NodeListQuery = Type.Object({
  presence: Type.Optional(Presence),
  state: Type.Optional(NodeState),
  tenant: Type.Optional(Type.String({ maxLength: 128 })),
  rack: Type.Optional(Type.String({ maxLength: 128 })),
  gpuModel: Type.Optional(Type.String({ maxLength: 128 })),
  health: Type.Optional(Type.Enum(['ok', 'warning', 'critical'], { description: 'Worst condition severity' })),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Free text: id, host name, serial, UUID, MAC, rack, tenant, GPU model' })),
  offset: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
}, { additionalProperties: false });
export type NodeListQuery = Static<typeof NodeListQuery>;

export const HealthCondition = Type.Object({
  component: Type.String(),
  code: Type.String(),
  severity: Severity,
  remediation: Remediation,
  message: Type.String(),
  since: Timestamp,
});

export const HealthEvent = Type.Object({
  eventId: Type.String(),
  sequence: Type.Integer(),
  at: Timestamp,
  receivedAt: Timestamp,
  changes: Type.Array(Type.Object({
    kind: Type.Enum(['appeared', 'changed', 'cleared']), condition: HealthCondition,
    evidence: Type.Optional(Type.Array(Type.String(), { description: 'The raw lines that raised it (the kernel log\'s), as the node sent them.' })),
  })),
});

export const NodeHealth = Type.Object({
  overall: Type.Object({ severity: Severity, remediation: Remediation }),
  conditions: Type.Array(HealthCondition),
  events: Type.Array(HealthEvent),
});
export type NodeHealth = Static<typeof NodeHealth>;

export const NodeHealthQuery = Type.Object({
  events: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 100, description: 'How many of the latest events to include.' })),
});

export const Transition = Type.Object({
  from: NodeState,
  to: NodeState,
  event: Type.String(),
  actor: Type.String(),
  reason: Type.String(),
  at: Timestamp,
});

export const NodeHistory = Type.Object({ items: Type.Array(Transition) });
export type NodeHistory = Static<typeof NodeHistory>;

export const TelemetryQuery = Type.Object({
  metric: Type.Enum(['cpu_load_percent', 'memory_used_bytes', 'temperature_c', 'memory_temperature_c', 'power_w', 'utilization_percent', 'ecc_volatile_uncorrected']),
  gpu: Type.Optional(Type.Integer({ minimum: 0, maximum: 63, description: 'GPU index; omit for node-level metrics.' })),
  range: Type.Enum(['1h', '6h', '24h'], { default: '1h' }),
});
export type TelemetryQuery = Static<typeof TelemetryQuery>;

export const TelemetrySeries = Type.Object({
  metric: Type.String(),
  gpu: Type.Union([Type.Integer(), Type.Null()]),
  points: Type.Array(Type.Object({ at: Timestamp, avg: Type.Number(), min: Type.Number(), max: Type.Number(), count: Type.Integer() })),
});
export type TelemetrySeries = Static<typeof TelemetrySeries>;

/** One node: its summary, full inventory, current health conditions and lifecycle history. */
export const NodeAction = Type.Enum(['reimage', 'replace', 'drain', 'power-cycle', 'allocate', 'release', 'retry', 'repair', 'repaired', 'retire'],
  { description: 'Something an operator may do to a node' });

export const NodeDetail = Type.Intersect([NodeSummary, Type.Object({
  inventory: Inventory,
  conditions: Type.Array(HealthCondition),
  history: Type.Array(Transition),
  actions: Type.Array(NodeAction, { description: 'What an operator may do to the node in its state (the dashboard shows no other)' }),
})]);

/** A lifecycle action by hand: why (kept in the node's history and the audit log). */
export const NodeLifecycleAction = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why; for `repaired`, what was done (parts swapped, firmware)' }),
  ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The repair or RMA ticket, kept with the reason' })),
}, { additionalProperties: false });
export type NodeLifecycleAction = Static<typeof NodeLifecycleAction>;

export const NodeActionResult = Type.Object({
  nodeId: Type.String(),
  from: NodeState,
  to: NodeState,
  actions: Type.Array(NodeAction, { description: 'What the node allows now' }),
});
export type NodeActionResult = Static<typeof NodeActionResult>;
export type NodeDetail = Static<typeof NodeDetail>;

export const NodeCommand = Type.Object({
  id: Type.String(), kind: Type.String(), state: Type.String(), operationId: Type.Union([Type.String(), Type.Null()]),
  args: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])), attempts: Type.Integer(), message: Type.String(),
  createdAt: Timestamp, updatedAt: Timestamp,
});
export const NodeCommandList = Type.Object({ items: Type.Array(NodeCommand) });

const GpuCell = Type.Object({
  index: Type.Union([Type.Integer(), Type.Null()], { description: 'null: a GPU the inventory no longer shows (fallen off the bus).' }),
  bus: Type.String(), severity: Severity, codes: Type.Array(Type.String()),
});
/** Racks × nodes × GPUs coloured by worst condition. */
export const GpuHealthMap = Type.Object({
  items: Type.Array(Type.Object({
    nodeId: Type.String(), hostname: Type.String(), rack: Type.String(), tenant: Type.Union([Type.String(), Type.Null()]), state: NodeState,
    host: Severity, hostCodes: Type.Array(Type.String()), gpus: Type.Array(GpuCell),
  })),
});
export type GpuHealthMap = Static<typeof GpuHealthMap>;
