// The agent's store-and-forward spool: health events and command results wait
// here, on disk, until the broker has acknowledged them, and go out in order.
// Bounded: past maxEntries the oldest entries are dropped (and counted).
// Telemetry never enters the spool; it may be lost, events may not.
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

export class Spool {
  private readonly db: DatabaseSync;
  private readonly maxEntries: number;

  constructor(path: string, maxEntries = 10_000) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.maxEntries = maxEntries;
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, replace_key TEXT);
      CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
  }

  /** Appends an entry; with a replaceKey, older entries with the same key are dropped first. */
  append(topic: string, payload: Uint8Array, replaceKey: string | null = null): number {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      if (replaceKey !== null) this.db.prepare('DELETE FROM spool WHERE replace_key = ?').run(replaceKey);
      const { lastInsertRowid } = this.db.prepare('INSERT INTO spool (topic, payload, replace_key) VALUES (?, ?, ?)').run(topic, payload, replaceKey);
      const overflow = this.size() - this.maxEntries;
      if (overflow > 0) {
        this.db.prepare('DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)').run(overflow);
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
    const row = this.db.prepare('SELECT seq, topic, payload, replace_key FROM spool ORDER BY seq LIMIT 1').get() as
      { seq: number; topic: string; payload: Uint8Array; replace_key: string | null } | undefined;
    return row ? { seq: row.seq, topic: row.topic, payload: row.payload, replaceKey: row.replace_key } : null;
  }

  remove(seq: number): void {
    this.db.prepare('DELETE FROM spool WHERE seq = ?').run(seq);
  }

  size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM spool').get() as { n: number }).n;
  }

  /** A counter that survives restarts (health event sequence numbers, drops). */
  bump(name: string, by = 1): number {
    this.db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value').run(name, by);
    return (this.db.prepare('SELECT value FROM counters WHERE name = ?').get(name) as { value: number }).value;
  }

  counter(name: string): number {
    return (this.db.prepare('SELECT value FROM counters WHERE name = ?').get(name) as { value: number } | undefined)?.value ?? 0;
  }

  close(): void {
    this.db.close();
  }
}
