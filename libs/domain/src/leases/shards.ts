// Work shared by manager replicas: each node belongs to one of a fixed number
// of shards, and a replica owns a shard (all its nodes' reimage steps,
// commands, remediation, presence) while it holds the shard's lease. Singletons
// (the fabric reconciler, the alert engine, the scheduler, failure sweeps) are
// leases of their own. Leases live in PostgreSQL with fencing epochs; this file
// is the arithmetic: which shard a node is in, and how many shards a replica
// should hold so that N replicas share them evenly.

/** Shards the fleet is split into (fixed: changing it moves every node). */
export const shardCount = 256;

/** The lease name of shard `shard`. */
export function shardLease(shard: number): string {
  return `shard/${shard}`;
}

/** The lease name of a singleton loop. */
export function singletonLease(name: string): string {
  return `singleton/${name}`;
}

/** A node's shard: FNV-1a (32-bit) of its id, modulo the shard count (stable across processes and versions). */
export function shardOf(nodeId: string, shards = shardCount): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i += 1) {
    hash ^= nodeId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** Most shards one of `replicas` live replicas should hold: an even share, rounded up. */
export function fairShare(replicas: number, shards = shardCount): number {
  return Math.ceil(shards / Math.max(1, replicas));
}

/**
 * Which free shards a replica should try to take, and which of its own it should give up, so that
 * live replicas converge on even shares: take free ones up to its share (every free shard is taken
 * by someone as long as shares cover them), give back what is above it.
 */
export function rebalance(held: readonly number[], free: readonly number[], replicas: number, shards = shardCount): { take: number[]; release: number[] } {
  const share = fairShare(replicas, shards);
  if (held.length > share) return { take: [], release: [...held].sort((a, b) => b - a).slice(0, held.length - share) };
  return { take: free.slice(0, share - held.length), release: [] };
}
