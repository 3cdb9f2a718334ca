// The embedded telemetry store: bounded rollups that serve the last 24 h.
// Samples are aggregated in memory (count, sum, min, max per series and bucket,
// in typed arrays indexed by series, so ingest costs a few array writes per
// point) and flushed to SQLite in chunks that never hold the event loop long.
// 1-minute buckets serve the last hour and 15-minute buckets the last day;
// each tier keeps a few minutes more than it serves (see readSlackMs), so each
// series holds at most 67 + 99 rows. Past `maxSeries` series new ones are not
// kept (InfluxDB is the store for fleets that large).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { gpuMetrics, nodeMetrics, type SeriesPoint, type TelemetryMetric, type TelemetrySample } from '@metalfleet/domain';
import type { SeriesQuery, TelemetryReader, TelemetrySink } from './telemetry-sink.ts';

const minute = 60_000;
// A query's range is computed by its caller (the route: from = now - 1 h), and
// the store reads its own clock later, after flushing. Choosing the tier on
// "age <= what the tier serves" put a last-hour query a few milliseconds past
// the fine tier, so it came back in 15-minute buckets — one GPU's series at one
// resolution and the next GPU's at the other on the same chart. Each tier
// therefore answers ranges starting up to readSlackMs past what it serves, and
// keeps that much more data, so a range the API offers always gets one tier.
const readSlackMs = 5 * minute;
const tiers = [
  { name: 'fine', bucketMs: minute, keepMs: 60 * minute },
  { name: 'coarse', bucketMs: 15 * minute, keepMs: 24 * 60 * minute },
] as const;

const metrics: readonly TelemetryMetric[] = [...new Set<TelemetryMetric>([...nodeMetrics, ...gpuMetrics])];
const metricIndex = new Map(metrics.map((m, i) => [m, i]));
const maxGpus = 16;
const slotsPerNode = (maxGpus + 1) * metrics.length; // gpu -1 (node level) .. 15
const chunkRows = 5000;
// Finished buckets are written at every flush. Buckets still filling are written
// when the store is read or closed, and the 15-minute ones also every 5 minutes,
// so a crash loses at most a few minutes of the day's rollups.
const partialFlushMs = 5 * minute;

/** Per tier: the bucket each series is accumulating and its running aggregates. */
class TierAccumulator {
  bucket = new Float64Array(1024);
  count = new Float64Array(1024);
  sum = new Float64Array(1024);
  min = new Float64Array(1024);
  max = new Float64Array(1024);

  grow(size: number): void {
    if (size <= this.bucket.length) return;
    const next = Math.max(size, this.bucket.length * 2);
    for (const key of ['bucket', 'count', 'sum', 'min', 'max'] as const) {
      const bigger = new Float64Array(next);
      bigger.set(this[key]);
      this[key] = bigger;
    }
  }
}

interface Row { tier: string; series: number; bucket: number; count: number; sum: number; min: number; max: number }

export interface RollupStoreOptions {
  path: string;
  now?: () => Date;
  maxSeries?: number;
}

export class RollupStore implements TelemetrySink, TelemetryReader {
  readonly name = 'embedded rollups';
  private readonly db: DatabaseSync;
  private readonly now: () => Date;
  private readonly maxSeries: number;
  private readonly slots = new Map<string, Int32Array>();
  private readonly seriesNode: string[] = [];
  private readonly seriesGpu: number[] = [];
  private readonly seriesMetric: TelemetryMetric[] = [];
  private readonly acc = tiers.map(() => new TierAccumulator());
  private dirty: number[] = [];
  private dirtyFlag = new Uint8Array(1024);
  private completed: Row[] = [];
  private flushing: Promise<void> | null = null;
  private lastPrune = 0;
  private lastPartialFlush = 0;
  /** Points not kept because the store reached maxSeries. */
  refused = 0;

