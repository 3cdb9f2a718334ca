// Appending to the event journal on PostgreSQL, and waking every replica's
// readers: the insert runs under a transaction-scoped advisory lock (so
// sequence numbers commit in their order) and sends NOTIFY in the same
// transaction (delivered only once it commits). Readers LISTEN on one
// connection of their own, held while anyone watches and made again after it
// breaks (a database restart); on each new connection they are woken once, for
// what was appended while it was down.
import pg from 'pg';
import type { SqlExecutor } from './sql-executor.ts';
import { journalInserts, type JournalEntry, type JournalWithin, type Statement } from './event-journal-store.ts';

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

  /** The lock that orders appends, the inserts, and the wake-up (sent at commit). */
  const ordered = (inserts: Statement[]): Statement[] => [
    { sql: 'SELECT pg_advisory_xact_lock(hashtext(?))', params: [lockKey] },
    ...inserts,
    { sql: 'SELECT pg_notify(?, \'\')', params: [channel] },
  ];

  /**
   * The statements that append `entries` inside a change's own transaction, as its last statements: the lock is
   * held from there to the commit only. None for no entries.
   */
  const appendWithin = (entries: readonly JournalEntry[]): Statement[] => (entries.length === 0 ? [] : ordered(journalInserts(entries)));

  return {
    async append(insert: Statement) {
      await db.atomically(ordered([insert]));
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
