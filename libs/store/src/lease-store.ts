// Leases for work shared by manager replicas (shards of nodes, singleton loops),
// with fencing epochs. Expiry is decided by the database's clock only: the
// replicas' clocks may differ and step. Taking a lease (free, or expired)
// raises its epoch; renewing keeps it and needs the lease still live; an
// expired lease is never renewed, only taken again with a new epoch, so every
// effect made under the old epoch can be told apart and refused where it lands.
import type { SqlExecutor } from './sql-executor.ts';

/** The lease a write is made under: the write lands only while `holder` holds `lease` live with `epoch`. */
export interface Fence {
  lease: string;
  holder: string;
  epoch: number;
}

/** A write refused because its fence no longer holds: the lease expired, or another replica took it (a newer epoch). */
export class FencedOut extends Error {
  readonly fence: Fence;
  constructor(fence: Fence, what: string) {
    super(`${what} refused: ${fence.holder} no longer holds ${fence.lease} under epoch ${fence.epoch}`);
    this.name = 'FencedOut';
    this.fence = fence;
  }
}

/** SQL (with its parameters) that holds while `fence` does, by the database's clock (`now` of the dialect). */
export function fenceHolds(fence: Fence, now: string): { sql: string; params: unknown[] } {
  return { sql: `EXISTS (SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ${now})`, params: [fence.lease, fence.holder, fence.epoch] };
}

export interface LeaseRow {
  name: string;
  holder: string;
  epoch: number;
  /** Whether it has not expired, by the database's clock. */
  live: boolean;
}

export interface LeaseStore {
  /**
   * Takes `name` for `holder` when it is free, expired, or already `holder`'s (a replica restarted under the
   * same id takes its leases back at once): the new epoch, or null when another holds it live.
   */
  claimLease(name: string, holder: string, ttlMs: number): Promise<number | null>;
  /** Extends a live lease held with `epoch`; false when it expired or was taken meanwhile (stop acting on it). */
  renewLease(name: string, holder: string, epoch: number, ttlMs: number): Promise<boolean>;
  /** Gives a lease up at once (others may take it now). */
  releaseLease(name: string, holder: string, epoch: number): Promise<void>;
  /**
   * claimLease for many names in one statement: the epochs of those taken. A replica's round touches
   * its 256 shards at once: one statement each filled SQLite's write-ahead log (and PostgreSQL's) for nothing.
   */
  claimLeases(names: readonly string[], holder: string, ttlMs: number): Promise<Map<string, number>>;
  /** renewLease for many leases in one statement: the names renewed (the others expired or were taken). */
  renewLeases(leases: ReadonlyArray<{ name: string; epoch: number }>, holder: string, ttlMs: number): Promise<Set<string>>;
  /** Whether `holder` holds `name` live with `epoch` now: the fencing check where an effect lands. */
  holdsLease(name: string, holder: string, epoch: number): Promise<boolean>;
  listLeases(): Promise<LeaseRow[]>;
}

/** `now`: the database's clock in ms since the epoch, as an SQL expression of the dialect. */
export function sqlLeaseStore(db: SqlExecutor, now: string): LeaseStore {
  return {
    async claimLease(name, holder, ttlMs) {
      const rows = await db.all<{ epoch: number | string }>(
        `INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ${now} + ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = leases.epoch + 1, expires_at = excluded.expires_at
         WHERE leases.expires_at <= ${now} OR leases.holder = excluded.holder
         RETURNING epoch`, [name, holder, ttlMs]);
      return rows[0] ? Number(rows[0].epoch) : null;
    },
    async renewLease(name, holder, epoch, ttlMs) {
      return (await db.run(`UPDATE leases SET expires_at = ${now} + ? WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ${now}`, [ttlMs, name, holder, epoch])) === 1;
    },
    async claimLeases(names, holder, ttlMs) {
      const taken = new Map<string, number>();
      // In slices: a statement's parameters are bounded (SQLite 32,766; PostgreSQL 65,535).
      for (let i = 0; i < names.length; i += 500) {
        const slice = names.slice(i, i + 500);
        const rows = await db.all<{ name: string; epoch: number | string }>(
          `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ${slice.map(() => `(?, ?, 1, ${now} + ?)`).join(', ')}
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = leases.epoch + 1, expires_at = excluded.expires_at
           WHERE leases.expires_at <= ${now} OR leases.holder = excluded.holder
           RETURNING name, epoch`, slice.flatMap((name) => [name, holder, ttlMs]));
        for (const row of rows) taken.set(row.name, Number(row.epoch));
      }
      return taken;
    },
    async renewLeases(leases, holder, ttlMs) {
      const renewed = new Set<string>();
      const wanted = new Map(leases.map((l) => [l.name, l.epoch]));
      for (let i = 0; i < leases.length; i += 500) {
        const slice = leases.slice(i, i + 500);
        const rows = await db.all<{ name: string; epoch: number | string }>(
          `UPDATE leases SET expires_at = ${now} + ? WHERE holder = ? AND expires_at > ${now} AND name IN (${slice.map(() => '?').join(', ')}) RETURNING name, epoch`,
          [ttlMs, holder, ...slice.map((l) => l.name)]);
        // A lease live under this holder id with another epoch is not this replica's: not renewed (see the keeper's warning).
        for (const row of rows) if (wanted.get(row.name) === Number(row.epoch)) renewed.add(row.name);
      }
      return renewed;
    },
    async releaseLease(name, holder, epoch) {
      await db.run(`UPDATE leases SET expires_at = ${now} WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ${now}`, [name, holder, epoch]);
    },
    async holdsLease(name, holder, epoch) {
      return (await db.all(`SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ${now}`, [name, holder, epoch])).length === 1;
    },
    async listLeases() {
      const rows = await db.all<{ name: string; holder: string; epoch: number | string; live: number | boolean }>(
        `SELECT name, holder, epoch, CASE WHEN expires_at > ${now} THEN 1 ELSE 0 END AS live FROM leases ORDER BY name`);
      return rows.map((r) => ({ name: r.name, holder: r.holder, epoch: Number(r.epoch), live: Number(r.live) === 1 }));
    },
  };
}

/** The database's clock in ms, per dialect. */
export const pgNowMs = '(extract(epoch from clock_timestamp()) * 1000)::bigint';
export const sqliteNowMs = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
