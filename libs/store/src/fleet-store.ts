// The repository API the manager uses for fleet state. SQLite implements it
// today; PostgreSQL implements the same interface for high availability.
import type { NetworkStore } from './network-store.ts';
import type { WorkStore } from './work-store.ts';
import type { AcceptanceStore } from './acceptance-store.ts';
import type { SkuProfileStore } from './sku-profile-store.ts';
import type { ReplacementStore } from './replacement-store.ts';
import type { AccessStore } from './access-store.ts';
import type { AlertStore } from './alert-store.ts';
import type { IdentityStore } from './identity-store.ts';
import type { Fence, LeaseStore } from './lease-store.ts';
import type { EventJournalStore, JournalEntry } from './event-journal-store.ts';
import type { NodeCertificateStore } from './node-certificate-store.ts';
import type { StoreAvailability } from './store-health.ts';
export type { StoreAvailability } from './store-health.ts';
export type { IdentityConflict } from './identity-store.ts';
import type { AgentConnection, BootstrapTokenRecord, HealthChange, HealthCondition, Inventory, KnownIdentity, LifecycleEvent, NodeIdentity, NodeState, NodeSummary, Presence, TransitionCause } from '@metalfleet/domain';

export interface NodeRecord extends NodeSummary {
  inventory: Inventory;
}

export interface NewNode {
  id: string;
  hostname: string;
  identity: NodeIdentity;
  inventory: Inventory;
  agentVersion: string;
  credentialHash: string;
  at: Date;
}

/**
 * The bootstrap token use a registration spends: counted in the same transaction
 * as the node write (no use is spent for a node that was not written), and
 * recorded against the machine's identity key so the same registration retried
 * after a lost reply is recognised (findTokenUse).
 */
export interface TokenUse {
  tokenId: string;
  identityKey: string;
  /** Hash of the registration's secret nonce; a retry is answered only to the same nonce (null: never answered again). */
  nonceHash: string | null;
  /**
   * A registration retried after its reply was lost spends nothing more: its write goes ahead only while
   * the use it found is still recorded for this node (not settled by the node coming online) and the node
   * still has the credential it had then (`credentialHash`) and the use's nonce hash is still `nonceHash`: of two retries racing, one is written, and the
   * other is refused (`unauthenticated`) instead of answering with a credential the first replaced.
   */
  retry?: { credentialHash: string | null };
  /**
   * The token has no limit on its uses: nothing to race for, so its count is raised once the node's write committed,
   * not under the token's row lock held through that write (every node of a power-on storm uses one token: held
   * through each registration's transaction, the lock made registrations go one at a time, across all replicas).
   */
  unlimited?: boolean;
}

/** A health event as the agent sent it; stored once per event id. */
export interface HealthEventRecord {
  eventId: string;
  sequence: number;
  at: Date;
  receivedAt: Date;
  /** `evidence`: the raw lines that raised the condition (kernel log), where the node sent them. */
  changes: Array<{ kind: HealthChange['kind']; condition: HealthCondition; evidence?: string[] }>;
}

export interface TransitionOptions {
  events?: readonly JournalEntry[];
  fence?: Fence;
}

export interface TransitionRecord {
  from: NodeState;
  to: NodeState;
  event: LifecycleEvent;
  actor: string;
  reason: string;
  at: Date;
}

export interface NodeCounts {
  byStateAndPresence: Array<{ state: NodeState; presence: Presence; count: number }>;
  /** Nodes by their worst condition. */
  bySeverity: Record<'ok' | 'warning' | 'critical', number>;
  /** Conditions (not nodes) by severity. */
  conditionsBySeverity: Record<'ok' | 'warning' | 'critical', number>;
}

