// The agent's store-and-forward spool: health events and command results wait
// here, on disk, until the broker has acknowledged them, and go out in order.
// Bounded: past maxEntries the oldest entries are dropped (and counted).
// Telemetry never enters the spool; it may be lost, events may not.
//
// One SpoolFile is one SQLite database; a node's Spool is its namespace in it.
// A real agent has one node, so one namespace; a simulator with thousands of
// nodes shares one file instead of opening thousands.
//
// WAL with synchronous=NORMAL survives the agent (or the process) crashing; only an
// OS crash or power loss can lose the last commits, and then the node itself is down.
// A spool found corrupt or empty at open is replaced (spool-open.ts).
import type { DatabaseSync } from 'node:sqlite';
import { openSpoolDatabase, type SpoolRecovery } from './spool-open.ts';

export interface SpoolEntry {
  seq: number;
  topic: string;
  payload: Uint8Array;
  /** Entries of one kind (e.g. "digest") that only the latest instance matters for. */
  replaceKey: string | null;
}

export class SpoolFile {
  readonly db: DatabaseSync;
  /** What was wrong with the file found at open (it was quarantined or replaced), or null. The caller logs it. */
  readonly recovery: SpoolRecovery | null;

  /** `ranBefore`: the agent has state from an earlier run, so a missing file was lost (see openSpoolDatabase). */
  constructor(path: string, now?: () => Date, ranBefore = false) {
    ({ db: this.db, recovery: this.recovery } = openSpoolDatabase(path, now, ranBefore));
  }

  spool(namespace: string, maxEntries = 10_000): Spool {
    return new Spool(this.db, namespace, maxEntries);
  }

  close(): void {
    this.db.close();
  }
}

/** A command the agent has started: what it was, and in which boot of the machine. */
export interface JournalEntry {
  key: string;
  kind: string;
  payload: Uint8Array;
  bootId: string;
}

export class Spool {
  private readonly db: DatabaseSync;
  private readonly ns: string;
  private readonly maxEntries: number;

  constructor(db: DatabaseSync, namespace: string, maxEntries: number) {
    this.db = db;
    this.ns = namespace;
    this.maxEntries = maxEntries;
  }

  /** Appends an entry; with a replaceKey, older entries with the same key are dropped first. */
  append(topic: string, payload: Uint8Array, replaceKey: string | null = null): number {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      if (replaceKey !== null) this.db.prepare('DELETE FROM spool WHERE namespace = ? AND replace_key = ?').run(this.ns, replaceKey);
      const { lastInsertRowid } = this.db.prepare('INSERT INTO spool (namespace, topic, payload, replace_key) VALUES (?, ?, ?, ?)').run(this.ns, topic, payload, replaceKey);
      const overflow = this.size() - this.maxEntries;
      if (overflow > 0) {
        this.db.prepare('DELETE FROM spool WHERE seq IN (SELECT seq FROM spool WHERE namespace = ? ORDER BY seq LIMIT ?)').run(this.ns, overflow);
        this.bump('dropped', overflow);
      }
      this.db.exec('COMMIT');
      return Number(lastInsertRowid);
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** The oldest entry, or null when the spool is empty. */
  head(): SpoolEntry | null {
    const row = this.db.prepare('SELECT seq, topic, payload, replace_key FROM spool WHERE namespace = ? ORDER BY seq LIMIT 1').get(this.ns) as
      { seq: number; topic: string; payload: Uint8Array; replace_key: string | null } | undefined;
    return row ? { seq: row.seq, topic: row.topic, payload: row.payload, replaceKey: row.replace_key } : null;
  }

  remove(seq: number): void {
    this.db.prepare('DELETE FROM spool WHERE seq = ? AND namespace = ?').run(seq, this.ns);
  }

  size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM spool WHERE namespace = ?').get(this.ns) as { n: number }).n;
  }

  /**
   * The command journal (docs/agent-commands.md). Records that `key` (a command
   * id) is started, unless it was before: 'new' when this call recorded it,
   * otherwise 'started' or 'done'. Ids carried out by an agent from before the
   * journal (the `executed` table) count as done.
   */
  startCommand(entry: JournalEntry, at: Date): 'new' | 'started' | 'done' {
    const legacy = this.db.prepare('SELECT 1 FROM executed WHERE namespace = ? AND key = ?').get(this.ns, entry.key);
    if (legacy) return 'done';
    const inserted = this.db.prepare('INSERT INTO command_journal (namespace, key, kind, payload, boot_id, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(this.ns, entry.key, entry.kind, entry.payload, entry.bootId, at.getTime()).changes > 0;
    if (inserted) return 'new';
    const row = this.db.prepare('SELECT done FROM command_journal WHERE namespace = ? AND key = ?').get(this.ns, entry.key) as { done: number };
    return row.done ? 'done' : 'started';
  }

  /** What the journal knows of `key` (read only): 'started', 'done', or null when it was never started. */
  commandRecorded(key: string): 'started' | 'done' | null {
    if (this.db.prepare('SELECT 1 FROM executed WHERE namespace = ? AND key = ?').get(this.ns, key)) return 'done';
    const row = this.db.prepare('SELECT done FROM command_journal WHERE namespace = ? AND key = ?').get(this.ns, key) as { done: number } | undefined;
    return row ? (row.done ? 'done' : 'started') : null;
  }

  /** Records that a started command is over (its result is in the spool, or it needs nothing more from this agent). */
  finishCommand(key: string): void {
    this.db.prepare('UPDATE command_journal SET done = 1 WHERE namespace = ? AND key = ?').run(this.ns, key);
  }

  /** Commands started and not finished: what a crash (or a reboot) interrupted, oldest first. */
  unfinishedCommands(): JournalEntry[] {
    const rows = this.db.prepare('SELECT key, kind, payload, boot_id FROM command_journal WHERE namespace = ? AND done = 0 ORDER BY at, key').all(this.ns) as
      Array<{ key: string; kind: string; payload: Uint8Array; boot_id: string }>;
    return rows.map((r) => ({ key: r.key, kind: r.kind, payload: r.payload, bootId: r.boot_id }));
  }

  /**
   * When a spool before this one was lost (corrupt or empty), and with it the
   * record of which commands had run; null when this spool has always been kept.
   */
  journalLostAt(): Date | null {
    const row = this.db.prepare("SELECT value FROM meta WHERE name = 'journal-lost-at'").get() as { value: string } | undefined;
    return row ? new Date(Number(row.value)) : null;
  }

  /** A counter that survives restarts (health event sequence numbers, drops). */
  bump(name: string, by = 1): number {
    this.db.prepare('INSERT INTO counters (namespace, name, value) VALUES (?, ?, ?) ON CONFLICT (namespace, name) DO UPDATE SET value = value + excluded.value').run(this.ns, name, by);
    return this.counter(name);
  }

  counter(name: string): number {
    return (this.db.prepare('SELECT value FROM counters WHERE namespace = ? AND name = ?').get(this.ns, name) as { value: number } | undefined)?.value ?? 0;
  }
}
