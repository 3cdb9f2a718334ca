// Images, templates, BMCs, operations and commands: the part of the repository
// API that reimaging and replacement use. Part of FleetStore; one SQL
// implementation (sql-work-store.ts) serves SQLite and PostgreSQL.
import type { AgentCommand, ClusterTemplate, Image, ImageRef, ReimageProgress } from '@metalfleet/domain';
import type { Fence } from './lease-store.ts';
import type { JournalEntry } from './event-journal-store.ts';

export interface BmcConfig {
  driver: 'ipmi' | 'redfish';
  /** Host name or address of the BMC. */
  address: string;
  port: number;
  username: string;
  password: string;
  /** IPMI cipher suite (lanplus); 3 is the common default. */
  cipherSuite: number;
  /** Redfish over HTTPS (false only in a lab). */
  https: boolean;
  /** Redfish over HTTPS with the BMC's self-signed certificate. */
  insecureTls: boolean;
}

/** A machine enrolled by its BMC and boot MAC; `nodeId` once it registered. */
export interface EnrollmentRecord {
  mac: string;
  bmc: BmcConfig;
  createdAt: Date;
  nodeId: string | null;
  claimedAt: Date | null;
}

export type OperationKind = 'reimage' | 'apply-template' | 'replace-node';
export type OperationState = 'running' | 'succeeded' | 'failed';

export interface OperationRecord {
  id: string;
  kind: OperationKind;
  state: OperationState;
  image: ImageRef;
  priority: number;
  /** Urgent work (replacements) ignores maintenance windows and goes first. */
  urgent: boolean;
  actor: string;
  reason: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface OperationNodeRecord {
  operationId: string;
  nodeId: string;
  /** Position in the operation's node list: queue order. */
  position: number;
  rack: string;
  tenant: string | null;
  progress: ReimageProgress;
  commandId: string | null;
  updatedAt: Date;
}

export { commandKinds, type CommandKind } from '@metalfleet/domain';
export const commandStates = ['pending', 'sent', 'acked', 'running', 'succeeded', 'failed', 'expired'] as const;
export type CommandState = (typeof commandStates)[number];
export const openCommandStates: readonly CommandState[] = ['pending', 'sent', 'acked', 'running'];

/** A command and its bookkeeping; kind and args are one of the typed commands (checked when read back). */
export type CommandRecord = AgentCommand & {
  id: string;
  nodeId: string;
  operationId: string | null;
  state: CommandState;
  /** Deliveries so far. */
  attempts: number;
  /** When an unacknowledged delivery is sent again (or, after the last, given up). */
  ackDeadlineAt: Date | null;
  message: string;
  verifiedSha256: string;
  createdAt: Date;
  updatedAt: Date;
};

export type CommandUpdate = Partial<Pick<CommandRecord, 'state' | 'attempts' | 'ackDeadlineAt' | 'message' | 'verifiedSha256'>>;

export interface WorkStore {
  /** Adds or replaces an image (name and version are its key). */
  putImage(image: Image, at: Date): Promise<void>;
  listImages(): Promise<Image[]>;
  getImage(ref: ImageRef): Promise<Image | null>;
  deleteImage(ref: ImageRef): Promise<boolean>;

  /** Fails with `conflict` when the name is taken. */
  createTemplate(template: ClusterTemplate): Promise<void>;
  listTemplates(): Promise<ClusterTemplate[]>;
  getTemplate(id: string): Promise<ClusterTemplate | null>;
  deleteTemplate(id: string): Promise<boolean>;

  /** Sets (or with null, forgets) how to reach a node's BMC. */
  setBmc(nodeId: string, bmc: BmcConfig | null): Promise<void>;
  getBmc(nodeId: string): Promise<BmcConfig | null>;
  /** Every node's BMC (to seal stored passwords at start). */
  listBmcs(): Promise<Array<{ nodeId: string; bmc: BmcConfig }>>;

  /** Adds or replaces the enrollment of the machine that boots from `mac`. */
  putEnrollment(enrollment: EnrollmentRecord): Promise<void>;
  listEnrollments(): Promise<EnrollmentRecord[]>;
  /** Marks the unclaimed enrollment of one of `macs` as this node's and returns it; null when there is none. */
  claimEnrollment(macs: readonly string[], nodeId: string, at: Date): Promise<EnrollmentRecord | null>;

  /**
   * The operation and all its nodes, in one transaction. Fails with `conflict` (details.nodeIds) and writes
   * nothing when another operation holds one of the nodes in an entry that has not ended.
   */
  /** `events` go into the event journal in the same transaction. */
  createOperation(operation: OperationRecord, nodes: readonly OperationNodeRecord[], events?: readonly JournalEntry[]): Promise<void>;
  getOperation(id: string): Promise<OperationRecord | null>;
  operationNodes(operationId: string): Promise<OperationNodeRecord[]>;
  /** Newest first. */
  listOperations(limit: number): Promise<OperationRecord[]>;
  /** Running operations whose every node has ended (done or failed), however old: what is left is to finish them. */
  operationsToFinish(): Promise<OperationRecord[]>;
  finishOperation(id: string, state: OperationState, at: Date): Promise<void>;
  /** With `fence`, written only while the lease holds (else FencedOut): a replica paused past its lease writes nothing stale. */
  saveOperationNode(operationId: string, nodeId: string, progress: ReimageProgress, commandId: string | null, at: Date, fence?: Fence): Promise<void>;
  /** Nodes of running operations that have not ended (queued or in flight), oldest operation first. */
  openOperationNodes(): Promise<Array<OperationNodeRecord & { operation: OperationRecord }>>;

  createCommand(command: CommandRecord): Promise<void>;
  /**
   * Writes `command` (sent) and gives up each of `replaces` still pending or sent (expired, "superseded by …"), in one
   * transaction, against the agent's claim (updateCommand pending/sent → acked): when one of `unlessClaimed` (the
   * replaced ones and any the caller knows to be running) has moved past sent, the agent claimed it and it runs, so
   * `command` is written expired instead, naming it, and must not be sent. Returns the state `command` was written in.
   */
  createCommandReplacing(command: CommandRecord, replaces: readonly string[], unlessClaimed: readonly string[]): Promise<'sent' | 'expired'>;
  getCommand(id: string): Promise<CommandRecord | null>;
  /** Applies `update` only while the command is in one of `from`; returns whether it did. */
  /** Under `fence` (the node's shard lease, for a resend or a give-up): false, and nothing written, once it no longer holds. */
  updateCommand(id: string, from: readonly CommandState[], update: CommandUpdate, at: Date, fence?: Fence): Promise<boolean>;
  /**
   * Commands not yet finished (pending, sent, acked, running), oldest first. One whose stored arguments no longer fit its kind is failed with
   * the reason and left out; one of a kind this manager does not know (a newer manager's) is left out untouched.
   */
  openCommands(): Promise<CommandRecord[]>;
  /** A node's commands, newest first. */
  commandsOf(nodeId: string, limit: number): Promise<CommandRecord[]>;
}
