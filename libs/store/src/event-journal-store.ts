// The fleet's event journal: every event, in one order for all manager replicas,
// numbered by `seq`. The event stream (SSE) reads it, so a client sees what any
// replica did and, reconnecting to another with Last-Event-ID, misses nothing.
// Order: on PostgreSQL, appends take one transaction-scoped lock, so sequence
// numbers become visible in the order they were given (a reader that has seen
// seq n never later finds a smaller one committed behind it). A reader is woken
// when rows are appended: in process on SQLite (one manager), by LISTEN/NOTIFY
// on PostgreSQL (any replica).
import type { SqlExecutor } from './sql-executor.ts';

export interface JournalEntry {
  at: Date;
  type: string;
  /** The event as JSON. */
  body: string;
}

export interface JournaledEvent extends JournalEntry {
  seq: number;
}

export interface EventJournalStore {
  /** Appends the entries in their order, in transactions of up to 1,000 (each holds the journal's order while it commits). */
  appendEvents(entries: readonly JournalEntry[]): Promise<void>;
  /** Up to `limit` entries after `seq`, oldest first. */
  eventsAfter(seq: number, limit: number): Promise<JournaledEvent[]>;
  /** The newest entry's seq; 0 when the journal is empty. */
  lastEventSeq(): Promise<number>;
  /** Deletes entries older than `before`; how many. */
  purgeEventsBefore(before: Date): Promise<number>;
  /**
   * Calls `onAppended` after entries were appended, by this process or (PostgreSQL) any other; may call it more often.
   * A wake-up can be lost while the connection it comes on is down: a reader also looks on its own now and then.
   */
  watchEvents(onAppended: () => void): () => void;
}

interface EventRow { seq: number | string; at: number | string; type: string; body: string }

export interface Statement { sql: string; params: unknown[] }

/** The inserts that append `entries` in their order: in slices, since a statement's parameters are bounded (SQLite 32,766; PostgreSQL 65,535). */
export function journalInserts(entries: readonly JournalEntry[]): Statement[] {
  const inserts: Statement[] = [];
  for (let i = 0; i < entries.length; i += 1000) {
    const slice = entries.slice(i, i + 1000);
    inserts.push({
      sql: `INSERT INTO fleet_events (at, type, body) VALUES ${slice.map(() => '(?, ?, ?)').join(', ')}`,
      params: slice.flatMap((e) => [e.at.getTime(), e.type, e.body]),
    });
  }
  return inserts;
}

/**
 * How a dialect appends a change's events inside the change's own transaction (with `atomically`): the statements go
 * last in it, and `committed` is called once it committed.
 */
export interface JournalWithin {
  statements(entries: readonly JournalEntry[]): Statement[];
  committed(entries: readonly JournalEntry[]): void;
}

/** The dialect's part: `append` runs the insert in the transaction that orders it and wakes the readers. */
export function sqlEventJournalStore(db: SqlExecutor, dialect: {
  append(entries: readonly JournalEntry[]): Promise<void>;
  watch(onAppended: () => void): () => void;
}): EventJournalStore {
  return {
    async appendEvents(entries) {
      // A backlog after an outage (up to 100,000) goes in slices: one transaction of it all would hold the journal's
      // lock, which every replica's changes wait on, for the whole of it.
      for (let i = 0; i < entries.length; i += 1000) await dialect.append(entries.slice(i, i + 1000));
    },
    async eventsAfter(seq, limit) {
      const rows = await db.all<EventRow>('SELECT seq, at, type, body FROM fleet_events WHERE seq > ? ORDER BY seq LIMIT ?', [seq, limit]);
      return rows.map((r) => ({ seq: Number(r.seq), at: new Date(Number(r.at)), type: r.type, body: r.body }));
    },
    async lastEventSeq() {
      const rows = await db.all<{ seq: number | string | null }>('SELECT MAX(seq) AS seq FROM fleet_events');
      return Number(rows[0]?.seq ?? 0);
    },
    async purgeEventsBefore(before) {
      return db.run('DELETE FROM fleet_events WHERE at < ?', [before.getTime()]);
    },
    watchEvents: (onAppended) => dialect.watch(onAppended),
  };
}

/** One process appends and reads (SQLite): readers are woken in process, after the append committed. */
export function inProcessEventWake(db: SqlExecutor) {
  const watchers = new Set<() => void>();
  const wake = () => {
    for (const watcher of [...watchers]) watcher();
  };
  return {
    async append(entries: readonly JournalEntry[]) {
      await db.atomically(journalInserts(entries));
      wake();
    },
    /** For a change that appended its events in its own transaction: called once that committed. */
    wake,
    within: {
      statements: journalInserts,
      committed: (entries) => {
        if (entries.length > 0) wake();
      },
    } satisfies JournalWithin,
    watch(onAppended: () => void) {
      const watcher = () => onAppended();
      watchers.add(watcher);
      return () => void watchers.delete(watcher);
    },
  };
}
