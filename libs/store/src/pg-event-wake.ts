// Appending to the event journal on PostgreSQL, and waking every replica's
// readers: the insert runs under a transaction-scoped advisory lock (so
// sequence numbers commit in their order) and sends NOTIFY in the same
// transaction (delivered only once it commits). Readers LISTEN on one
// connection of their own, held while anyone watches and made again after it
// breaks (a database restart); on each new connection they are woken once, for
// what was appended while it was down.
import pg from 'pg';
import type { SqlExecutor } from './sql-executor.ts';
import type { JournalEntry, JournalWithin, Statement } from './event-journal-store.ts';

const reconnectMs = 1000;

export function pgEventWake(db: SqlExecutor, options: { connectionString: string; schema: string }) {
  // Channels and advisory locks are per database, not per schema: both are named after the schema.
  const channel = `metalfleet_events_${options.schema}`;
  const lockKey = `metalfleet-events:${options.schema}`;
  const watchers = new Set<() => void>();
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const wake = () => {
    for (const watcher of [...watchers]) watcher();
  };

  function listen(): void {
    if (closed || client || watchers.size === 0) return;
    const connection = new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: 5000 });
    client = connection;
    const lost = () => {
      if (client !== connection) return;
      client = null;
      void connection.end().catch(() => undefined);
      if (!closed && watchers.size > 0) retry = setTimeout(listen, reconnectMs);
    };
    connection.on('error', lost);
    connection.on('end', lost);
    connection.on('notification', (message) => {
      if (message.channel === channel) wake();
    });
    connection.connect()
      .then(() => connection.query(`LISTEN "${channel}"`))
      .then(() => wake(), lost);
  }

  /**
   * The statements that append `entries` inside a transaction, as its last ones. The wake-up first: NOTIFY is sent at
   * commit wherever it stands. Each insert takes the lock that orders appends itself, before its rows get their
   * sequence numbers: the lock is held from that statement to the commit, one round trip, not three (every replica's
   * changes wait on it). None for no entries.
   */
  const appendWithin = (entries: readonly JournalEntry[]): Statement[] => (entries.length === 0 ? [] : [
    { sql: 'SELECT pg_notify(?, \'\')', params: [channel] },
    ...lockedInserts(entries, lockKey),
  ]);

  /**
   * The same append for a change made in one statement, run on its own (autocommit): a data-modifying CTE that appends
   * one set of rows per row of the statement's CTE `made` (none: the change was not made), and a scalar subquery for
   * the statement's SELECT list that sends the wake-up. The lock is then held to the end of that statement, on the
   * server, not across a round trip to the client (a busy event loop's lag included). Taken after the change's own
   * row locks: the CTE reads `made`, which the statement's SELECT has run to the end first.
   */
  const appendInStatement = (entries: readonly JournalEntry[], made: string): { cte: Statement; wake: Statement } => {
    if (entries.length > 1000) throw new Error('a change made in one statement journals at most 1,000 events');
    return {
      cte: {
        sql: `journal AS (INSERT INTO fleet_events (at, type, body)
          SELECT v.at, v.type, v.body FROM ${made}, (SELECT pg_advisory_xact_lock(hashtext(?))) AS l,
            (VALUES ${entries.map(() => '(?::int, ?::bigint, ?::text, ?::text)').join(', ')}) AS v(n, at, type, body)
          ORDER BY v.n)`,
        params: [lockKey, ...entries.flatMap((e, n) => [n, e.at.getTime(), e.type, e.body])],
      },
      wake: { sql: `(SELECT count(pg_notify(?, '')) FROM ${made})`, params: [channel] },
    };
  };

  return {
    appendInStatement,
    async append(entries: readonly JournalEntry[]) {
      await db.atomically(appendWithin(entries));
    },
    appendWithin,
    /** The same, for dialect-neutral code: the NOTIFY wakes the readers at commit. */
    within: { statements: appendWithin, committed: () => undefined } satisfies JournalWithin,
    watch(onAppended: () => void) {
      const watcher = () => onAppended();
      watchers.add(watcher);
      listen();
      return () => {
        watchers.delete(watcher);
        if (watchers.size > 0) return;
        clearTimeout(retry);
        const connection = client;
        client = null;
        void connection?.end().catch(() => undefined);
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const connection = client;
      client = null;
      await connection?.end().catch(() => undefined);
    },
  };
}

/**
 * Inserts of `entries` in their order, each taking the advisory lock `lockKey` first: the lock's one-row subquery is
 * joined to the rows, so it is held before the first row's sequence number is drawn (ORDER BY keeps the order).
 */
function lockedInserts(entries: readonly JournalEntry[], lockKey: string): Statement[] {
  const inserts: Statement[] = [];
  // A statement's parameters are bounded (65,535): 1,000 rows of 4.
  for (let i = 0; i < entries.length; i += 1000) {
    const slice = entries.slice(i, i + 1000);
    inserts.push({
      sql: `INSERT INTO fleet_events (at, type, body)
        SELECT v.at, v.type, v.body FROM (SELECT pg_advisory_xact_lock(hashtext(?))) AS l,
          (VALUES ${slice.map(() => '(?::int, ?::bigint, ?::text, ?::text)').join(', ')}) AS v(n, at, type, body)
        ORDER BY v.n`,
      params: [lockKey, ...slice.flatMap((e, n) => [n, e.at.getTime(), e.type, e.body])],
    });
  }
  return inserts;
}
