// Telemetry into InfluxDB 1.x (v1 HTTP API) through the `influx` client.
// Writes are batched; a failed batch is kept and retried, up to a bound past
// which the oldest points are dropped (and counted) rather than growing forever.
import { InfluxDB, escape, type IPoint } from 'influx';
import type { SeriesPoint, TelemetrySample } from '@metalfleet/domain';
import type { SeriesQuery, TelemetryReader, TelemetrySink } from './telemetry-sink.ts';

export interface InfluxSinkOptions {
  /** e.g. http://127.0.0.1:8086 */
  url: string;
  database: string;
  batchSize?: number;
  maxBufferedPoints?: number;
  onError?: (error: Error) => void;
}

export class InfluxSink implements TelemetrySink, TelemetryReader {
  readonly name = 'influxdb';
  private readonly influx: InfluxDB;
  private readonly database: string;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly onError: (error: Error) => void;
  private buffer: IPoint[] = [];
  private flushing: Promise<void> | null = null;
  dropped = 0;

  constructor(options: InfluxSinkOptions) {
    const url = new URL(options.url);
    this.influx = new InfluxDB({ host: url.hostname, port: Number(url.port || 8086), protocol: url.protocol === 'https:' ? 'https' : 'http', database: options.database });
    this.database = options.database;
    this.batchSize = options.batchSize ?? 5000;
    this.maxBuffered = options.maxBufferedPoints ?? 1_000_000;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Creates the database when it does not exist yet. */
  async init(): Promise<void> {
    const names = await this.influx.getDatabaseNames();
    if (!names.includes(this.database)) await this.influx.createDatabase(this.database);
  }

  write(sample: TelemetrySample): void {
    const byGpu = new Map<number | null, Record<string, number>>();
    for (const p of sample.points) {
      if (!Number.isFinite(p.value)) continue;
      const fields = byGpu.get(p.gpu) ?? {};
      fields[p.metric] = p.value;
      byGpu.set(p.gpu, fields);
    }
    for (const [gpu, fields] of byGpu) {
      this.buffer.push({
        measurement: gpu === null ? 'node' : 'gpu',
        tags: gpu === null ? { node: sample.nodeId } : { node: sample.nodeId, gpu: String(gpu) },
        fields,
        timestamp: sample.at,
      });
    }
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.batchSize) void this.flush();
  }

  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        await this.influx.writePoints(batch, { precision: 'ms' });
      } catch (error) {
        this.onError(error as Error);
        return; // kept in the buffer for the next flush
      }
      this.buffer.splice(0, batch.length);
    }
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    const measurement = query.gpu === null ? 'node' : 'gpu';
    const gpuClause = query.gpu === null ? '' : ` AND "gpu" = ${escape.stringLit(String(query.gpu))}`;
    const field = escape.quoted(query.metric);
    const rows = await this.influx.query<{ time: Date; avg: number | null; min: number | null; max: number | null; count: number }>(
      `SELECT mean(${field}) AS avg, min(${field}) AS min, max(${field}) AS max, count(${field}) AS count FROM "${measurement}"
       WHERE "node" = ${escape.stringLit(query.nodeId)}${gpuClause} AND time >= ${query.from.getTime()}ms AND time <= ${query.to.getTime()}ms
       GROUP BY time(1m) fill(none)`,
    );
    return rows.filter((r) => r.count > 0).map((r) => ({ at: new Date(r.time), avg: r.avg ?? 0, min: r.min ?? 0, max: r.max ?? 0, count: r.count }));
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
