// How long the manager was down before this start: what reimage deadlines in
// flight are moved by (the manager's downtime never fails a reimage). Counted
// from the latest evidence that the run before it was alive, never from
// clock.json alone: that file is written every sweep, and a run whose writes of
// it failed for hours (a full disk) left it hours old while the manager went on
// working — counted from it, every deadline would be stretched by those hours.
// The store's own writes are that evidence (nodes seen, commands, reimage steps:
// every few seconds in a working fleet, in the manager's time); on PostgreSQL
// they go on through a full data directory, on SQLite often too (a WAL reuses
// its space). So the move is never longer than the time from the last thing the
// manager wrote to now, which bounds the real downtime from above.

/** After a host reboot the gap is read on the host clock, which may have been far off: never more than this. */
export const maxDowntimeMs = 6 * 3_600_000;

export interface DowntimeEvidence {
  /** When the run before this one last wrote clock.json (the manager's time); null without the file (downtime unknown: 0). */
  lastRunAt: Date | null;
  /** The latest manager time stamped on a write to the store; null in an empty store. */
  storeWroteAt: Date | null;
}

/** Milliseconds from the latest sign of the last run to `now`, within [0, maxDowntimeMs]; 0 when the last run is unknown. */
export function downtimeMs(now: Date, evidence: DowntimeEvidence): number {
  if (!evidence.lastRunAt) return 0;
  const lastAlive = Math.max(evidence.lastRunAt.getTime(), evidence.storeWroteAt?.getTime() ?? 0);
  return Math.min(maxDowntimeMs, Math.max(0, now.getTime() - lastAlive));
}

/** The downtime at a start, read from the manager's clock and its store. */
export async function downtimeAtStart(clock: { now(): Date; lastRunAt: Date | null }, store: { lastWriteAt(): Promise<Date | null> }): Promise<number> {
  return downtimeMs(clock.now(), { lastRunAt: clock.lastRunAt, storeWroteAt: clock.lastRunAt ? await store.lastWriteAt() : null });
}
