// Where telemetry goes: the embedded rollup store (always; it serves the
// dashboard's charts) and InfluxDB when configured.
import type { SeriesPoint, TelemetryMetric, TelemetrySample } from '@metalfleet/domain';

export interface SeriesQuery {
  nodeId: string;
  metric: TelemetryMetric;
  gpu: number | null;
  from: Date;
  to: Date;
}

export interface TelemetrySink {
  readonly name: string;
  /** Must not block ingest: sinks buffer and write in batches. */
  write(sample: TelemetrySample): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface TelemetryReader {
  series(query: SeriesQuery): Promise<SeriesPoint[]>;
}
