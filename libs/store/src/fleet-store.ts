// The repository API the manager uses for fleet state. SQLite implements it
// today; PostgreSQL implements the same interface for high availability.
import type { Inventory, KnownIdentity, NodeIdentity, NodeSummary, Presence } from '@metalfleet/domain';

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

export interface IdentityConflict {
  at: Date;
  identity: NodeIdentity;
  nodeIds: readonly string[];
  reason: string;
}

export interface FleetStore {
  /** Nodes sharing the system UUID, any serial or any MAC with this identity. */
  findIdentityCandidates(identity: NodeIdentity): Promise<KnownIdentity[]>;
  createNode(node: NewNode): Promise<void>;
  /** A known machine registered again (reboot, reimage): new credential, fresh identity and inventory. */
  updateRegistration(node: NewNode): Promise<void>;
  updateInventory(nodeId: string, inventory: Inventory): Promise<boolean>;
  credentialHash(nodeId: string): Promise<string | null>;
  /** Returns true when the presence changed. */
  setPresence(nodeId: string, presence: Presence, at: Date): Promise<boolean>;
  markSeen(nodeId: string, at: Date): Promise<void>;
  /** Online nodes last seen before `before`. */
  silentNodes(before: Date): Promise<string[]>;
  recordConflict(conflict: IdentityConflict): Promise<void>;
  listConflicts(): Promise<IdentityConflict[]>;
  listNodes(): Promise<NodeSummary[]>;
  getNode(nodeId: string): Promise<NodeRecord | null>;
  close(): Promise<void>;
}
