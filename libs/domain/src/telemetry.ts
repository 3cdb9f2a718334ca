// Telemetry as the manager keeps it: one sample per node per interval, flattened
// to (gpu, metric, value) points. gpu = null for node-level metrics.

export const nodeMetrics = ['cpu_load_percent', 'memory_used_bytes'] as const;
export const gpuMetrics = ['temperature_c', 'memory_temperature_c', 'power_w', 'utilization_percent', 'memory_used_bytes', 'ecc_volatile_uncorrected'] as const;
export type TelemetryMetric = (typeof nodeMetrics)[number] | (typeof gpuMetrics)[number];

export interface TelemetryPoint {
  gpu: number | null;
  metric: TelemetryMetric;
  value: number;
}

export interface TelemetrySample {
  nodeId: string;
  at: Date;
  points: TelemetryPoint[];
}

/** One aggregated bucket of a series. */
export interface SeriesPoint {
  at: Date;
  avg: number;
  min: number;
  max: number;
  count: number;
}

export function isTelemetryMetric(value: string): value is TelemetryMetric {
  return (nodeMetrics as readonly string[]).includes(value) || (gpuMetrics as readonly string[]).includes(value);
}
