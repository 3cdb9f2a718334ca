// When a replica must stop acting on a lease. The database decides expiry by
// its own clock (expires_at = now() + ttl at the renewal); the replica cannot
// read that clock, so it counts on its own monotonic clock from the moment it
// SENT the renewal: the database's now() is later than that, so the lease
// expires later than the replica believes. Minus a margin for clock-rate drift
// and for the time an effect takes to land, it stops in time even when paused
// (SIGSTOP) or partitioned: a replica that wakes up finds its belief expired
// and acts no more until it has renewed.

export interface LeaseBelief {
  name: string;
  epoch: number;
  /** Monotonic ms at which the renewal that granted it was sent. */
  sentAt: number;
  ttlMs: number;
}

/** Margin kept before the database's expiry (default a fifth of the lease, at least 1 s). */
export function safetyMarginMs(ttlMs: number): number {
  return Math.max(1000, Math.round(ttlMs / 5));
}

/** Until when (monotonic ms) the replica may act on `lease`. */
export function actUntil(lease: LeaseBelief): number {
  return lease.sentAt + lease.ttlMs - safetyMarginMs(lease.ttlMs);
}

/** Whether the replica may still act on `lease` at monotonic time `now`. */
export function mayAct(lease: LeaseBelief, now: number): boolean {
  return now < actUntil(lease);
}