  constructor(options: RollupStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new DatabaseSync(options.path);
    this.now = options.now ?? (() => new Date());
    this.maxSeries = options.maxSeries ?? 500_000;
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS rollups (
        tier TEXT NOT NULL, node_id TEXT NOT NULL, gpu INTEGER NOT NULL, metric TEXT NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (tier, node_id, gpu, metric, bucket)
      ) STRICT, WITHOUT ROWID;`);
  }

  private slotsOf(nodeId: string): Int32Array {
    let slots = this.slots.get(nodeId);
    if (!slots) {
      slots = new Int32Array(slotsPerNode).fill(-1);
      this.slots.set(nodeId, slots);
    }
    return slots;
  }

  private seriesId(slots: Int32Array, nodeId: string, gpu: number | null, metric: TelemetryMetric): number {
    const g = gpu ?? -1;
    if (g < -1 || g >= maxGpus) return -1;
    const slot = (g + 1) * metrics.length + (metricIndex.get(metric) ?? 0);
    let id = slots[slot] ?? -1;
    if (id < 0) {
      if (this.seriesNode.length >= this.maxSeries) return -1;
      id = this.seriesNode.length;
      this.seriesNode.push(nodeId);
      this.seriesGpu.push(g);
      this.seriesMetric.push(metric);
      for (const a of this.acc) {
        a.grow(id + 1);
        a.bucket[id] = -1;
      }
      if (id >= this.dirtyFlag.length) {
        const bigger = new Uint8Array(this.dirtyFlag.length * 2);
        bigger.set(this.dirtyFlag);
        this.dirtyFlag = bigger;
      }
      slots[slot] = id;
    }
    return id;
  }

  write(sample: TelemetrySample): void {
    const t = sample.at.getTime();
    const buckets = tiers.map((tier) => t - (t % tier.bucketMs));
    const slots = this.slotsOf(sample.nodeId);
    for (const p of sample.points) {
      if (!Number.isFinite(p.value)) continue;
      const id = this.seriesId(slots, sample.nodeId, p.gpu, p.metric);
      if (id < 0) {
        this.refused += 1;
        continue;
      }
      for (let i = 0; i < tiers.length; i += 1) {
        const a = this.acc[i] as TierAccumulator;
        const bucket = buckets[i] as number;
        if (a.bucket[id] !== bucket) {
          if ((a.count[id] ?? 0) > 0) this.completed.push(this.takeRow(i, id));
          a.bucket[id] = bucket;
        }
        if (a.count[id] === 0) {
          a.min[id] = p.value;
          a.max[id] = p.value;
        } else {
          if (p.value < (a.min[id] as number)) a.min[id] = p.value;
          if (p.value > (a.max[id] as number)) a.max[id] = p.value;
        }
        a.count[id] = (a.count[id] as number) + 1;
        a.sum[id] = (a.sum[id] as number) + p.value;
      }
      if (this.dirtyFlag[id] !== 1) {
        this.dirtyFlag[id] = 1;
        this.dirty.push(id);
      }
    }
  }

  /** The aggregate so far, reset so the next flush writes only what came after (the database adds them up). */
  private takeRow(tierIndex: number, id: number): Row {
    const a = this.acc[tierIndex] as TierAccumulator;
    const row = { tier: (tiers[tierIndex] as (typeof tiers)[number]).name, series: id, bucket: a.bucket[id] as number, count: a.count[id] as number, sum: a.sum[id] as number, min: a.min[id] as number, max: a.max[id] as number };
    a.count[id] = 0;
    a.sum[id] = 0;
    return row;
  }

  flush(): Promise<void> {
    return this.flushRows(false);
  }

  private flushRows(force: boolean): Promise<void> {
    this.flushing ??= this.flushOnce(force).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(force: boolean): Promise<void> {
    const rows = this.completed;
    this.completed = [];
    const now = this.now().getTime();
    const periodic = !force && now - this.lastPartialFlush >= partialFlushMs;
    if (force) {
      for (let id = 0; id < this.seriesNode.length; id += 1) {
        for (let i = 0; i < tiers.length; i += 1) if (((this.acc[i] as TierAccumulator).count[id] ?? 0) > 0) rows.push(this.takeRow(i, id));
      }
    } else if (periodic) {
      this.lastPartialFlush = now;
      const coarse = tiers.length - 1;
      for (const id of this.dirty) if (((this.acc[coarse] as TierAccumulator).count[id] ?? 0) > 0) rows.push(this.takeRow(coarse, id));
    }
    if (force || periodic) {
      for (const id of this.dirty) this.dirtyFlag[id] = 0;
      this.dirty = [];
    }
    const upsert = this.db.prepare(`INSERT INTO rollups (tier, node_id, gpu, metric, bucket, count, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (tier, node_id, gpu, metric, bucket) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
        min = min(min, excluded.min), max = max(max, excluded.max)`);
    for (let start = 0; start < rows.length; start += chunkRows) {
      this.db.exec('BEGIN');
      try {
        for (const r of rows.slice(start, start + chunkRows)) {
          upsert.run(r.tier, this.seriesNode[r.series] ?? '', this.seriesGpu[r.series] ?? -1, this.seriesMetric[r.series] ?? '', r.bucket, r.count, r.sum, r.min, r.max);
        }
        this.db.exec('COMMIT');
      } catch (error) {
        this.db.exec('ROLLBACK');
        throw error;
      }
      if (start + chunkRows < rows.length) await new Promise((resolve) => setImmediate(resolve)); // let ingest run between chunks
    }
    if (now - this.lastPrune >= minute) {
      this.lastPrune = now;
      for (const tier of tiers) this.db.prepare('DELETE FROM rollups WHERE tier = ? AND bucket < ?').run(tier.name, now - tier.keepMs - readSlackMs - tier.bucketMs);
    }
  }

  /** Series from the finest tier that still covers the start of the range (all of it from that one tier). */
  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    await this.flushing;
    await this.flushRows(true);
    const age = this.now().getTime() - query.from.getTime();
    const tier = tiers.find((t) => age <= t.keepMs + readSlackMs) ?? tiers[tiers.length - 1];
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
    await this.flushing;
    await this.flushRows(true);
    this.db.close();
  }
}
