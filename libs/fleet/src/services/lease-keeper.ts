// One replica's share of the work: the leases it holds (node shards, singleton
// loops), kept in the store with fencing epochs (lease-store.ts).
//
// Each round (every third of the lease period) it renews what it holds, marks
// itself alive (a `replica/<id>` lease: how replicas count each other), and
// converges on an even share: free or expired shards taken up to its share,
// shards above it given back, free singletons taken by whoever comes first.
// It acts on a lease only while its own monotonic clock says the lease is
// certainly live (lease-validity.ts): a replica paused or cut off past that
// stops acting before the database hands the lease to another, and a lease
// it lost is taken again only under a new epoch.
import { mayAct, rebalance, shardCount, shardLease, shardOf, singletonLease, type LeaseBelief } from '@metalfleet/domain';
import type { LeaseStore, Fence } from '@metalfleet/store';

export interface LeaseKeeperOptions {
  store: LeaseStore;
  /** This replica's id (unique among replicas, e.g. host and pid). */
  holder: string;
  /** Lease period (default 15 s): a dead replica's work is taken over within it. */
  ttlMs?: number;
  /** Singleton loops to share out (names, without prefix). */
  singletons?: readonly string[];
  shards?: number;
  /** Monotonic ms (default performance.now). */
  now?: () => number;
  /** Told when another process seems to run under this replica's id (a lease of its own it did not renew changed epoch). */
  onSharedId?: (lease: string) => void;
}

export interface LeaseKeeper {
  /** One round of renewing, counting and rebalancing. */
  tick(): Promise<void>;
  /** The epoch to act under on lease `name` now, or null: not held, or no longer certainly live. */
  epochFor(name: string): number | null;
  /** The epoch to act under for node `nodeId` (its shard's), or null. */
  epochForNode(nodeId: string): number | null;
  /** The fence for writes of node `nodeId`'s own work (its shard's lease), or null when this replica does not own the node now. */
  fenceForNode(nodeId: string): Fence | null;
  /** Whether this replica runs singleton `name` now. */
  runsSingleton(name: string): boolean;
  /** The fence for writes made under singleton `name` (its epoch), or null when this replica does not run it now. */
  singletonFence(name: string): Fence | null;
  /** Shards and singletons held now (by name), for /metrics and /readyz. */
  held(): string[];
  /** Live replicas at the last round. */
  replicas(): number;
  /** Whether it renews its leases (its own replica lease is certainly live): false while the store does not answer it. */
  renewing(): boolean;
  /** Ticks every third of the lease period until stop(). */
  start(onError: (error: unknown) => void): void;
  /** Stops, and gives every lease back at once (a clean shutdown hands the work over without waiting for expiry). */
  stop(): Promise<void>;
}

const replicaPrefix = 'replica/';

export function createLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { store, holder } = options;
  const ttlMs = options.ttlMs ?? 15_000;
  const shards = options.shards ?? shardCount;
  const now = options.now ?? (() => performance.now());
  const singletons = (options.singletons ?? []).map(singletonLease);
  const self = `${replicaPrefix}${holder}`;
  const beliefs = new Map<string, LeaseBelief>();
  let liveReplicas = 1;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopNext = () => undefined as unknown;

  // Many leases per statement: a round touches up to 256 shards.
  const claim = async (names: readonly string[]) => {
    if (names.length === 0) return;
    const sentAt = now();
    for (const [name, epoch] of await store.claimLeases(names, holder, ttlMs)) beliefs.set(name, { name, epoch, sentAt, ttlMs });
  };

  const renewAll = async () => {
    const held = [...beliefs.values()];
    if (held.length === 0) return;
    const sentAt = now();
    const renewed = await store.renewLeases(held, holder, ttlMs);
    const lost = held.filter((belief) => !renewed.has(belief.name));
    for (const belief of held) {
      if (renewed.has(belief.name)) beliefs.set(belief.name, { ...belief, sentAt });
      else beliefs.delete(belief.name);
    }
    // Lost while certainly live, and now held live under this same id with another epoch: another process uses this id.
    if (lost.length > 0 && options.onSharedId) {
      const rows = new Map((await store.listLeases()).map((r) => [r.name, r]));
      const taken = lost.find((belief) => mayAct(belief, sentAt) && rows.get(belief.name)?.live && rows.get(belief.name)?.holder === holder && rows.get(belief.name)?.epoch !== belief.epoch);
      if (taken) options.onSharedId(taken.name);
    }
  };

  const tick = async () => {
    // A belief past its time is dropped: it is taken again (new epoch) if still free.
    for (const [name, belief] of beliefs) if (!mayAct(belief, now())) beliefs.delete(name);
    await renewAll();
    if (!beliefs.has(self)) await claim([self]);
    const rows = await store.listLeases();
    liveReplicas = Math.max(1, rows.filter((r) => r.live && r.name.startsWith(replicaPrefix)).length);
    // Leases live under another holder. Its own from before a restart (same id) count as free: taken back at once, under new epochs.
    const live = new Set(rows.filter((r) => r.live && r.holder !== holder).map((r) => r.name));
    const heldShards: number[] = [];
    const freeShards: number[] = [];
    // Start the search for free shards at a place of its own, so replicas starting together do not all race for shard 0.
    const offset = shardOf(holder, shards);
    for (let i = 0; i < shards; i += 1) {
      const shard = (offset + i) % shards;
      if (beliefs.has(shardLease(shard))) heldShards.push(shard);
      else if (!live.has(shardLease(shard))) freeShards.push(shard);
    }
    const { take, release } = rebalance(heldShards, freeShards, liveReplicas, shards);
    await claim([...take.map(shardLease), ...singletons.filter((name) => !beliefs.has(name) && !live.has(name))]);
    for (const shard of release) {
      const belief = beliefs.get(shardLease(shard));
      if (!belief) continue;
      beliefs.delete(belief.name);
      await store.releaseLease(belief.name, holder, belief.epoch);
    }
  };

  // One round at a time: a slow database must not start a second round over the first.
  const once = (): Promise<void> => (running ??= tick().finally(() => (running = null)));

  const epochFor = (name: string): number | null => {
    const belief = beliefs.get(name);
    return belief && mayAct(belief, now()) ? belief.epoch : null;
  };

  return {
    tick: once,
    epochFor,
    epochForNode: (nodeId) => epochFor(shardLease(shardOf(nodeId, shards))),
    fenceForNode: (nodeId) => {
      const lease = shardLease(shardOf(nodeId, shards));
      const epoch = epochFor(lease);
      return epoch === null ? null : { lease, holder, epoch };
    },
    runsSingleton: (name) => epochFor(singletonLease(name)) !== null,
    singletonFence: (name) => {
      const epoch = epochFor(singletonLease(name));
      return epoch === null ? null : { lease: singletonLease(name), holder, epoch };
    },
    held: () => [...beliefs.keys()].filter((name) => name !== self && epochFor(name) !== null).sort(),
    replicas: () => liveReplicas,
    renewing: () => epochFor(self) !== null,
    start(onError) {
      let stopped = false;
      const next = () => {
        if (stopped) return;
        timer = setTimeout(() => void once().catch(onError).finally(next), ttlMs / 3);
        timer.unref();
      };
      stopNext = () => (stopped = true);
      void once().catch(onError).finally(next);
    },
    async stop() {
      stopNext();
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => undefined);
      const held = [...beliefs.values()];
      beliefs.clear();
      for (const b of held) await store.releaseLease(b.name, holder, b.epoch).catch(() => undefined);
    },
  };
}
