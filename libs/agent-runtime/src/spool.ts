// The agent's store-and-forward spool: health events and command results wait
// here, on disk, until the broker has acknowledged them, and go out in order.
// Bounded: past maxEntries the oldest entries are dropped (and counted).
// Telemetry never enters the spool; it may be lost, events may not.
//
// One SpoolFile is one SQLite database; a node's Spool is its namespace in it.
// A real agent has one node, so one namespace; a simulator with thousands of
// nodes shares one file instead of opening thousands.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface SpoolEntry {
  seq: number;
  topic: string;
  payload: Uint8Array;
  /** Entries of one kind (e.g. "digest") that only the latest instance matters for. */
  replaceKey: string | null;
}

export class SpoolFile {
  readonly db: DatabaseSync;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    // WAL with synchronous=NORMAL survives the agent (or the process) crashing; only an
    // OS crash or power loss can lose the last commits, and then the node itself is down.
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, replace_key TEXT);
      CREATE INDEX IF NOT EXISTS spool_by_namespace ON spool (namespace, seq);
      CREATE TABLE IF NOT EXISTS counters (namespace TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (namespace, name));
      CREATE TABLE IF NOT EXISTS executed (namespace TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (namespace, key));`);
  }

  spool(namespace: string, maxEntries = 10_000): Spool {
    return new Spool(this.db, namespace, maxEntries);
  }

  close(): void {
    this.db.close();
  }
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
   * Records that `key` (a command id) is being carried out; false when it was
   * already: a redelivered command is then not executed twice.
   */
  firstDelivery(key: string, at: Date): boolean {
    return this.db.prepare('INSERT INTO executed (namespace, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(this.ns, key, at.getTime()).changes > 0;
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