export interface FleetStore extends NetworkStore, WorkStore, AccessStore, AcceptanceStore, SkuProfileStore, ReplacementStore, AlertStore, IdentityStore, LeaseStore, EventJournalStore, NodeCertificateStore {
  /** Nodes sharing the system UUID, any serial or any MAC with this identity. */
  findIdentityCandidates(identity: NodeIdentity): Promise<KnownIdentity[]>;
  /** With a token use: spent in the same transaction; `unauthenticated` (and nothing written) when the token has no uses left. */
  createNode(node: NewNode, tokenUse?: TokenUse): Promise<void>;
  /** A known machine registered again (reboot, reimage): new credential, fresh identity and inventory. Token use: as createNode. */
  updateRegistration(node: NewNode, tokenUse?: TokenUse): Promise<void>;
  updateInventory(nodeId: string, inventory: Inventory): Promise<boolean>;
  credentialHash(nodeId: string): Promise<string | null>;
  /** Returns true when the presence changed. */
  /** Under `fence` (the node's shard lease): false, and nothing written, once it no longer holds. */
  /**
   * `agent`: the agent's connection the status came from (none, or an empty session: not from a status). Online
   * records it, unless a later connection of the same session is recorded; offline from another connection than the
   * recorded one (a last will of a connection or session since replaced) changes nothing.
   */
  setPresence(nodeId: string, presence: Presence, at: Date, fence?: Fence, agent?: AgentConnection): Promise<boolean>;
  /** Last-seen times of many nodes in one write (the presence tracker batches heartbeats); never moves a time back. */
  /**
   * Records when nodes were last heard from; returns those of them that are offline since before then (another
   * replica marked them so while this one was hearing from them).
   */
  markSeenMany(seen: ReadonlyArray<readonly [nodeId: string, at: Date]>): Promise<string[]>;
  /** Online nodes last seen before `before`. */
  silentNodes(before: Date): Promise<string[]>;
  /** The latest manager time stamped on what a running manager writes often (last-write.ts); null in an empty store. */
  lastWriteAt(): Promise<Date | null>;
  /**
   * Stores a health event and applies its changes to the node's conditions, in
   * one transaction. Returns false (and changes nothing) for an event id already stored.
   */
  applyHealthEvent(nodeId: string, event: HealthEventRecord): Promise<boolean>;
  /** A digest: the node's full set of conditions now. */
  replaceConditions(nodeId: string, conditions: readonly HealthCondition[]): Promise<void>;
  conditions(nodeId: string): Promise<HealthCondition[]>;
  /** Oldest first, at most `limit` of the latest. */
  healthEvents(nodeId: string, limit: number): Promise<HealthEventRecord[]>;
  /**
   * Newest first, `limit` at a time: the page before `before` (the `next` of the page after it; none for the newest),
   * and the cursor of the page before this one (null when this was the oldest).
   */
  healthEventPage(nodeId: string, limit: number, before?: number): Promise<{ events: HealthEventRecord[]; next: number | null }>;
  /**
   * Moves a node from `from` to `to` and records why, only if it is still in
   * `from` (compare-and-set: two controllers can never both win). Returns false otherwise.
   * `events` go into the event journal in the same transaction, only if the node moved; under `fence` (a lease of
   * the writer's), false once it no longer holds.
   */
  transitionNode(nodeId: string, from: NodeState, to: NodeState, event: LifecycleEvent, cause: TransitionCause, options?: TransitionOptions): Promise<boolean>;
  /** Oldest first. */
  history(nodeId: string): Promise<TransitionRecord[]>;
  /** Nodes in `state` that have been offline since before `before`. */
  offlineSince(state: NodeState, before: Date): Promise<string[]>;
  createBootstrapToken(token: BootstrapTokenRecord): Promise<void>;
  getBootstrapToken(id: string): Promise<BootstrapTokenRecord | null>;
  /** Newest first. */
  listBootstrapTokens(): Promise<BootstrapTokenRecord[]>;
  /** Returns false for an unknown or already revoked token. */
  revokeBootstrapToken(id: string, at: Date): Promise<boolean>;
  /** Counts one use, unless the token has no uses left; returns whether it was counted. */
  useBootstrapToken(id: string): Promise<boolean>;
  listNodes(): Promise<NodeSummary[]>;
  /** Aggregates for /metrics, computed by the database. */
  nodeCounts(): Promise<NodeCounts>;
  getNode(nodeId: string): Promise<NodeRecord | null>;
  /** The node without its inventory: cheap, for hot paths (controllers, existence checks). */
  getNodeSummary(nodeId: string): Promise<NodeSummary | null>;
  /** Rewrites what holds BMC settings so that values overwritten there (plaintext passwords, once sealed) are gone from the files too. */
  purgeOverwrittenSecrets(): Promise<void>;
  /** Whether the database answers now (one round trip), and since when; /readyz reports it. */
  availability(): Promise<StoreAvailability>;
  close(): Promise<void>;
}
