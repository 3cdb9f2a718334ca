// Adapter: a Telemetry message from the wire into the sinks' flat points.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { TelemetryPoint, TelemetrySample } from '@metalfleet/domain';
import type { Telemetry } from '@metalfleet/proto';

/** The manager's clock is used when the agent's timestamp is missing or far off (> 5 min). */
export function telemetryToSample(nodeId: string, message: Telemetry, receivedAt: Date): TelemetrySample {
  const sent = message.at ? timestampDate(message.at) : null;
  const at = sent && Math.abs(sent.getTime() - receivedAt.getTime()) < 300_000 ? sent : receivedAt;
  const points: TelemetryPoint[] = [
    { gpu: null, metric: 'cpu_load_percent', value: message.cpuLoadPercent },
    { gpu: null, metric: 'memory_used_bytes', value: Number(message.memoryUsedBytes) },
  ];
  for (const g of message.gpus) {
    points.push(
      { gpu: g.index, metric: 'temperature_c', value: g.temperatureC },
      { gpu: g.index, metric: 'memory_temperature_c', value: g.memoryTemperatureC },
      { gpu: g.index, metric: 'power_w', value: g.powerW },
      { gpu: g.index, metric: 'utilization_percent', value: g.utilizationPercent },
      { gpu: g.index, metric: 'memory_used_bytes', value: Number(g.memoryUsedBytes) },
      { gpu: g.index, metric: 'ecc_volatile_uncorrected', value: Number(g.eccVolatileUncorrected) },
    );
  }
  return { nodeId, at, points };
}
