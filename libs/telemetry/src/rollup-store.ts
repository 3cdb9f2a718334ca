// The embedded telemetry store: bounded rollups that serve the last 24 h.
// Samples are aggregated in memory (count, sum, min, max per series and bucket)
// and flushed to SQLite in one transaction; 1-minute buckets are kept for the
// last hour and 15-minute buckets for the last day, so each series holds at
// most 60 + 96 rows whatever the number of samples.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SeriesPoint, TelemetrySample } from '@metalfleet/domain';
import type { SeriesQuery, TelemetryReader, TelemetrySink } from './telemetry-sink.ts';

const minute = 60_000;
const tiers = [
  { name: 'fine', bucketMs: minute, keepMs: 60 * minute },
  { name: 'coarse', bucketMs: 15 * minute, keepMs: 24 * 60 * minute },
] as const;

interface Accumulator { count: number; sum: number; min: number; max: number }

export interface RollupStoreOptions {
  path: string;
  now?: () => Date;
}

export class RollupStore implements TelemetrySink, TelemetryReader {
  readonly name = 'embedded rollups';
  private readonly db: DatabaseSync;
  private readonly now: () => Date;
  private pending = new Map<string, Accumulator>();

  constructor(options: RollupStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new DatabaseSync(options.path);
    this.now = options.now ?? (() => new Date());
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS rollups (
        tier TEXT NOT NULL, node_id TEXT NOT NULL, gpu INTEGER NOT NULL, metric TEXT NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (tier, node_id, gpu, metric, bucket)
      ) STRICT, WITHOUT ROWID;`);
  }

  write(sample: TelemetrySample): void {
    const t = sample.at.getTime();
    for (const p of sample.points) {
      if (!Number.isFinite(p.value)) continue;
      for (const tier of tiers) {
        const key = `${tier.name}\u0000${sample.nodeId}\u0000${p.gpu ?? -1}\u0000${p.metric}\u0000${t - (t % tier.bucketMs)}`;
        const acc = this.pending.get(key);
        if (acc) {
          acc.count += 1;
          acc.sum += p.value;
          acc.min = Math.min(acc.min, p.value);
          acc.max = Math.max(acc.max, p.value);
        } else this.pending.set(key, { count: 1, sum: p.value, min: p.value, max: p.value });
      }
    }
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const upsert = this.db.prepare(`INSERT INTO rollups (tier, node_id, gpu, metric, bucket, count, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (tier, node_id, gpu, metric, bucket) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
        min = min(min, excluded.min), max = max(max, excluded.max)`);
    this.db.exec('BEGIN');
    try {
      for (const [key, a] of batch) {
        const [tier = '', nodeId = '', gpu = '-1', metric = '', bucket = '0'] = key.split('\u0000');
        upsert.run(tier, nodeId, Number(gpu), metric, Number(bucket), a.count, a.sum, a.min, a.max);
      }
      const now = this.now().getTime();
      for (const tier of tiers) this.db.prepare('DELETE FROM rollups WHERE tier = ? AND bucket < ?').run(tier.name, now - tier.keepMs - tier.bucketMs);
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Series from the finest tier that still covers the start of the range. */
  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    await this.flush();
    const age = this.now().getTime() - query.from.getTime();
    const tier = tiers.find((t) => age <= t.keepMs) ?? tiers[tiers.length - 1];
    const rows = this.db.prepare(`SELECT bucket, count, sum, min, max FROM rollups WHERE tier = ? AND node_id = ? AND gpu = ? AND metric = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket`)
      .all(tier?.name ?? 'coarse', query.nodeId, query.gpu ?? -1, query.metric, query.from.getTime() - (tier?.bucketMs ?? 0), query.to.getTime()) as
      Array<{ bucket: number; count: number; sum: number; min: number; max: number }>;
    return rows.map((r) => ({ at: new Date(r.bucket), avg: r.sum / r.count, min: r.min, max: r.max, count: r.count }));
  }

  /** Rows stored, for the size bound. */
  size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM rollups').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    await this.flush();
    this.db.close();
  }
}
