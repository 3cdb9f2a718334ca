// A change and its events in one SQLite transaction: the events are in the
// journal exactly when the change is, and readers are woken once both committed.
import type { SQLInputValue } from 'node:sqlite';
import { journalInserts, type JournalEntry } from './event-journal-store.ts';
import { sqliteTransaction, type SqliteHandle } from './sqlite-statements.ts';

/** Runs `change` (true: it changed something) and, only then, appends `events`, all in one transaction. */
export type JournalTransaction = (events: readonly JournalEntry[], change: () => boolean) => boolean;

export function sqliteJournalTransaction(db: SqliteHandle, wake: () => void): JournalTransaction {
  return (events, change) => {
    const made = sqliteTransaction(db, () => {
      if (!change()) return false;
      for (const insert of journalInserts(events)) db.prepare(insert.sql).run(...(insert.params as SQLInputValue[]));
      return true;
    });
    if (made && events.length > 0) wake();
    return made;
  };
}
